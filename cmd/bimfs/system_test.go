package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bimfs/bimfs/mountopts"
	bimemu "github.com/bimfs/bimfs/remote/bim360/emulator"
)

func needFUSE(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// demoProjectFiles is a writable folder of the demo's BIM 360 account.
func demoProjectFiles(mnt string) string {
	return filepath.Join(mnt, "bim360-demo", "Demo Construction Co", "Tower A", "Project Files")
}

// cleanupMount unmounts mnt at the end of a test if it is still mounted and
// waits for the process behind it.
func cleanupMount(t *testing.T, home, mnt string) {
	t.Cleanup(func() {
		if !isMounted(mnt) {
			return
		}
		if out, code := run(t, home, "unmount", mnt); code != 0 {
			t.Logf("cleanup unmount: %s", out)
			exec.Command("umount", "-l", mnt).Run()
		}
	})
}

// statusJSON runs `bimfs status --json` and decodes it.
func statusJSON(t *testing.T, home string, args ...string) (statusReport, int) {
	t.Helper()
	out, code := run(t, home, append([]string{"status", "--json"}, args...)...)
	var r statusReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return r, code
}

// TestDaemonReadiness: --daemon returns 0 only once the mount serves
// requests, and failures before readiness come back with their message
// and exit status.
func TestDaemonReadiness(t *testing.T) {
	needFUSE(t)
	home, mnt := t.TempDir(), t.TempDir()
	cleanupMount(t, home, mnt)
	start := time.Now()
	out, code := run(t, home, "mount", "--daemon", "--demo", mnt)
	if code != 0 {
		t.Fatalf("mount --daemon: %d %s", code, out)
	}
	// No polling: the mount must be there when the command returns.
	if !isMounted(mnt) {
		t.Fatal("mount --daemon returned before the mount was ready")
	}
	if ents, err := os.ReadDir(mnt); err != nil || len(ents) != 2 {
		t.Fatalf("readdir: %v %v", ents, err)
	}
	t.Logf("mount --daemon ready after %v", time.Since(start).Round(time.Millisecond))
	logs, _ := filepath.Glob(filepath.Join(home, "run", "bimfs", "*.log"))
	if len(logs) != 1 || !strings.Contains(out, logs[0]) {
		t.Fatalf("the default daemon log %v is not named in %q", logs, out)
	}

	// A second mount on the same directory: refused in the foreground.
	if out, code := run(t, home, "mount", "--daemon", "--demo", mnt); code != exitUsage || !strings.Contains(out, "busy") {
		t.Fatalf("second mount: %d %s", code, out)
	}
	// An account that is not logged in fails in the background process;
	// the message and exit status 1 reach the caller.
	cfg := writeConfig(t, home, "[account work]\nservice = bim360\nbase_url = http://127.0.0.1:9\nclient_id = x\n")
	mnt2 := t.TempDir()
	out, code = run(t, home, "mount", "--daemon", "--config", cfg, mnt2)
	if code != 1 || !strings.Contains(out, "not logged in") || !strings.Contains(out, "bimfs login work") {
		t.Fatalf("failing daemon: %d %s", code, out)
	}
	if isMounted(mnt2) {
		t.Fatal("the failed mount is mounted")
	}

	out, code = run(t, home, "unmount", mnt)
	if code != 0 || isMounted(mnt) {
		t.Fatalf("unmount: %d %s", code, out)
	}
	if out, code := run(t, home, "unmount", mnt); code != 1 || !strings.Contains(out, "not mounted") {
		t.Fatalf("unmount again: %d %s", code, out)
	}
	// The temporary demo cache is gone with the mount.
	if left, _ := filepath.Glob(filepath.Join(os.TempDir(), "bimfs-demo-cache-*")); len(left) > 0 {
		for _, d := range left {
			if b, err := os.ReadFile(filepath.Join(d, cacheLockName)); err == nil && strings.Contains(string(b), mnt) {
				t.Fatalf("demo cache %s left behind", d)
			}
		}
	}
}

// TestFstabMount mounts with mount(8) using the README's /etc/fstab line
// (with this test's config and mountpoint): mount(8) runs
// /sbin/mount.fuse.bimfs (a symlink to bimfs), which must return once the
// mount is ready; writes answer EROFS (the line says ro); umount(8) ends
// the process. The demo works the same way without an account.
func TestFstabMount(t *testing.T) {
	needFUSE(t)
	if _, err := exec.LookPath("mount"); err != nil {
		t.Skip("no mount(8)")
	}
	const helper = "/sbin/mount.fuse.bimfs"
	if _, err := os.Lstat(helper); err == nil {
		t.Skipf("%s exists already; this test installs its own", helper)
	}
	if err := os.Symlink(bimfsBin, helper); err != nil {
		t.Skipf("cannot install %s: %v", helper, err)
	}
	defer os.Remove(helper)

	home, mnt := t.TempDir(), t.TempDir()
	cleanupMount(t, home, mnt)
	cfg := emulatorAccount(t, home)
	cache := filepath.Join(home, "cache")
	fields := strings.Fields(readmeBlock(t, "bimfs  /mnt/bim  fuse.bimfs")[0])
	if len(fields) != 6 || fields[2] != "fuse.bimfs" {
		t.Fatalf("README fstab line: %q", fields)
	}
	fstabOpts := strings.Replace(fields[3], "config=/etc/bimfs/config", "config="+cfg, 1) + ",cache_dir=" + cache
	mount := func(source, opts string) (string, error) {
		cmd := exec.Command("mount", "-t", fields[2], source, mnt, "-o", opts)
		cmd.Env = testEnv(home)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := mount(fields[0], fstabOpts)
	if err != nil {
		t.Fatalf("mount -t fuse.bimfs: %v\n%s", err, out)
	}
	if !isMounted(mnt) {
		t.Fatal("mount(8) returned before the mount was ready")
	}
	mounts, _ := os.ReadFile("/proc/self/mounts")
	if !strings.Contains(string(mounts), "bimfs "+mnt+" fuse.bimfs ") {
		t.Fatalf("/proc/self/mounts lacks the fuse.bimfs entry:\n%s", mounts)
	}
	folder := filepath.Join(mnt, "work", "Hub", "Project", "Project Files")
	if b, err := os.ReadFile(filepath.Join(folder, "plan.pdf")); err != nil || string(b) != "%PDF-1.4 plan" {
		t.Fatalf("read on a read-only mount: %q %v", b, err)
	}
	err = os.WriteFile(filepath.Join(folder, "x.txt"), []byte("x"), 0o644)
	if !errors.Is(err, syscall.EROFS) {
		t.Fatalf("write on a read-only mount: %v, want EROFS", err)
	}
	if err := os.Mkdir(filepath.Join(folder, "d"), 0o755); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("mkdir on a read-only mount: %v, want EROFS", err)
	}
	r, _ := statusJSON(t, home, "--config", cfg)
	if len(r.Mounts) != 1 || !r.Mounts[0].ReadOnly || r.Mounts[0].Accounts[0].Writable || r.Mounts[0].CacheDir != cache {
		t.Fatalf("status of the read-only mount: %+v", r.Mounts)
	}
	pid := r.Mounts[0].PID
	if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v %s", err, out)
	}
	waitExit(t, pid)

	// The demo from the README's example, and a bad option, which fails
	// mount(8) with bimfs's message.
	if out, err := mount("demo", "demo,ro"); err != nil || !isMounted(mnt) {
		t.Fatalf("demo: %v %s", err, out)
	}
	if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v %s", err, out)
	}
	out, err = mount("demo", "demo,frobnicate,cache_dir="+cache)
	if err == nil || !strings.Contains(out, `unknown option "frobnicate"`) {
		t.Fatalf("bad option: %v %s", err, out)
	}
	if isMounted(mnt) {
		t.Fatal("mounted despite a bad option")
	}
}

// TestSystemdServiceUnit runs the README's bimfs.service the way systemd
// does (Type=notify: ExecStart in the foreground with NOTIFY_SOCKET, then
// ExecStop), with this test's config and mountpoint.
func TestSystemdServiceUnit(t *testing.T) {
	needFUSE(t)
	home, mnt := t.TempDir(), t.TempDir()
	cleanupMount(t, home, mnt)
	cfg := emulatorAccount(t, home)
	unit := readmeBlock(t, "# /etc/systemd/system/bimfs.service")
	var start, stop []string
	notify := false
	for _, line := range unit {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "Type":
			notify = v == "notify"
		case "ExecStart", "ExecStop":
			v = strings.ReplaceAll(v, "/etc/bimfs/config", cfg)
			v = strings.ReplaceAll(v, "/mnt/bim", mnt)
			args := strings.Fields(v)[1:] // the binary under test instead of /usr/local/bin/bimfs
			if k == "ExecStart" {
				start = args
			} else {
				stop = args
			}
		}
	}
	if !notify || len(start) == 0 || len(stop) == 0 {
		t.Fatalf("README unit: notify=%v start=%q stop=%q", notify, start, stop)
	}
	sockPath := filepath.Join(home, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cmd := exec.Command(bimfsBin, start...)
	cmd.Env = append(testEnv(home), "NOTIFY_SOCKET="+sockPath)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()
	conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "READY=1") || !isMounted(mnt) {
		t.Fatalf("readiness: %q %v mounted=%v\n%s", buf[:n], err, isMounted(mnt), log.String())
	}
	if _, err := os.Stat(filepath.Join(mnt, "work", "Hub", "Project")); err != nil {
		t.Fatal(err)
	}
	if out, code := run(t, home, stop...); code != 0 {
		t.Fatalf("ExecStop: %d %s", code, out)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("ExecStart exited with %v\n%s", err, log.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the service did not stop")
	}
	// --log-format json from the unit: every line is JSON.
	for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Fatalf("log line is not JSON: %q", line)
		}
	}
}

// waitExit waits for process pid to end.
func waitExit(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("bimfs pid %d still runs", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestUnmountWaitsForUploads writes a file through a slow demo server with
// asynchronous writeback: status shows it uploading from the live mount,
// `unmount --wait` returns only after the upload, and nothing is left staged.
func TestUnmountWaitsForUploads(t *testing.T) {
	needFUSE(t)
	home, mnt := t.TempDir(), t.TempDir()
	cleanupMount(t, home, mnt)
	cache := filepath.Join(home, "cache")
	// 8 MiB at 1 MiB/s: the upload outlasts the status checks below by
	// several seconds, so unmount --wait really waits.
	out, code := run(t, home, "mount", "--daemon", "--demo", "--demo-rate", "1MiB", "-o", "writeback=async,cache_dir="+cache, mnt)
	if code != 0 {
		t.Fatalf("mount: %d %s", code, out)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 8<<20/16)
	if err := os.WriteFile(filepath.Join(demoProjectFiles(mnt), "model.ifc"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	r, code := statusJSON(t, home)
	if code != 0 || len(r.Mounts) != 1 {
		t.Fatalf("status: %d %+v", code, r)
	}
	m := r.Mounts[0]
	if len(m.Accounts) != 2 || m.Accounts[0].Name != "bim360-demo" || m.Accounts[1].Name != "bimcloud-demo" || m.Mountpoint != mnt || m.CacheDir != cache {
		t.Fatalf("mount status: %+v", m)
	}
	if len(m.Uploads) != 1 || !m.Uploads[0].InFlight() || m.Uploads[0].Size != int64(len(data)) ||
		m.Uploads[0].Folder != "bim360-demo/Demo Construction Co/Tower A/Project Files" || m.Uploads[0].Name != "model.ifc" {
		t.Fatalf("uploads: %+v", m.Uploads)
	}
	if m.Cache == nil || len(m.API) == 0 {
		t.Fatalf("no cache or API figures: %+v", m)
	}
	// --watch draws a progress bar per running upload until interrupted.
	watch := exec.Command(bimfsBin, "status", "--watch", "--interval", "200ms")
	watch.Env = testEnv(home)
	var screen bytes.Buffer
	watch.Stdout, watch.Stderr = &screen, &screen
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	watch.Process.Signal(syscall.SIGINT)
	if err := watch.Wait(); err != nil {
		t.Fatalf("status --watch: %v\n%s", err, screen.String())
	}
	if !regexp.MustCompile(`\[[#-]{30}\] +\d+% (pending|uploading) .*/Project Files/model\.ifc`).MatchString(screen.String()) ||
		strings.Count(screen.String(), "\033[2J") < 3 {
		t.Fatalf("status --watch drew:\n%q", screen.String())
	}

	start := time.Now()
	out, code = run(t, home, "unmount", "--wait", mnt)
	if code != 0 || isMounted(mnt) || !strings.Contains(out, "waiting for 1 upload") {
		t.Fatalf("unmount --wait: %d %s", code, out)
	}
	t.Logf("unmount --wait took %v", time.Since(start).Round(time.Millisecond))
	// Nothing is left staged: the upload completed before the unmount.
	r, code = statusJSON(t, home, "--cache-dir", cache)
	if code != 0 || len(r.Staged) != 1 || len(r.Staged[0].Uploads) != 0 {
		t.Fatalf("staged after unmount --wait: %d %+v", code, r.Staged)
	}
}

// TestUnmountReportsPending unmounts without --wait while an upload runs
// (async mode: the close confirmed the content): the upload is reported,
// stays staged, and status then shows it as pending, to be resumed by the
// next mount of that cache; nothing failed, so the exit status is 0.
func TestUnmountReportsPending(t *testing.T) {
	needFUSE(t)
	home, mnt := t.TempDir(), t.TempDir()
	cleanupMount(t, home, mnt)
	cache := filepath.Join(home, "cache")
	if out, code := run(t, home, "mount", "--daemon", "--demo", "--demo-rate", "1MiB", "-o", "writeback=async,cache_dir="+cache, mnt); code != 0 {
		t.Fatalf("mount: %d %s", code, out)
	}
	data := bytes.Repeat([]byte("x"), 16<<20)
	if err := os.WriteFile(filepath.Join(demoProjectFiles(mnt), "slow.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := run(t, home, "unmount", mnt)
	if code != 0 || !strings.Contains(out, "1 upload(s) not finished") || !strings.Contains(out, "slow.bin") {
		t.Fatalf("unmount: %d %s", code, out)
	}
	r, code := statusJSON(t, home, "--cache-dir", cache)
	if code != 0 || len(r.Staged) != 1 || len(r.Staged[0].Uploads) != 1 || r.Staged[0].Uploads[0].State != "pending" {
		t.Fatalf("status after unmount: %d %+v", code, r.Staged)
	}
	out, code = run(t, home, "status", "--cache-dir", cache)
	if code != 0 || !strings.Contains(out, "pending") || !strings.Contains(out, "bim360-demo/slow.bin") {
		t.Fatalf("status text: %d %s", code, out)
	}
}

// emulatorAccount starts a BIM 360 emulator with one project and writes a
// config whose account "work" reaches it with client credentials.
func emulatorAccount(t *testing.T, home string) string {
	t.Helper()
	emu := bimemu.New(bimemu.Options{})
	t.Cleanup(emu.Close)
	hub := emu.AddHub("Hub")
	project := emu.AddProject(hub, "Project")
	emu.AddFile(project, emu.TopFolder(project, "Project Files"), "plan.pdf", bimemu.Bytes([]byte("%PDF-1.4 plan")))
	secret := filepath.Join(home, "secret")
	os.WriteFile(secret, []byte(emu.Options().ClientSecret), 0o600)
	return writeConfig(t, home, fmt.Sprintf("[account work]\nservice = bim360\nbase_url = %s\nclient_id = %s\nclient_secret_file = %s\ntwo_legged = true\n",
		emu.URL, emu.Options().ClientID, secret))
}

// readmeBlock returns the lines of README.md from the first one starting
// with prefix up to the end of its code block.
func readmeBlock(t *testing.T, prefix string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if len(out) == 0 && !strings.HasPrefix(line, prefix) {
			continue
		}
		if strings.HasPrefix(line, "```") {
			break
		}
		out = append(out, line)
	}
	if len(out) == 0 {
		t.Fatalf("README.md has no line starting with %q", prefix)
	}
	return out
}

// TestTwoDefaultMounts mounts one configured account twice with default
// cache directories: each mountpoint gets its own. A third mount forced
// onto the first one's cache is refused, naming the holder.
func TestTwoDefaultMounts(t *testing.T) {
	needFUSE(t)
	home := t.TempDir()
	cfg := emulatorAccount(t, home)
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	cleanupMount(t, home, a)
	cleanupMount(t, home, b)
	cleanupMount(t, home, c)
	for _, mnt := range []string{a, b} {
		if out, code := run(t, home, "mount", "--daemon", "--config", cfg, mnt); code != 0 {
			t.Fatalf("mount %s: %d %s", mnt, code, out)
		}
		if _, err := os.Stat(filepath.Join(mnt, "work", "Hub", "Project")); err != nil {
			t.Fatal(err)
		}
	}
	r, _ := statusJSON(t, home, "--config", cfg)
	if len(r.Mounts) != 2 || r.Mounts[0].CacheDir == r.Mounts[1].CacheDir {
		t.Fatalf("mounts: %+v", r.Mounts)
	}
	for _, m := range r.Mounts {
		if !strings.HasPrefix(m.CacheDir, filepath.Join(home, ".cache", "bimfs", "mounts")+"/") ||
			!strings.HasSuffix(m.CacheDir, mountopts.MountKey(m.Mountpoint)) {
			t.Errorf("cache dir of %s: %s", m.Mountpoint, m.CacheDir)
		}
	}
	out, code := run(t, home, "mount", "--daemon", "--config", cfg, "-o", "cache_dir="+r.Mounts[0].CacheDir, c)
	want := fmt.Sprintf("in use by bimfs pid %d mounted on %s", r.Mounts[0].PID, r.Mounts[0].Mountpoint)
	if code != 1 || !strings.Contains(out, want) || !strings.Contains(out, "-o cache_dir=") {
		t.Fatalf("shared cache: %d %s (want %q)", code, out, want)
	}
}

// TestNonEmptyMountpoint refuses to hide files under a mount unless asked.
func TestNonEmptyMountpoint(t *testing.T) {
	needFUSE(t)
	home, mnt := t.TempDir(), t.TempDir()
	cleanupMount(t, home, mnt)
	os.WriteFile(filepath.Join(mnt, "keep.txt"), []byte("mine"), 0o644)
	out, code := run(t, home, "mount", "--demo", mnt)
	if code != exitUsage || !strings.Contains(out, "not empty") || !strings.Contains(out, "-o nonempty") || !strings.Contains(out, "--allow-non-empty") {
		t.Fatalf("non-empty mountpoint: %d %s", code, out)
	}
	for _, args := range [][]string{{"--allow-non-empty"}, {"-o", "nonempty"}} {
		out, code := run(t, home, append(append([]string{"mount", "--daemon", "--demo"}, args...), mnt)...)
		if code != 0 {
			t.Fatalf("%v: %d %s", args, code, out)
		}
		if _, err := os.Stat(filepath.Join(mnt, "bim360-demo")); err != nil {
			t.Fatal(err)
		}
		if out, code := run(t, home, "unmount", mnt); code != 0 {
			t.Fatalf("unmount: %s", out)
		}
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "keep.txt")); err != nil || string(b) != "mine" {
		t.Fatalf("the hidden file: %q %v", b, err)
	}
}

// TestOtherUsersGetOnlyWhatModesAllow mounts with allow_other and a umask
// and tries as another local user (nobody): with umask=022 it may read but
// not delete; with umask=077 it may do neither. The kernel enforces the
// shown modes (default_permissions comes with allow_other).
func TestOtherUsersGetOnlyWhatModesAllow(t *testing.T) {
	needFUSE(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv (util-linux) runs commands as another user")
	}
	for _, tc := range []struct {
		umask   string
		canRead bool
	}{{"022", true}, {"077", false}} {
		t.Run("umask="+tc.umask, func(t *testing.T) {
			home, mnt := t.TempDir(), t.TempDir()
			// The other user must reach the mountpoint itself.
			os.Chmod(filepath.Dir(mnt), 0o755)
			os.Chmod(mnt, 0o755)
			cleanupMount(t, home, mnt)
			if out, code := run(t, home, "mount", "--daemon", "--demo", "-o", "allow_other,umask="+tc.umask, mnt); code != 0 {
				t.Fatalf("mount: %d %s", code, out)
			}
			file := filepath.Join(demoProjectFiles(mnt), "Site Plan.pdf")
			if _, err := os.Stat(file); err != nil {
				t.Fatal(err)
			}
			asNobody := func(args ...string) (string, error) {
				out, err := exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups"}, args...)...).CombinedOutput()
				return string(out), err
			}
			out, err := asNobody("cat", file)
			if tc.canRead && err != nil {
				t.Errorf("nobody cannot read with umask %s: %v %s", tc.umask, err, out)
			}
			if !tc.canRead && (err == nil || !strings.Contains(out, "Permission denied")) {
				t.Errorf("nobody read with umask %s: %v %s", tc.umask, err, out)
			}
			if out, err := asNobody("rm", "-f", file); err == nil {
				t.Errorf("nobody deleted a file with umask %s: %s", tc.umask, out)
			}
			if _, err := os.Stat(file); err != nil {
				t.Errorf("the file is gone after nobody's rm: %v", err)
			}
		})
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestLogsAndMetrics mounts with JSON logs in a file, API call logging and
// a metrics endpoint, reads a file, and checks the log lines, the control
// socket's mode and the scraped metrics.
func TestLogsAndMetrics(t *testing.T) {
	needFUSE(t)
	home, mnt := t.TempDir(), t.TempDir()
	cleanupMount(t, home, mnt)
	logFile := filepath.Join(home, "bimfs.log")
	addr := freePort(t)
	out, code := run(t, home, "mount", "--daemon", "--demo", "--log-file", logFile, "--log-format", "json",
		"-o", "debug=api,metrics="+addr, mnt)
	if code != 0 {
		t.Fatalf("mount: %d %s", code, out)
	}
	if _, err := os.ReadFile(filepath.Join(demoProjectFiles(mnt), "Site Plan.pdf")); err != nil {
		t.Fatal(err)
	}
	os.ReadFile(filepath.Join(demoProjectFiles(mnt), "Site Plan.pdf")) // again, from the cache

	sock, _ := filepath.Glob(filepath.Join(home, "run", "bimfs", "*.sock"))
	if len(sock) != 1 {
		t.Fatalf("control sockets %v", sock)
	}
	if fi, err := os.Stat(sock[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket mode: %v %v", fi.Mode(), err)
	}

	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`bimfs_api_requests_total{endpoint="bim360.GetFolderContents"}`,
		`bimfs_api_throttled_total{endpoint="bim360.GetFolderContents"} 0`,
		`bimfs_read_bytes_total`, `bimfs_cache_hits_total`, `bimfs_uploads{state="failed"} 0`, `bimfs_accounts 2`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(string(body), "bimfs_read_bytes_total 0\n") {
		t.Error("bytes read stayed 0 after reading a file")
	}

	if out, code := run(t, home, "unmount", mnt); code != 0 {
		t.Fatalf("unmount: %s", out)
	}
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	apiCalls := 0
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["msg"] == "api call" {
			apiCalls++
			if rec["component"] != "api" || rec["method"] == nil || rec["status"] == nil || rec["duration"] == nil || rec["op"] == nil {
				t.Errorf("api call line lacks fields: %s", line)
			}
		}
	}
	if apiCalls == 0 {
		t.Fatalf("no api call lines:\n%s", b)
	}
	for _, secret := range []string{"Bearer ", "X-Amz-Signature", "client_secret"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("the log shows %q", secret)
		}
	}
	// Kernel request traces are separate: debug=api does not turn them on.
	if bytes.Contains(b, []byte(`"msg":"rx `)) || bytes.Contains(b, []byte("LOOKUP")) {
		t.Error("debug=api logged kernel requests")
	}
}

// TestMetricsRefusesNonLoopback keeps the unauthenticated endpoint local.
func TestMetricsRefusesNonLoopback(t *testing.T) {
	home, mnt := t.TempDir(), t.TempDir()
	out, code := run(t, home, "mount", "--demo", "-o", "metrics=0.0.0.0:9464", mnt)
	if code != exitUsage || !strings.Contains(out, "loopback") {
		t.Fatalf("%d %s", code, out)
	}
	out, code = run(t, home, "mount", "--demo", "--log-level", "loud", mnt)
	if code != exitUsage || !strings.Contains(out, "log level") {
		t.Fatalf("bad log level: %d %s", code, out)
	}
}

// TestSystemdNotify runs a foreground mount as systemd would with
// Type=notify: READY=1 arrives once mounted, STOPPING=1 after SIGTERM,
// which unmounts and exits 0.
func TestSystemdNotify(t *testing.T) {
	needFUSE(t)
	home, mnt := t.TempDir(), t.TempDir()
	sockPath := filepath.Join(home, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cmd := exec.Command(bimfsBin, "mount", "--demo", mnt)
	cmd.Env = append(testEnv(home), "NOTIFY_SOCKET="+sockPath)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		exec.Command("umount", "-l", mnt).Run()
	}()
	read := func() string {
		conn.SetReadDeadline(time.Now().Add(60 * time.Second))
		buf := make([]byte, 4096)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v\n%s", err, log.String())
		}
		return string(buf[:n])
	}
	if msg := read(); !strings.Contains(msg, "READY=1") {
		t.Fatalf("first notification %q", msg)
	}
	if !isMounted(mnt) {
		t.Fatal("READY=1 before the mount exists")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if msg := read(); !strings.Contains(msg, "STOPPING=1") {
		t.Fatalf("notification after SIGTERM %q", msg)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, log.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	if isMounted(mnt) {
		t.Fatal("still mounted")
	}
}

// TestMountFuse3Helper runs mount.fuse3 as mount(8) does for fuse.bimfs
// when no mount.fuse.bimfs exists: it calls "bimfs SOURCE MOUNTPOINT -o
// OPTIONS" through the shell, finding bimfs on PATH.
func TestMountFuse3Helper(t *testing.T) {
	needFUSE(t)
	helper, err := exec.LookPath("mount.fuse3")
	if err != nil {
		if helper, err = exec.LookPath("/sbin/mount.fuse3"); err != nil {
			t.Skip("no mount.fuse3 (install fuse3)")
		}
	}
	home, mnt := t.TempDir(), t.TempDir()
	cleanupMount(t, home, mnt)
	bin := filepath.Join(home, "bin")
	os.Mkdir(bin, 0o755)
	if err := os.Symlink(bimfsBin, filepath.Join(bin, "bimfs")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(helper, "demo", mnt, "-t", "fuse.bimfs", "-o", "demo,ro,noatime,_netdev")
	cmd.Env = append(testEnv(home), "PATH="+bin+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil || !isMounted(mnt) {
		t.Fatalf("mount.fuse3: %v mounted=%v\n%s", err, isMounted(mnt), out)
	}
	if _, err := os.Stat(filepath.Join(mnt, "bimcloud-demo")); err != nil {
		t.Fatal(err)
	}
	if out, code := run(t, home, "unmount", mnt); code != 0 || isMounted(mnt) {
		t.Fatalf("unmount: %d %s", code, out)
	}
}

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	bimemu "github.com/bimfs/bimfs/remote/bim360/emulator"
)

// startDaemon runs `bimfs mount` as a child process and waits for the mount.
func startDaemon(t *testing.T, home, cfg, mnt string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bimfsBin, "mount", "--config", cfg, mnt)
	cmd.Env = testEnv(home)
	logf, err := os.Create(filepath.Join(home, fmt.Sprintf("bimfs-%d.log", time.Now().UnixNano())))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !isMounted(mnt) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("mount did not appear:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cmd
}

// writerScript performs one scenario's system calls on a file of the mount
// and then waits, holding whatever it opened, until it is killed. It prints
// each step, so the test knows how far it got.
const writerScript = `
import os, sys, time
path, scenario = sys.argv[1], sys.argv[2]
a, b = sys.stdin.buffer.read().split(b"|SPLIT|")
def step(s):
    print(s, flush=True)
if scenario == "new-open":
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.write(fd, a)
    step("written")
elif scenario == "existing-open":
    fd = os.open(path, os.O_RDWR)
    os.pwrite(fd, a, 10)
    step("written")
elif scenario == "fill":
    fd = os.open(path, os.O_RDWR)
    step("writing")
    os.pwrite(fd, a, 0)
    step("written")
elif scenario == "close":
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.write(fd, a)
    step("closing")
    try:
        os.close(fd)
        step("closed")
    except OSError as e:
        step("close failed: " + e.strerror)
elif scenario == "fsync-more":
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.write(fd, a)
    os.fsync(fd)
    step("synced")
    os.write(fd, b)
    step("written")
step("holding")
time.sleep(600)
`

// crashCase is one row of the crash matrix.
type crashCase struct {
	name     string
	async    bool
	scenario string
	file     string // in the case's folder
	existing []byte // content the file has on the service before, if any
	first    []byte // bytes the writer writes (second below, if any)
	second   []byte
	// setup tunes the emulator for the first mount.
	setup func(emu *bimemu.Server)
	// killAt is the writer's output line after which the daemon is killed.
	killAt string
	// killWhen, if set, is also waited for before the kill.
	killWhen func(emu *bimemu.Server) bool
	// service is what the service must hold under the file's name after
	// the remount (nil: the file must not exist there), and recovered what
	// a recovered sibling must hold (nil: there must be none).
	service, recovered []byte
}

// TestCrashMatrix kills the mount daemon with SIGKILL at each point of a
// file's life, mounts again on the same cache directory and checks the
// promise the documentation makes: content whose close or fsync succeeded
// reaches the service under the file's name; content that was never
// confirmed shows as a local-only "(recovered …)" sibling and is never
// published under the file's name; nothing is lost.
func TestCrashMatrix(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 drives the writer process")
	}
	orig := pattern(64<<10, 1)
	big := pattern(48<<20, 2)
	edited := append([]byte(nil), orig...)
	copy(edited[10:], "EDITED")
	upload := pattern(24<<20, 3)
	cases := []crashCase{
		{name: "new file written, not closed", scenario: "new-open", file: "new.bin",
			first: []byte("never closed"), killAt: "holding", recovered: []byte("never closed")},
		{name: "existing file edited without O_TRUNC, not closed", scenario: "existing-open", file: "model.ifc",
			existing: orig, first: []byte("EDITED"), killAt: "holding", service: orig, recovered: edited},
		{name: "existing file killed during its fill", scenario: "fill", file: "big.rvt",
			existing: big, first: []byte("X"), killAt: "writing",
			setup:    func(emu *bimemu.Server) { slow(emu, 4<<20) },
			killWhen: func(emu *bimemu.Server) bool { return emu.Counters()[bimemu.OpS3Get] > 0 },
			service:  big},
		{name: "upload after close (sync: close never returned)", scenario: "close", file: "upload.bin",
			first: upload, killAt: "closing",
			setup:     func(emu *bimemu.Server) { slow(emu, 4<<20) },
			killWhen:  func(emu *bimemu.Server) bool { return emu.Counters()[bimemu.OpS3Put] > 0 },
			recovered: upload},
		{name: "upload after close (async: close confirmed)", async: true, scenario: "close", file: "upload.bin",
			first: upload, killAt: "holding",
			setup:    func(emu *bimemu.Server) { slow(emu, 4<<20) },
			killWhen: func(emu *bimemu.Server) bool { return emu.Counters()[bimemu.OpS3Put] > 0 },
			service:  upload},
		{name: "fsync then unsynced writes (sync)", scenario: "fsync-more", file: "log.txt",
			first: []byte("synced part;"), second: []byte("unsynced part"), killAt: "holding",
			service: []byte("synced part;"), recovered: []byte("synced part;unsynced part")},
		{name: "fsync then unsynced writes (async)", async: true, scenario: "fsync-more", file: "log.txt",
			first: []byte("synced part;"), second: []byte("unsynced part"), killAt: "holding",
			service: []byte("synced part;"), recovered: []byte("synced part;unsynced part")},
		{name: "failed close", scenario: "close", file: "failed.bin",
			first: []byte("close failed"), killAt: "close failed",
			setup:     func(emu *bimemu.Server) { o := emu.Options(); o.FailComplete = 1 << 20; emu.SetOptions(o) },
			recovered: []byte("close failed")},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runCrashCase(t, i, tc) })
	}
}

// slow caps the emulator's transfer speed so a transfer is in flight
// long enough to be killed in the middle.
func slow(emu *bimemu.Server, bytesPerSecond int64) {
	o := emu.Options()
	o.BytesPerSecond = bytesPerSecond
	emu.SetOptions(o)
}

func pattern(n int, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*seed*7 + i/4093 + seed)
	}
	return b
}

func runCrashCase(t *testing.T, i int, tc crashCase) {
	emu := bimemu.New(bimemu.Options{MinPartSize: 1 << 20, PartDir: t.TempDir()})
	defer emu.Close()
	hub := emu.AddHub("Crash Hub")
	project := emu.AddProject(hub, "Crash Project")
	folder := emu.TopFolder(project, "Project Files")
	if tc.existing != nil {
		emu.AddFile(project, folder, tc.file, bimemu.Bytes(tc.existing))
	}
	home := t.TempDir()
	secret := filepath.Join(home, "secret")
	os.WriteFile(secret, []byte(emu.Options().ClientSecret), 0o600)
	writeback := "sync"
	if tc.async {
		writeback = "async"
	}
	cfg := filepath.Join(home, "config")
	os.WriteFile(cfg, []byte(fmt.Sprintf("cache_dir = %s\nwriteback = %s\n[account crash]\nservice = bim360\nbase_url = %s\nclient_id = %s\nclient_secret_file = %s\ntwo_legged = true\n",
		filepath.Join(home, "cache"), writeback, emu.URL, emu.Options().ClientID, secret)), 0o600)
	mnt := t.TempDir()
	dir := filepath.Join(mnt, "crash", "Crash Hub", "Crash Project", "Project Files")
	versionsBefore := 0
	if tc.existing != nil {
		versionsBefore = len(emu.ItemVersions(project, emu.FindChild(project, folder, tc.file)))
	}

	daemon := startDaemon(t, home, cfg, mnt)
	if tc.setup != nil {
		tc.setup(emu)
	}
	writer := exec.Command("python3", "-c", writerScript, filepath.Join(dir, tc.file), tc.scenario)
	writer.Stdin = bytes.NewReader(append(append(append([]byte(nil), tc.first...), "|SPLIT|"...), tc.second...))
	out, _ := writer.StdoutPipe()
	var stderr bytes.Buffer // the writer dies mid-call in some cases
	writer.Stderr = &stderr
	if err := writer.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { writer.Process.Kill(); writer.Wait() }()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitLine(t, lines, tc.killAt)
	deadline := time.Now().Add(60 * time.Second)
	for tc.killWhen != nil && !tc.killWhen(emu) {
		if time.Now().After(deadline) {
			t.Fatal("the transfer to interrupt never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	daemon.Process.Signal(syscall.SIGKILL)
	daemon.Wait()
	writer.Process.Kill()
	writer.Wait()
	exec.Command("umount", "-l", mnt).Run()

	// The service as the crash left it, then a healthy one for the remount.
	o := emu.Options()
	o.BytesPerSecond, o.FailComplete = 0, 0
	emu.SetOptions(o)
	daemon = startDaemon(t, home, cfg, mnt)
	defer func() {
		daemon.Process.Signal(syscall.SIGTERM)
		daemon.Wait()
	}()

	id := emu.FindChild(project, folder, tc.file)
	switch {
	case tc.service == nil:
		// Give a wrongly resumed upload time to show itself.
		time.Sleep(2 * time.Second)
		if id = emu.FindChild(project, folder, tc.file); id != "" {
			got, _ := emu.ReadTip(project, id)
			t.Fatalf("unconfirmed content was published under %s: %d bytes", tc.file, len(got))
		}
	default:
		deadline := time.Now().Add(2 * time.Minute)
		for {
			id = emu.FindChild(project, folder, tc.file)
			if id != "" {
				got, err := emu.ReadTip(project, id)
				if err == nil && bytes.Equal(got, tc.service) {
					break
				}
			}
			if time.Now().After(deadline) {
				got, err := emu.ReadTip(project, id)
				t.Fatalf("the service holds %d bytes (%v) under %s, want %d", len(got), err, tc.file, len(tc.service))
			}
			time.Sleep(100 * time.Millisecond)
		}
		if tc.existing != nil && bytes.Equal(tc.service, tc.existing) {
			if n := len(emu.ItemVersions(project, id)); n != versionsBefore {
				t.Errorf("%d versions after the crash, want the %d from before", n, versionsBefore)
			}
		}
	}

	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ext := filepath.Ext(tc.file)
	re := regexp.MustCompile("^" + regexp.QuoteMeta(strings.TrimSuffix(tc.file, ext)) + ` \(recovered \d{4}-\d{2}-\d{2} \d{6}\)` + regexp.QuoteMeta(ext) + "$")
	var recovered []string
	for _, e := range names {
		if re.MatchString(e.Name()) {
			recovered = append(recovered, e.Name())
		}
	}
	if tc.recovered == nil {
		if len(recovered) > 0 {
			t.Fatalf("recovered %q although nothing unconfirmed was written", recovered)
		}
		return
	}
	if len(recovered) != 1 {
		logs, _ := filepath.Glob(filepath.Join(home, "bimfs-*.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			t.Logf("%s:\n%s", l, b)
		}
		t.Fatalf("want one recovered sibling of %s, listing has %q", tc.file, names)
	}
	rpath := filepath.Join(dir, recovered[0])
	got, err := os.ReadFile(rpath)
	if err != nil || !bytes.Equal(got, tc.recovered) {
		t.Fatalf("recovered file holds %d bytes (%v), want %d", len(got), err, len(tc.recovered))
	}
	if st := xattr(t, rpath, "user.bimfs.upload"); st != "recovered" {
		t.Errorf("recovered file's upload state is %q", st)
	}
	// The recovered file is local only until the user publishes it.
	if emu.FindChild(project, folder, recovered[0]) != "" {
		t.Fatal("the recovered file reached the service without being renamed")
	}
	if i%2 == 0 {
		// Renaming publishes it as a new file.
		published := fmt.Sprintf("published-%d%s", i, ext)
		if err := os.Rename(rpath, filepath.Join(dir, published)); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for {
			if pid := emu.FindChild(project, folder, published); pid != "" {
				if got, err := emu.ReadTip(project, pid); err == nil && bytes.Equal(got, tc.recovered) {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("renaming the recovered file did not publish it")
			}
			time.Sleep(50 * time.Millisecond)
		}
	} else {
		// Deleting discards it.
		if err := os.Remove(rpath); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(rpath); !os.IsNotExist(err) {
			t.Fatalf("recovered file still there after rm: %v", err)
		}
	}
}

func waitLine(t *testing.T, lines <-chan string, want string) {
	t.Helper()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("writer exited before %q", want)
			}
			if strings.HasPrefix(l, want) {
				return
			}
		case <-timeout:
			t.Fatalf("writer never printed %q", want)
		}
	}
}

func xattr(t *testing.T, path, name string) string {
	t.Helper()
	buf := make([]byte, 4096)
	n, err := unix.Getxattr(path, name, buf)
	if err != nil {
		t.Fatalf("getxattr %s: %v", path, err)
	}
	return string(buf[:n])
}

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

var bimfsBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bimfs-cli-test-")
	if err != nil {
		panic(err)
	}
	bimfsBin = filepath.Join(dir, "bimfs")
	build := exec.Command("go", "build", "-race", "-o", bimfsBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("building bimfs: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testEnv is the environment of a bimfs run with a private HOME, config,
// cache and runtime directory, so no real config, token, cache or control
// socket is touched and `bimfs status` sees only this test's mounts.
func testEnv(home string) []string {
	return append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"), "XDG_RUNTIME_DIR="+filepath.Join(home, "run"), "NOTIFY_SOCKET=")
}

// run executes bimfs with a private HOME so no real config or token is touched.
func run(t *testing.T, home string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bimfsBin, args...)
	cmd.Env = testEnv(home)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), code
}

func TestVersionAndUsage(t *testing.T) {
	home := t.TempDir()
	for _, args := range [][]string{{"version"}, {"--version"}} {
		if out, code := run(t, home, args...); code != 0 || !strings.HasPrefix(out, "bimfs ") || !strings.Contains(out, runtime.Version()) {
			t.Fatalf("%v: %d %q", args, code, out)
		}
	}
	if out, code := run(t, home, "frobnicate"); code != exitUsage || !strings.Contains(out, "unknown command") {
		t.Fatalf("unknown command: %d %q", code, out)
	}
}

func TestBadConfigFailsClearly(t *testing.T) {
	home := t.TempDir()
	mnt := t.TempDir()
	cfg := filepath.Join(home, "bad.conf")
	os.WriteFile(cfg, []byte("memory_cache = lots\n"), 0o600)
	out, code := run(t, home, "mount", "--config", cfg, mnt)
	if code != exitUsage || !strings.Contains(out, "line 1") || !strings.Contains(out, "memory_cache") {
		t.Fatalf("invalid config: %d %q", code, out)
	}
	// A directory where the config file should be cannot be read.
	out, code = run(t, home, "mount", "--config", home, mnt)
	if code != exitUsage || !strings.Contains(out, "config") {
		t.Fatalf("unreadable config: %d %q", code, out)
	}
	out, code = run(t, home, "mount", "--config", filepath.Join(home, "missing.conf"), mnt)
	if code != exitUsage || !strings.Contains(out, "no such file") {
		t.Fatalf("missing config: %d %q", code, out)
	}
	os.WriteFile(cfg, []byte("[account a]\nservice = dropbox\n"), 0o600)
	out, code = run(t, home, "mount", "--config", cfg, mnt)
	if code != exitUsage || !strings.Contains(out, "unknown service") {
		t.Fatalf("bad service: %d %q", code, out)
	}
	out, code = run(t, home, "mount", mnt)
	if code != exitUsage || !strings.Contains(out, "no accounts configured") {
		t.Fatalf("no accounts: %d %q", code, out)
	}
	out, code = run(t, home, "mount", "-o", "block_size=3", mnt)
	if code != exitUsage || !strings.Contains(out, "block_size") {
		t.Fatalf("bad -o: %d %q", code, out)
	}
}

func TestMountpointMissing(t *testing.T) {
	home := t.TempDir()
	out, code := run(t, home, "mount", "--demo", filepath.Join(home, "nope"))
	if code != exitUsage || !strings.Contains(out, "does not exist") {
		t.Fatalf("%d %q", code, out)
	}
}

func TestLoginUnknownAccount(t *testing.T) {
	home := t.TempDir()
	out, code := run(t, home, "login", "ghost")
	if code != exitUsage || !strings.Contains(out, `no account "ghost"`) {
		t.Fatalf("%d %q", code, out)
	}
}

// TestDemoMountLifecycle starts `bimfs mount --demo`, uses the mount with
// real tools, checks that a second mount on the same directory is refused
// as busy, and that SIGTERM unmounts cleanly.
func TestDemoMountLifecycle(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
	home := t.TempDir()
	mnt := t.TempDir()
	cmd := exec.Command(bimfsBin, "mount", "--demo", "-o", "cache_dir="+filepath.Join(home, "cache"), mnt)
	cmd.Env = testEnv(home)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			exec.Command("umount", "-l", mnt).Run()
		}
	})

	deadline := time.Now().Add(60 * time.Second)
	for !isMounted(mnt) {
		select {
		case err := <-exited:
			t.Fatalf("bimfs exited early: %v\n%s", err, log.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("mount did not appear\n%s", log.String())
		}
	}
	out, err := exec.Command("ls", mnt).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "bim360-demo") || !strings.Contains(string(out), "bimcloud-demo") {
		t.Fatalf("ls: %v %q", err, out)
	}
	out, err = exec.Command("find", mnt, "-maxdepth", "4").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Project Files") {
		t.Fatalf("find: %v %q", err, out)
	}

	if out, code := run(t, home, "mount", "--demo", mnt); code != exitUsage || !strings.Contains(out, "busy") {
		t.Fatalf("second mount: %d %q", code, out)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, log.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no exit after SIGTERM\n%s", log.String())
	}
	if isMounted(mnt) {
		t.Fatal("still mounted after SIGTERM")
	}
	if strings.Contains(log.String(), "Bearer ") {
		t.Fatal("the log shows a bearer token")
	}
}

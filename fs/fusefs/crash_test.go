package fusefs_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/bimfs/bimfs/cache"
	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fstest"
	"github.com/bimfs/bimfs/fs/fusefs"
	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/remotetest"
)

// The crash test re-runs the test binary as a mount daemon that it then
// kills with SIGKILL in the middle of an upload.
const (
	daemonMountEnv   = "BIMFS_FS_TEST_DAEMON_MOUNT"
	daemonStagingEnv = "BIMFS_FS_TEST_DAEMON_STAGING"
)

func TestMain(m *testing.M) {
	if mnt := os.Getenv(daemonMountEnv); mnt != "" {
		os.Exit(runDaemon(mnt, os.Getenv(daemonStagingEnv)))
	}
	os.Exit(m.Run())
}

// newDeterministicWritable is newWritableMemory built in a fixed order, so
// two processes building it get the same IDs.
func newDeterministicWritable() *remotetest.Memory {
	m := remotetest.NewMemory()
	paths := make([]string, 0, len(projectTree))
	for p := range projectTree {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		m.AddFile(p, projectTree[p])
	}
	m.SetWritable(true)
	return m
}

// runDaemon mounts a deterministic backend whose uploads never finish,
// says "ready" once mounted and "uploading" when an upload starts, and
// serves until killed.
func runDaemon(mnt, staging string) int {
	mem := newDeterministicWritable()
	mem.SetFault(func(ctx context.Context, op string, id remote.ID) error {
		if op == remotetest.OpUpload {
			fmt.Println("uploading")
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	})
	cacheDir, err := os.MkdirTemp("", "bimfs-daemon-cache")
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	defer os.RemoveAll(cacheDir)
	c, err := cache.New(cache.Options{Dir: cacheDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	_, err = fusefs.Mount(mnt, []fs.Account{{Name: "acme", Backend: mem}}, fusefs.Options{Options: fs.Options{Cache: c, StagingDir: staging, AsyncWriteback: true}})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("ready")
	select {}
}

func TestKilledDuringUploadResumesAfterRemount(t *testing.T) {
	if err := fstest.Available(); err != nil {
		t.Skipf("FUSE is not available: %v", err)
	}
	staging, mnt := t.TempDir(), t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), daemonMountEnv+"="+mnt, daemonStagingEnv+"="+staging)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
	}()
	lines := make(chan string, 16)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok || l != want {
				t.Fatalf("daemon said %q (open %v), want %q", l, ok, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("daemon did not say %q", want)
		}
	}
	expect("ready")

	dir := filepath.Join(mnt, "acme", pf)
	data := content(50, 2<<20+7)
	if err := os.WriteFile(filepath.Join(dir, "crash.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "readme.txt"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("edited before the crash\n")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	expect("uploading")
	cmd.Process.Kill()
	cmd.Wait()
	killed = true
	if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
		t.Fatalf("detaching the dead mount: %v", err)
	}

	// A new mount on the same staging directory shows the staged files
	// at once and uploads them.
	mem := newDeterministicWritable()
	g := newGate()
	mem.SetFault(g.hook)
	acct := mountWritable(t, mem, fusefs.Options{Options: fs.Options{StagingDir: staging}})
	dir = filepath.Join(acct, pf)
	if fi, err := os.Stat(filepath.Join(dir, "crash.bin")); err != nil || fi.Size() != int64(len(data)) {
		t.Fatalf("staged file after restart: %v %v", fi, err)
	}
	if s := uploadState(t, filepath.Join(dir, "crash.bin")); s == "committed" {
		t.Errorf("upload state %q before the upload could finish", s)
	}
	g.release()
	wantReadme := string(projectTree[pf+"/readme.txt"]) + "edited before the crash\n"
	waitUntil(t, "the resumed uploads", func() bool {
		b, ok := mem.Content(pf + "/crash.bin")
		r, _ := mem.Content(pf + "/readme.txt")
		return ok && bytes.Equal(b, data) && string(r) == wantReadme
	})
	if n := versions(t, mem, pf+"/readme.txt"); n != 2 {
		t.Errorf("readme.txt has %d versions, want 2", n)
	}
	waitUntil(t, "a clean staging directory", func() bool {
		ents, _ := os.ReadDir(staging)
		var left []string
		for _, e := range ents {
			left = append(left, e.Name())
		}
		return len(left) == 0
	})
}

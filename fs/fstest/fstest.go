// Package fstest mounts the bimfs filesystem for tests and checks POSIX
// behaviour through real system calls.
//
// Mounts are real: go-fuse with DirectMount on a temporary directory. Tests
// that cannot mount (no /dev/fuse, no privilege) are skipped with a reason.
//
// A test process that serves a FUSE mount must not touch it in ways the
// go-fuse "Deadlocks" notes describe: do not run commands with their
// working directory on the mount, do not pass descriptors of files on the
// mount to child processes, and do not mmap files on it.
package fstest

import (
	"errors"
	"log/slog"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/bimfs/bimfs/cache"
	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fusefs"
)

// unmountAttempts bounds retries while the kernel still reports the mount
// busy (a process the test started may not have exited yet).
const unmountAttempts = 50

// Available reports why FUSE mounts cannot work here, or nil.
func Available() error {
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return f.Close()
}

// Mount mounts accounts on a fresh temporary directory and returns its
// path; the filesystem is unmounted when the test ends. If opts.Cache is
// nil a cache with a disk tier in another temporary directory is used.
func Mount(t testing.TB, accounts []fs.Account, opts fusefs.Options) string {
	t.Helper()
	dir, _ := MountFS(t, accounts, opts)
	return dir
}

// MountFS is Mount that also returns the mounted filesystem.
func MountFS(t testing.TB, accounts []fs.Account, opts fusefs.Options) (string, *fusefs.Mounted) {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("FUSE is not available (%v): mount tests need /dev/fuse and permission to mount", err)
	}
	if opts.Cache == nil {
		logger := opts.Logger
		if logger == nil {
			logger = slog.New(slog.DiscardHandler)
		}
		c, err := cache.New(cache.Options{Dir: t.TempDir(), MemoryBytes: 64 << 20, DiskBytes: 256 << 20, Logger: logger})
		if err != nil {
			t.Fatalf("cache.New: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		opts.Cache = c
	}
	dir := t.TempDir()
	m, err := fusefs.Mount(dir, accounts, opts)
	if errors.Is(err, syscall.EPERM) {
		t.Skipf("not permitted to mount FUSE here: %v", err)
	}
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	t.Cleanup(func() {
		var err error
		for range unmountAttempts {
			if err = m.Unmount(); err == nil {
				m.Wait()
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("unmount %s: %v", dir, err)
	})
	return dir, m
}

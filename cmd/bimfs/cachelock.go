package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// cacheLock is an exclusive lock on a cache directory whose file names the
// holder, so a second mount with the same cache can say who has it.
type cacheLock struct{ f *os.File }

const cacheLockName = "bimfs.lock"

// lockCacheDir takes the lock of dir for a mount of mountpoint.
func lockCacheDir(dir, mountpoint string) (*cacheLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cache directory: %w", err)
	}
	path := filepath.Join(dir, cacheLockName)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cache directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		holder := "another process"
		if b, rerr := os.ReadFile(path); rerr == nil && len(b) > 0 {
			holder = strings.TrimSpace(string(b))
		}
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("cache directory %s is in use by %s; give this mount its own cache with -o cache_dir=DIR", dir, holder)
		}
		return nil, fmt.Errorf("cache directory %s: %w", dir, err)
	}
	f.Truncate(0)
	fmt.Fprintf(f, "bimfs pid %d mounted on %s\n", os.Getpid(), mountpoint)
	return &cacheLock{f: f}, nil
}

// release empties the holder note and drops the lock.
func (l *cacheLock) release() {
	l.f.Truncate(0)
	l.f.Close()
}

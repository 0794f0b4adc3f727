package e2e

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fusefs"
)

func errnoIs(err error, want syscall.Errno) bool {
	var e syscall.Errno
	return errors.As(err, &e) && e == want
}

// fsOptsNoKernelCache makes every lookup and open reach the daemon and
// revalidate, so tests see remote changes at once.
func fsOptsNoKernelCache() fusefs.Options {
	return fusefs.Options{Options: fs.Options{MetadataTTL: -1}, EntryTimeout: -1, AttrTimeout: -1, NegativeTimeout: -1}
}

// waitUntil polls cond for up to a minute.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

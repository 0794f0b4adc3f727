package e2e

import (
	"errors"
	"syscall"

	"github.com/bimfs/bimfs/fs"
)

func errnoIs(err error, want syscall.Errno) bool {
	var e syscall.Errno
	return errors.As(err, &e) && e == want
}

// fsOptsNoKernelCache makes every lookup and open reach the daemon and
// revalidate, so tests see remote changes at once.
func fsOptsNoKernelCache() fs.Options {
	return fs.Options{EntryTimeout: -1, AttrTimeout: -1, NegativeTimeout: -1, MetadataTTL: -1}
}

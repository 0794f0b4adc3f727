package fusefs

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/remote"
)

func TestKindErrno(t *testing.T) {
	for kind, want := range map[remote.Kind]syscall.Errno{
		remote.KindUnknown:     syscall.EIO,
		remote.NotFound:        syscall.ENOENT,
		remote.Permission:      syscall.EACCES,
		remote.Unauthenticated: syscall.EACCES,
		remote.Throttled:       syscall.EIO,
		remote.Conflict:        syscall.EIO,
		remote.Exists:          syscall.EEXIST,
		remote.NotEmpty:        syscall.ENOTEMPTY,
		remote.Unsupported:     syscall.ENOTSUP,
		remote.Invalid:         syscall.EINVAL,
		remote.Unavailable:     syscall.EIO,
		remote.NoSpace:         syscall.ENOSPC,
		remote.Canceled:        syscall.EINTR,
		remote.Stale:           syscall.ESTALE,
		remote.TooLarge:        syscall.EFBIG,
		remote.NameTooLong:     syscall.ENAMETOOLONG,
		remote.Kind(999):       syscall.EIO,
	} {
		if got := errno(&remote.Error{Kind: kind}); got != want {
			t.Errorf("errno(%v) = %v, want %v", kind, got, want)
		}
	}
}

func TestLocalErrnos(t *testing.T) {
	for err, want := range map[error]syscall.Errno{
		nil:                                   0,
		fs.ErrIsDir:                           syscall.EISDIR,
		fmt.Errorf("rmdir: %w", fs.ErrNotDir): syscall.ENOTDIR,
		fs.ErrReadOnlyFS:                      syscall.EROFS,
		fs.ErrCrossDevice:                     syscall.EXDEV,
		fs.ErrBadHandle:                       syscall.EBADF,
		errors.New("plain"):                   syscall.EIO,
		fmt.Errorf("x: %w", context.Canceled): syscall.EINTR,
	} {
		if got := errno(err); got != want {
			t.Errorf("errno(%v) = %v, want %v", err, got, want)
		}
	}
}

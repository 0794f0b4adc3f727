package fusefs

import (
	"errors"
	"syscall"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/remote"
)

// errnoTable is the one place failures become errnos. The core has logged
// each failure already; this only translates.
//
// Throttled and Unavailable map to EIO rather than EAGAIN: the backend has
// already retried, read(2) callers treat EAGAIN on a regular file as "try
// again at once" (a busy loop) or as a hard error anyway, and EIO is what
// users and scripts recognise as "the storage failed". A conflict at close
// (the item changed on the service) is EIO too; only a real lock on the
// item (HTTP 423 Locked) is EBUSY, which tools read as "try later". A version that vanished under a reader is ESTALE, the network
// filesystem convention.
var errnoTable = map[remote.Kind]syscall.Errno{
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
}

// localErrnos maps the core's own errors.
var localErrnos = []struct {
	err   error
	errno syscall.Errno
}{
	{fs.ErrIsDir, syscall.EISDIR},
	{fs.ErrNotDir, syscall.ENOTDIR},
	{fs.ErrReadOnlyFS, syscall.EROFS},
	{fs.ErrCrossDevice, syscall.EXDEV},
	{fs.ErrNotPermitted, syscall.EPERM},
	{fs.ErrBadHandle, syscall.EBADF},
	{fs.ErrNotSupported, syscall.EOPNOTSUPP},
}

// errno maps an error from the core to an errno (0 for nil).
func errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	for _, l := range localErrnos {
		if errors.Is(err, l.err) {
			return l.errno
		}
	}
	var re *remote.Error
	if errors.As(err, &re) && re.Kind == remote.Conflict && re.Status == 423 {
		return syscall.EBUSY // a real lock on the item, held by someone at the service
	}
	if e, ok := errnoTable[remote.KindOf(err)]; ok {
		return e
	}
	return syscall.EIO
}

package fs

import (
	"context"
	"errors"
	"log/slog"
	"syscall"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// errnoTable is the one place remote failures become errnos.
//
// Throttled and Unavailable map to EIO rather than EAGAIN: the backend has
// already retried, read(2) callers treat EAGAIN on a regular file as "try
// again at once" (a busy loop) or as a hard error anyway, and EIO is what
// users and scripts recognise as "the storage failed".
var errnoTable = map[remote.Kind]syscall.Errno{
	remote.KindUnknown:     syscall.EIO,
	remote.NotFound:        syscall.ENOENT,
	remote.Permission:      syscall.EACCES,
	remote.Unauthenticated: syscall.EACCES,
	remote.Throttled:       syscall.EIO,
	remote.Conflict:        syscall.EBUSY,
	remote.Exists:          syscall.EEXIST,
	remote.NotEmpty:        syscall.ENOTEMPTY,
	remote.Unsupported:     syscall.ENOTSUP,
	remote.Invalid:         syscall.EINVAL,
	remote.Unavailable:     syscall.EIO,
	remote.NoSpace:         syscall.ENOSPC,
	remote.Canceled:        syscall.EINTR,
}

// kindErrno maps a Kind to its errno; kinds added later fall back to EIO.
func kindErrno(k remote.Kind) syscall.Errno {
	if e, ok := errnoTable[k]; ok {
		return e
	}
	return syscall.EIO
}

// loginHintEvery limits how often the "run bimfs login" hint is repeated:
// an expired login fails every file of an ls -l at once.
const loginHintEvery = time.Minute

// errno maps err from a remote call made for op on path (as shown in the
// mount) to an errno and logs the failure once, here, so callers only
// return the result.
func (a *account) errno(ctx context.Context, op, path string, err error) syscall.Errno {
	kind := remote.KindOf(err)
	if kind == remote.KindUnknown && ctx.Err() != nil {
		// The kernel interrupted the request; the backend saw a
		// cancelled context but did not wrap the error.
		kind = remote.Canceled
	}
	errno := kindErrno(kind)
	attrs := []any{"op", op, "account", a.name, "path", path, "kind", kind.String(), "errno", errno.Error(), "err", err}
	log := a.fsys.log
	switch kind {
	case remote.Canceled:
		log.Debug("request interrupted", attrs...)
	case remote.NotFound:
		log.Info("object no longer exists remotely", attrs...)
	case remote.Unauthenticated:
		a.mu.Lock()
		hint := time.Since(a.lastLoginHint) >= loginHintEvery
		if hint {
			a.lastLoginHint = time.Now()
		}
		a.mu.Unlock()
		if hint {
			log.Error("not logged in: run `bimfs login "+a.name+"`", attrs...)
		} else {
			log.Debug("not logged in", attrs...)
		}
	case remote.KindUnknown:
		var re *remote.Error
		if !errors.As(err, &re) {
			log.Error("unexpected error from backend", attrs...)
			break
		}
		log.Warn("remote operation failed", attrs...)
	default:
		log.Warn("remote operation failed", attrs...)
	}
	return errno
}

// discardLogger is used when Options.Logger is nil.
var discardLogger = slog.New(slog.DiscardHandler)

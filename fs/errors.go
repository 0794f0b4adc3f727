package fs

import (
	"context"
	"errors"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// Errors the core returns besides *remote.Error values (whose Kind tells
// the cause). Front ends map both to their own codes in one table each.
var (
	ErrIsDir        = errors.New("is a directory")
	ErrNotDir       = errors.New("not a directory")
	ErrReadOnlyFS   = errors.New("read-only file system")
	ErrCrossDevice  = errors.New("cannot move between services, accounts or projects")
	ErrNotPermitted = errors.New("operation not permitted")
	ErrBadHandle    = errors.New("handle not open for this operation")
	ErrNotSupported = errors.New("operation not supported")
)

// errNotFound is the plain "no such file" answer of a lookup.
var errNotFound = &remote.Error{Kind: remote.NotFound, Op: "fs.lookup", Message: "no such file or folder"}

// errStagedGone answers for a never-uploaded file whose staged copy is
// gone: it was deleted.
var errStagedGone = &remote.Error{Kind: remote.NotFound, Op: "fs.open", Message: "the file was deleted"}

// loginHintEvery limits how often the "run bimfs login" hint is repeated:
// an expired login fails every file of an ls -l at once.
const loginHintEvery = time.Minute

// fail logs err from op on path (as shown in the filesystem) once, here,
// and returns it for the front end to map. Callers only return the result.
func (a *account) fail(ctx context.Context, op, path string, err error) error {
	kind := remote.KindOf(err)
	if kind == remote.KindUnknown && ctx.Err() != nil {
		// The caller gave up; the backend saw a cancelled context but did
		// not wrap the error.
		err = &remote.Error{Kind: remote.Canceled, Op: op, Err: err}
		kind = remote.Canceled
	}
	attrs := []any{"op", op, "account", a.name, "path", path, "kind", kind.String(), "err", err}
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
	case remote.NoSpace, remote.TooLarge:
		log.Warn("local staging refused the change", attrs...)
	case remote.Invalid, remote.NameTooLong:
		log.Warn("refused", attrs...)
	case remote.KindUnknown:
		var re *remote.Error
		if !errors.As(err, &re) {
			log.Error("unexpected error", attrs...)
			break
		}
		log.Warn("remote operation failed", attrs...)
	default:
		log.Warn("remote operation failed", attrs...)
	}
	return err
}

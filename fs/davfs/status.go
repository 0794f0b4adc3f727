package davfs

import (
	"errors"
	"net/http"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/remote"
)

// statusTable is the one place failures of the core become HTTP statuses
// (the WebDAV counterpart of fs/fusefs/errno.go). The core has logged each
// failure already; this only translates.
//
// Choices beyond the obvious: Exists is 405, what RFC 4918 prescribes for
// MKCOL on an existing resource (a MOVE or COPY onto an existing name
// without Overwrite gets 412 from the protocol layer before the core is
// asked). NotEmpty is 409 (the collection's state conflicts with the
// request). A login that expired at the service is 403, not 401: a 401
// would make the client ask for this server's password, which is not what
// is missing. Throttled and Unavailable are 503 so clients retry later;
// a version that vanished under a request is 412 (the resource no longer
// matches what the client was shown).
var statusTable = map[remote.Kind]int{
	remote.KindUnknown:     http.StatusInternalServerError,
	remote.NotFound:        http.StatusNotFound,
	remote.Permission:      http.StatusForbidden,
	remote.Unauthenticated: http.StatusForbidden,
	remote.Throttled:       http.StatusServiceUnavailable,
	remote.Conflict:        http.StatusConflict,
	remote.Exists:          http.StatusMethodNotAllowed,
	remote.NotEmpty:        http.StatusConflict,
	remote.Unsupported:     http.StatusNotImplemented,
	remote.Invalid:         http.StatusBadRequest,
	remote.Unavailable:     http.StatusServiceUnavailable,
	remote.NoSpace:         http.StatusInsufficientStorage,
	remote.Canceled:        http.StatusServiceUnavailable,
	remote.Stale:           http.StatusPreconditionFailed,
	remote.TooLarge:        http.StatusRequestEntityTooLarge,
	remote.NameTooLong:     http.StatusBadRequest,
}

// localStatuses maps the core's own errors. A move the service cannot make
// is 502 Bad Gateway, RFC 4918's answer for a destination on another
// server or repository.
var localStatuses = []struct {
	err    error
	status int
}{
	{fs.ErrIsDir, http.StatusMethodNotAllowed},
	{fs.ErrNotDir, http.StatusConflict},
	{fs.ErrReadOnlyFS, http.StatusForbidden},
	{fs.ErrCrossDevice, http.StatusBadGateway},
	{fs.ErrNotPermitted, http.StatusForbidden},
	{fs.ErrBadHandle, http.StatusInternalServerError},
	{fs.ErrNotSupported, http.StatusNotImplemented},
}

// Status maps an error from the core to an HTTP status (200 for nil).
func Status(err error) int {
	if err == nil {
		return http.StatusOK
	}
	for _, l := range localStatuses {
		if errors.Is(err, l.err) {
			return l.status
		}
	}
	if s, ok := statusTable[remote.KindOf(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

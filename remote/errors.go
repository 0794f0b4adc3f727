package remote

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Kind classifies a remote failure so the filesystem can map it to one errno
// without looking at service-specific codes or message text.
type Kind int

// Error kinds. The zero value, KindUnknown, maps to EIO.
const (
	KindUnknown     Kind = iota
	NotFound             // the object does not exist (any more)
	Permission           // the user may not do this (HTTP 403, BIMcloud AccessDenied)
	Unauthenticated      // the credentials are missing, expired or revoked: the user must log in again
	Throttled            // rate limited after all retries (HTTP 429)
	Conflict             // the object changed underneath, or is locked (HTTP 409/423)
	Exists               // an object with that name already exists
	NotEmpty             // a folder that must be empty is not
	Unsupported          // the service cannot do this operation at all
	Invalid              // the request was rejected as malformed (bad name, bad range …)
	Unavailable          // the service could not be reached or failed (5xx, connection errors)
	NoSpace              // local or remote storage is full, or a quota was hit
	Canceled             // the caller gave up (context canceled or deadline exceeded)
	// Stale means the version being read is gone: the object changed on the
	// service before or while its content was read, so the bytes received
	// cannot be shown or cached as that version and were dropped. Reading
	// the object again (after a fresh lookup) gets the new version. The
	// filesystem maps it to ESTALE.
	Stale
	TooLarge    // a size the local staging area or the service cannot hold
	NameTooLong // a name longer than the filesystem or service allows
)

var kindNames = [...]string{
	KindUnknown:     "unknown",
	NotFound:        "not found",
	Permission:      "permission denied",
	Unauthenticated: "not authenticated",
	Throttled:       "throttled",
	Conflict:        "conflict",
	Exists:          "already exists",
	NotEmpty:        "not empty",
	Unsupported:     "unsupported",
	Invalid:         "invalid",
	Unavailable:     "unavailable",
	NoSpace:         "no space",
	Canceled:        "canceled",
	Stale:           "stale version",
	TooLarge:        "too large",
	NameTooLong:     "name too long",
}

func (k Kind) String() string {
	if int(k) >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is the error type every backend returns for a failed remote
// operation. Service packages fill in Kind from their own error tables; the
// filesystem only ever looks at Kind.
type Error struct {
	Kind Kind
	// Op names the operation, e.g. "bim360.ListFolder" or "bimcloud.GetBlobContent".
	Op string
	// Status is the HTTP status code, or 0 when no response was received.
	Status int
	// Code is the service's own error code, if it sent one (e.g. "BIM360DM_ERROR", "6").
	Code string
	// Message is the service's human-readable explanation, safe to log
	// (never contains tokens or signed URLs).
	Message string
	// RetryAfter is how long the service asked the caller to wait, if it did.
	RetryAfter time.Duration
	// Err is the underlying cause, if any.
	Err error
}

func (e *Error) Error() string {
	s := e.Op
	if s != "" {
		s += ": "
	}
	s += e.Kind.String()
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d", e.Status)
		if e.Code != "" {
			s += ", code " + e.Code
		}
		s += ")"
	} else if e.Code != "" {
		s += " (code " + e.Code + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error of the given kind with a formatted message.
func Errorf(kind Kind, op, format string, args ...any) *Error {
	return &Error{Kind: kind, Op: op, Message: fmt.Sprintf(format, args...)}
}

// KindOf reports the Kind of err: the Kind of the first *Error in its chain,
// Canceled for context errors, and KindUnknown otherwise.
func KindOf(err error) Kind {
	if err == nil {
		return KindUnknown
	}
	var re *Error
	if errors.As(err, &re) {
		return re.Kind
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return Canceled
	}
	return KindUnknown
}

// IsKind reports whether err is a remote error of kind k.
func IsKind(err error, k Kind) bool { return err != nil && KindOf(err) == k }

// KindForStatus maps an HTTP status to the Kind a service error of that
// status normally has. Services with richer error bodies refine it.
func KindForStatus(status int) Kind {
	switch {
	case status == 400 || status == 416 || status == 414:
		return Invalid
	case status == 401:
		return Unauthenticated
	case status == 403:
		return Permission
	case status == 404 || status == 410:
		return NotFound
	case status == 405 || status == 501:
		return Unsupported
	case status == 409 || status == 412 || status == 423:
		return Conflict
	case status == 413 || status == 507:
		return NoSpace
	case status == 429:
		return Throttled
	case status >= 500:
		return Unavailable
	}
	return KindUnknown
}

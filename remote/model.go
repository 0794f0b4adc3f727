// Package remote is the backend-neutral model of a construction-cloud
// account: a tree of folders and files whose files have immutable versions.
//
// Service packages (remote/bim360, remote/bimcloud) implement Backend; the
// filesystem and the cache only ever see the types in this package. All
// failures are returned as *Error values whose Kind the filesystem maps to an
// errno.
package remote

import (
	"context"
	"io"
	"time"
)

// ID is a backend's stable, opaque identifier of a folder or file. It must
// not change when the object is renamed, moved or gets a new version, and it
// must be unique within one Backend. Callers never parse it.
type ID string

// Version identifies one immutable state of a file's content.
type Version struct {
	// ID is unique across the backend and never reused: bytes cached under a
	// version ID are valid for ever.
	ID string
	// Number is the service's version number (1, 2, …), or 0 if it has none.
	Number int
	// Ref is backend-private data needed to fetch the bytes (for example the
	// OSS storage object of a BIM 360 version). Callers pass it back unchanged.
	Ref string
}

// Entry describes one folder or file as a listing shows it.
type Entry struct {
	ID ID
	// Name is the name exactly as the service shows it. It may contain
	// characters a POSIX name cannot (the filesystem escapes them) and may
	// collide with a sibling's name.
	Name    string
	Dir     bool
	Size    int64 // bytes for files; 0 for folders
	ModTime time.Time
	// Version is the tip version of a file; zero for folders.
	Version Version
	// ReadOnly is set when the service will refuse writes below or to this
	// entry (a hub, a project root, a read-only top folder).
	ReadOnly bool
}

// Features describes what a backend can do, so layers above can choose a
// strategy instead of probing.
type Features struct {
	// RangeReads is true when ReadRange serves an arbitrary offset without
	// transferring the bytes before it. When false, the cache streams files
	// sequentially from the start and serves reads as the bytes arrive.
	RangeReads bool
	// Writable is true when the backend implements Writer.
	Writable bool
}

// Backend is one account of one service, rooted at the account's top folder.
//
// Every method honours ctx: cancelling it aborts the HTTP calls in flight.
// Methods are safe for concurrent use.
type Backend interface {
	// Root returns the account's top directory entry.
	Root(ctx context.Context) (Entry, error)
	// List returns every child of the folder dir, following all pages.
	// Files carry their tip version, size and modification time, so a
	// listing is enough to answer stat for all children.
	List(ctx context.Context, dir ID) ([]Entry, error)
	// Stat returns the current state of one object. It is for single
	// lookups; callers revalidate many files with one List of their parent.
	Stat(ctx context.Context, id ID) (Entry, error)
	// ReadRange returns the bytes [off, off+length) of version v of file id.
	// A shorter result than asked for means end of file. Backends without
	// Features.RangeReads only accept off == 0 (and any length).
	ReadRange(ctx context.Context, id ID, v Version, off, length int64) (io.ReadCloser, error)
	// Features reports the backend's capabilities.
	Features() Features
	// Close releases sessions and background work.
	Close() error
}

// Change reports that something below a folder changed remotely.
type Change struct {
	// Dir is the folder whose listing is stale; empty means "everything".
	Dir ID
	// ID is the changed object, if known.
	ID ID
	// Deleted is set when ID no longer exists.
	Deleted bool
}

// Watcher is implemented by backends that learn of remote changes (the
// BIMcloud change feed). Watch calls fn for each batch of changes until ctx
// is done; fn must not block for long.
type Watcher interface {
	Watch(ctx context.Context, fn func([]Change)) error
}

// UploadRequest describes new content for a file.
type UploadRequest struct {
	// Parent is the folder that holds (or will hold) the file.
	Parent ID
	// Name is the file's name in the service.
	Name string
	// Existing is the file's ID when this is a new version of an existing
	// file; empty for a new file.
	Existing ID
	// Size is the content length in bytes.
	Size int64
	// Content is read concurrently at arbitrary offsets; it is usually the
	// staged file on local disk.
	Content io.ReaderAt
	// Progress, if set, is called with the number of bytes committed so far.
	Progress func(done int64)
}

// Writer is implemented by backends that can change the remote tree.
// Every method returns *Error values: Exists for a name already taken,
// NotEmpty for a folder that still has children, Invalid for a name the
// service rejects (the message names the rule), Permission or Unsupported
// where the service forbids the operation (the message says why).
type Writer interface {
	// Mkdir creates folder name in parent and returns its entry.
	Mkdir(ctx context.Context, parent ID, name string) (Entry, error)
	// Upload stores content and returns the file's new entry with its new
	// tip version. With req.Existing set the content becomes a new version
	// of that file (never a second file of the same name).
	Upload(ctx context.Context, req UploadRequest) (Entry, error)
	// Rename renames and/or moves id to newName in newParent. If replace is
	// not empty it is the ID of the file currently named newName there,
	// which the rename replaces: services with versions keep replace's
	// identity and history and make the source's content its new version.
	// The returned entry is what newName refers to afterwards. Moves the
	// service cannot do return an Unsupported error with a reason, and
	// moves between projects or accounts are never attempted (the
	// filesystem answers EXDEV so tools copy instead).
	Rename(ctx context.Context, id, newParent ID, newName string, replace ID) (Entry, error)
	// Remove deletes a file or an empty folder.
	Remove(ctx context.Context, id ID) error
	// SameSpace reports whether a and b are in one namespace between which
	// Rename can move objects (one BIM 360 project, one BIMcloud server).
	SameSpace(a, b ID) bool
}

// NameChecker is implemented by writers that know names their service
// refuses, so the filesystem can refuse them when they are given (create,
// mkdir, rename) instead of when an upload fails later. CheckName returns
// an Invalid error that names the rule, or nil.
type NameChecker interface {
	CheckName(name string) error
}

// Stamper is implemented by backends that can tell with one cheap call
// whether a folder's listing changed. Stamp returns a token for folder dir
// that changes whenever a child is added, changed, renamed or removed, so
// a listing fetched after a stamp was taken is still current while the
// stamp is unchanged. Folders it cannot stamp answer an Unsupported error.
type Stamper interface {
	Stamp(ctx context.Context, dir ID) (string, error)
}

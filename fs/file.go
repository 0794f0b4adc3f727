package fs

import (
	"context"
	"strconv"
	"sync"

	"github.com/bimfs/bimfs/cache/writeback"
	"github.com/bimfs/bimfs/remote"
)

// File is a remote file, or a new file staged here that the service does
// not have yet (known by a staged ID until its first upload).
type File struct {
	acct *account
	// ino is the inode number front ends know the file by; it stays when
	// the file gets a new remote ID (see account.rekey).
	ino uint64

	// mu protects the following fields. It is a leaf lock.
	mu sync.Mutex
	// id is the remote ID, or a staged ID for a new file.
	id    remote.ID
	dir   *Dir         // folder whose listing holds the file
	name  string       // name shown in dir
	entry remote.Entry // newest state a listing showed
	// writers counts open handles with write access; idleWriters those
	// flushed (closed) and not written since whose release has not come.
	writers, idleWriters int
	// flushOwed is set when a close skipped an upload because another
	// writer was still active; the last writer's close uploads.
	flushOwed bool
	// fillFor is the staged copy that still has to be filled with
	// fillEntry's content before its first read or write; nil if none.
	fillFor   *writeback.File
	fillEntry remote.Entry
	// filling is closed when the fill in progress ends; nil when none
	// runs. Other callers wait on it (or their context), never on a lock.
	filling chan struct{}
	// unlinked is set once the file was deleted through the filesystem;
	// open handles keep working and stat shows no links.
	unlinked bool
}

// update records e, shown as name in dir, as the newest state.
func (f *File) update(dir *Dir, name string, e remote.Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dir, f.name, f.entry = dir, name, e
}

// location returns the folder holding the file, its ID, and the newest
// entry.
func (f *File) location() (*Dir, remote.Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dir, f.entry
}

// parentID is the remote ID of the folder holding the file.
func (f *File) parentID() remote.ID {
	d, _ := f.location()
	id, _, _ := d.folder(context.Background()) // resolved: the file was found in it
	return id
}

// remoteID returns the file's current remote (or staged) ID.
func (f *File) remoteID() remote.ID {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.id
}

// Path is the file's path from the root.
func (f *File) Path() string {
	f.mu.Lock()
	d, name := f.dir, f.name
	f.mu.Unlock()
	return d.childPath(name)
}

// Ino is the file's inode number.
func (f *File) Ino() uint64 { return f.ino }

// staged returns the file's staged copy, if it has one: found by the
// file's identity (its item, or its staging key), never by its name.
func (f *File) staged() *writeback.File {
	wb := f.acct.fsys.wb
	if wb == nil || f.acct.writer == nil {
		return nil
	}
	id := f.remoteID()
	if isStagedID(id) {
		return wb.ByKey(stagedKey(id))
	}
	return wb.ByItem(f.acct.name, id)
}

// Attr is what stat shows now: with a staged copy, its size and (once
// changed) the time of the last change, since that is what reads return.
func (f *File) Attr() Attr {
	sf := f.staged()
	f.mu.Lock()
	e := f.entry
	unfilled := sf != nil && f.fillFor == sf
	unlinked := f.unlinked
	f.mu.Unlock()
	at := Attr{Ino: f.ino, Size: max(e.Size, 0), ModTime: e.ModTime, Nlink: 1, Version: e.Version.ID,
		Writable: f.acct.writer != nil && !e.ReadOnly}
	stagedChanged := false
	if sf != nil && !unfilled {
		at.Size = sf.Size()
		if sf.Changed() {
			stagedChanged = true
			at.Version = ""
			if m := sf.MTime(); !m.IsZero() {
				at.ModTime = m
			} else if m := sf.Modified(); !m.IsZero() {
				at.ModTime = m
			}
		}
	}
	if !stagedChanged && e.Version.ID != "" {
		// A time the user set on this version (touch -d, rsync -a).
		if t, ok := f.acct.fsys.state.MTime(f.acct.ident, e.Version.ID); ok {
			at.ModTime = t
		}
	}
	if at.ModTime.IsZero() {
		at.ModTime = f.acct.fsys.started
	}
	if unlinked {
		at.Nlink = 0
	}
	return at
}

// Refresh updates the file from the newest listing of its folder that is
// cached, without calling the backend (for stat).
func (f *File) Refresh() {
	d, _ := f.location()
	id := f.parentID()
	if t := f.acct.cachedListing(id); t != nil {
		if e, name, ok := t.find(f.remoteID()); ok {
			f.update(d, name, e)
		}
	}
}

// Open opens the file. A read-only open revalidates the file through its
// folder's listing (one List when the listing is older than MetadataTTL)
// and pins the version it finds for the handle's life; reads of a file
// with a staged copy, and every open for writing, use the staged copy.
func (f *File) Open(ctx context.Context, flags OpenFlags) (*Handle, error) {
	if flags.Write || flags.Trunc {
		return f.openWrite(ctx, flags)
	}
	if sf := f.staged(); sf != nil && sf.TryAcquire() {
		return &Handle{file: f, sf: sf}, nil
	}
	if isStagedID(f.remoteID()) {
		return nil, f.acct.fail(ctx, "open", f.Path(), errStagedGone)
	}
	d, _ := f.location()
	t, err := f.acct.listing(ctx, f.parentID())
	if err != nil {
		return nil, f.acct.fail(ctx, "open", f.Path(), err)
	}
	e, name, ok := t.find(f.remoteID())
	if !ok {
		return nil, f.acct.fail(ctx, "open", f.Path(), &remote.Error{Kind: remote.NotFound, Op: "fs.open", Message: "the file was deleted remotely"})
	}
	f.update(d, name, e)
	r := f.acct.fsys.cache.Open(f.acct.source, f.acct.rangeReads, e.ID, f.acct.cacheVersion(e.Version), e.Size)
	return &Handle{file: f, entry: e, r: r}, nil
}

// OpenFlags are the parts of open(2)'s flags the core acts on.
type OpenFlags struct {
	Write  bool // opened for writing (O_WRONLY or O_RDWR)
	Trunc  bool // O_TRUNC
	Append bool // O_APPEND
}

// Forget tells the core that the front end no longer holds the node.
func (f *File) Forget() { f.acct.forget(f.remoteID(), f) }

// UploadState tells where the file's content is on its way to the
// service: "committed", "open" (changed, not closed yet), "pending",
// "uploading 42%", "failed: <reason>" or "recovered".
func (f *File) UploadState() string {
	sf := f.staged()
	if sf == nil {
		return "committed"
	}
	r := sf.Record()
	switch {
	case r.State == writeback.Recovered:
		return "recovered"
	case r.State == writeback.Uploading:
		pct := int64(100)
		if r.Size > 0 {
			pct = min(100, r.Uploaded*100/r.Size)
		}
		return "uploading " + strconv.FormatInt(pct, 10) + "%"
	case r.State == writeback.Failed:
		return "failed: " + r.LastError
	case r.State == writeback.Pending:
		return "pending"
	case sf.Changed():
		return "open"
	}
	return "committed"
}

// cacheVersion is v as the block cache knows it (keyed by the account's
// identity too).
func (a *account) cacheVersion(v remote.Version) remote.Version {
	return a.source.(namespacedSource).cacheVersion(v)
}

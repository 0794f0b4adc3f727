package fs

import (
	"context"
	"sync"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/bimfs/bimfs/cache/writeback"
	"github.com/bimfs/bimfs/remote"
)

// fileNode is a remote file.
//
// Version consistency. Each handle reads exactly one version, chosen at
// open from the parent's listing. The kernel's page cache and its idea of
// the file size are per inode, not per handle, so the node tracks what the
// kernel holds:
//
//   - shown is the entry whose attributes (size, mtime) the kernel was last
//     given. While page-cache handles are open (pinned > 0), lookups and
//     getattr keep reporting shown, so the kernel never clips or extends
//     an open version with another version's size (close-to-open
//     semantics, as NFS has).
//   - cachedVersion is the version whose pages the kernel may hold.
//
// An open of version v uses the page cache only if the kernel was shown v
// and no handle of another version is using it; it then keeps the kernel's
// pages (FOPEN_KEEP_CACHE) only if cachedVersion is v, and otherwise lets
// the kernel drop them. Any other open reads v with FOPEN_DIRECT_IO, which
// bypasses the page cache and the kernel's size, so it can neither see nor
// leave bytes of another version.
type fileNode struct {
	fusefs.Inode
	acct *account
	// ino is the inode number the kernel knows the node by; it stays when
	// the node gets a new remote ID (see account.rekey).
	ino uint64

	// stageMu serializes setting up a staged copy (which may download the
	// file), so concurrent write opens share one copy.
	stageMu sync.Mutex

	// mu protects the following fields.
	mu sync.Mutex
	// id is the remote ID, or a staged ID (see stagedID) for a new file
	// that is not uploaded yet.
	id            remote.ID
	writers       int          // open handles with write access
	parent        remote.ID    // folder whose listing holds the file
	entry         remote.Entry // newest state a listing showed
	shown         remote.Entry // state the kernel was last given
	pinned        int          // open page-cache handles, all reading shown.Version
	cachedVersion string       // version ID whose pages the kernel may hold
	// fillFor is the staged copy that still has to be filled with
	// fillEntry's content before its first read or write (see
	// fileNode.ensureFilled); nil when there is none.
	fillFor   *writeback.File
	fillEntry remote.Entry
	// flushOwed is set when a close skipped an upload because another
	// writer still had the file open; the last writer's close uploads.
	flushOwed bool
	// idleWriters counts write handles that were flushed (closed) and
	// not written since, whose release has not come yet.
	idleWriters int
	// mtime is a modification time set by utimes, shown while the file
	// still has the content mtimeFor names (a version ID, or mtimeStaged
	// for the staged copy), so rsync -a finds unchanged files unchanged
	// for the life of the mount. The service keeps its own times.
	mtime    time.Time
	mtimeFor string
}

var (
	_ fusefs.NodeOpener        = (*fileNode)(nil)
	_ fusefs.NodeGetattrer     = (*fileNode)(nil)
	_ fusefs.NodeSetattrer     = (*fileNode)(nil)
	_ fusefs.NodeStatfser      = (*fileNode)(nil)
	_ fusefs.NodeGetxattrer    = (*fileNode)(nil)
	_ fusefs.NodeListxattrer   = (*fileNode)(nil)
	_ fusefs.NodeSetxattrer    = (*fileNode)(nil)
	_ fusefs.NodeRemovexattrer = (*fileNode)(nil)
	_ fusefs.NodeOnForgetter   = (*fileNode)(nil)
)

// update records e, from a listing of parent, as the newest state.
func (f *fileNode) update(parent remote.ID, e remote.Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.parent = parent
	f.entry = e
}

// remoteID returns the node's current remote (or staged) ID.
func (f *fileNode) remoteID() remote.ID {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.id
}

// location returns the folder holding the file and its newest entry.
func (f *fileNode) location() (remote.ID, remote.Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.parent, f.entry
}

// report fills out with the attributes the kernel should see now. A file
// with a staged copy shows the staged size and, once changed, the time of
// the last change: that is what reads return.
func (f *fileNode) report(out *fuse.Attr) {
	sf := f.staged()
	f.mu.Lock()
	if f.pinned == 0 {
		f.shown = f.entry
	}
	e := f.shown
	unfilled := sf != nil && f.fillFor == sf
	mtime, mtimeFor := f.mtime, f.mtimeFor
	f.mu.Unlock()
	stagedChanged := false
	if sf != nil && !unfilled {
		rec := sf.Record()
		e.Size = rec.Size
		if rec.State != "" {
			stagedChanged = true
			e.ModTime = rec.Updated
		}
	}
	if !mtime.IsZero() && ((stagedChanged && mtimeFor == mtimeStaged) || (!stagedChanged && mtimeFor == e.Version.ID)) {
		e.ModTime = mtime
	}
	f.acct.fsys.fillFile(out, f.ino, e, f.acct.writer != nil && !e.ReadOnly)
}

// Getattr answers from the newest listing cache.Meta holds for the parent,
// without calling the backend.
func (f *fileNode) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	parent, _ := f.location()
	if t := f.acct.cachedListing(parent); t != nil {
		if e, _, ok := t.find(f.remoteID()); ok {
			f.update(parent, e)
		}
	}
	f.report(&out.Attr)
	return 0
}

// Open revalidates the file through its parent's listing (one List when
// the listing is older than MetadataTTL) and pins the version it finds.
// Opens for writing, and reads of a file that has a staged copy, go to the
// staged copy instead (see stage.go).
func (f *fileNode) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY || flags&syscall.O_TRUNC != 0 {
		return f.openWrite(ctx, flags)
	}
	if h := f.openStagedRead(); h != nil {
		return h, fuse.FOPEN_DIRECT_IO, 0
	}
	parent, _ := f.location()
	t, err := f.acct.listing(ctx, parent)
	if err != nil {
		return nil, 0, f.acct.errno(ctx, "open", f.Path(nil), err)
	}
	e, _, ok := t.find(f.remoteID())
	if !ok {
		f.acct.fsys.log.Info("file was deleted remotely", "account", f.acct.name, "path", f.Path(nil))
		return nil, 0, syscall.ENOENT
	}

	f.mu.Lock()
	f.entry = e
	var fuseFlags uint32
	pinned := false
	switch {
	case f.shown.Version.ID != e.Version.ID:
		// The kernel holds another version's size (or, while pinned,
		// pages): serve this handle around the page cache.
		fuseFlags = fuse.FOPEN_DIRECT_IO
	default:
		pinned = true
		f.pinned++
		if f.cachedVersion == e.Version.ID {
			fuseFlags = fuse.FOPEN_KEEP_CACHE
		}
		f.cachedVersion = e.Version.ID
	}
	f.mu.Unlock()

	r := f.acct.fsys.cache.Open(f.acct.backend, f.acct.rangeReads, e.ID, e.Version, e.Size)
	return &handle{node: f, entry: e, r: r, pinned: pinned}, fuseFlags, 0
}

// release is called when a handle closes.
func (f *fileNode) release(pinned bool) {
	if !pinned {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pinned--
}

// Statfs implements fusefs.NodeStatfser.
func (f *fileNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	fillStatfs(out)
	return 0
}

// OnForget implements fusefs.NodeOnForgetter.
func (f *fileNode) OnForget() { f.acct.forget(f.remoteID(), f) }

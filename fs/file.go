package fs

import (
	"context"
	"sync"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

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
	id   remote.ID

	// mu protects the following fields.
	mu            sync.Mutex
	parent        remote.ID    // folder whose listing holds the file
	entry         remote.Entry // newest state a listing showed
	shown         remote.Entry // state the kernel was last given
	pinned        int          // open page-cache handles, all reading shown.Version
	cachedVersion string       // version ID whose pages the kernel may hold
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

// report fills out with the attributes the kernel should see now.
func (f *fileNode) report(out *fuse.Attr) {
	f.mu.Lock()
	if f.pinned == 0 {
		f.shown = f.entry
	}
	e := f.shown
	f.mu.Unlock()
	f.acct.fsys.fillFile(out, objectIno(f.acct.name, f.id), e)
}

// Getattr answers from the newest listing cache.Meta holds for the parent,
// without calling the backend.
func (f *fileNode) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	f.mu.Lock()
	parent := f.parent
	f.mu.Unlock()
	if t := f.acct.cachedListing(parent); t != nil {
		if e, _, ok := t.find(f.id); ok {
			f.update(parent, e)
		}
	}
	f.report(&out.Attr)
	return 0
}

// Open revalidates the file through its parent's listing (one List when
// the listing is older than MetadataTTL) and pins the version it finds.
func (f *fileNode) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY || flags&syscall.O_TRUNC != 0 {
		return nil, 0, syscall.EROFS
	}
	f.mu.Lock()
	parent := f.parent
	f.mu.Unlock()
	t, err := f.acct.listing(ctx, parent)
	if err != nil {
		return nil, 0, f.acct.errno(ctx, "open", f.Path(nil), err)
	}
	e, _, ok := t.find(f.id)
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

// Setattr refuses truncate, chmod, chown and utimes.
func (f *fileNode) Setattr(ctx context.Context, fh fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}

// Statfs implements fusefs.NodeStatfser.
func (f *fileNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	fillStatfs(out)
	return 0
}

// Getxattr implements fusefs.NodeGetxattrer; see noXattr.
func (f *fileNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return noXattr()
}

// Listxattr implements fusefs.NodeListxattrer; see noXattr.
func (f *fileNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return noXattr()
}

// Setxattr implements fusefs.NodeSetxattrer.
func (f *fileNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return syscall.EROFS
}

// Removexattr implements fusefs.NodeRemovexattrer.
func (f *fileNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return syscall.EROFS
}

// OnForget implements fusefs.NodeOnForgetter.
func (f *fileNode) OnForget() { f.acct.forget(f.id, f) }

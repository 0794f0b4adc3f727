package fusefs

import (
	"context"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/bimfs/bimfs/fs"
)

// fileNode is a file.
//
// Kernel caching. The core pins one version per handle. The kernel's page
// cache and its idea of the file size are per inode, not per handle, so the
// node tracks what the kernel holds:
//
//   - shown is what the kernel was last given (size, mtime, version).
//     While page-cache handles are open (pinned > 0), lookups and getattr
//     keep reporting shown, so the kernel never clips or extends an open
//     version with another version's size (close-to-open, as NFS).
//   - cachedVersion is the version whose pages the kernel may hold.
//
// An open of version v uses the page cache only if the kernel was shown v
// and no handle of another version is using it; it keeps the kernel's
// pages (FOPEN_KEEP_CACHE) only if cachedVersion is v. Any other open,
// and every handle on a staged copy, uses FOPEN_DIRECT_IO, which bypasses
// the page cache and the kernel's size.
type fileNode struct {
	gofs.Inode
	b *bridge
	f *fs.File

	// mu protects the following.
	mu            sync.Mutex
	shown         fs.Attr
	pinned        int
	cachedVersion string
}

var (
	_ gofs.NodeOpener        = (*fileNode)(nil)
	_ gofs.NodeGetattrer     = (*fileNode)(nil)
	_ gofs.NodeSetattrer     = (*fileNode)(nil)
	_ gofs.NodeStatfser      = (*fileNode)(nil)
	_ gofs.NodeGetxattrer    = (*fileNode)(nil)
	_ gofs.NodeListxattrer   = (*fileNode)(nil)
	_ gofs.NodeSetxattrer    = (*fileNode)(nil)
	_ gofs.NodeRemovexattrer = (*fileNode)(nil)
	_ gofs.NodeOnForgetter   = (*fileNode)(nil)
)

// report fills out with the attributes the kernel should see now.
func (n *fileNode) report(out *fuse.Attr) {
	cur := n.f.Attr()
	n.mu.Lock()
	if n.pinned == 0 || cur.Version == "" {
		n.shown = cur
	}
	a := n.shown
	a.Nlink = cur.Nlink
	n.mu.Unlock()
	n.b.fillAttr(out, a)
}

// Getattr answers from the newest listing cached for the folder, without
// calling the backend.
func (n *fileNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.f.Refresh()
	n.report(&out.Attr)
	return 0
}

// Open implements gofs.NodeOpener.
func (n *fileNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	h, err := n.f.Open(ctx, openFlags(flags))
	if err != nil {
		return nil, 0, errno(err)
	}
	fh, fuseFlags := n.opened(h)
	return fh, fuseFlags, 0
}

// opened wraps core handle h and decides how the kernel caches it.
func (n *fileNode) opened(h *fs.Handle) (gofs.FileHandle, uint32) {
	v := h.Version()
	if v == "" {
		// The staged copy: the kernel may still hold the size of the
		// version it was shown last; make it ask again.
		n.b.FileChanged(n.f)
		return &fileHandle{n: n, h: h}, fuse.FOPEN_DIRECT_IO
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.shown.Version != v {
		// The kernel holds another version's size (or, while pinned,
		// pages): serve this handle around the page cache.
		return &fileHandle{n: n, h: h}, fuse.FOPEN_DIRECT_IO
	}
	n.pinned++
	var fuseFlags uint32
	if n.cachedVersion == v {
		fuseFlags = fuse.FOPEN_KEEP_CACHE
	}
	n.cachedVersion = v
	return &fileHandle{n: n, h: h, pinned: true}, fuseFlags
}

// Setattr truncates and sets times through the core; chmod and chown are
// accepted and ignored (see fs.File.SetAttr).
func (n *fileNode) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	var size *int64
	var mtime *time.Time
	if s, ok := in.GetSize(); ok {
		v := int64(s)
		size = &v
	}
	if t, ok := in.GetMTime(); ok {
		mtime = &t
	}
	var h *fs.Handle
	if w, ok := fh.(*fileHandle); ok {
		h = w.h
	}
	if _, err := n.f.SetAttr(ctx, h, size, mtime); err != nil {
		return errno(err)
	}
	n.report(&out.Attr)
	return 0
}

// Statfs implements gofs.NodeStatfser.
func (n *fileNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	fillStatfs(out)
	return 0
}

// OnForget implements gofs.NodeOnForgetter.
func (n *fileNode) OnForget() { n.b.forget(n.f, n) }

// fileHandle is an open file.
type fileHandle struct {
	n      *fileNode
	h      *fs.Handle
	pinned bool // counted in n.pinned (uses the page cache)
}

var (
	_ gofs.FileReader    = (*fileHandle)(nil)
	_ gofs.FileWriter    = (*fileHandle)(nil)
	_ gofs.FileFlusher   = (*fileHandle)(nil)
	_ gofs.FileFsyncer   = (*fileHandle)(nil)
	_ gofs.FileReleaser  = (*fileHandle)(nil)
	_ gofs.FileAllocater = (*fileHandle)(nil)
)

// Allocate implements gofs.FileAllocater: plain preallocation and
// FALLOC_FL_KEEP_SIZE; other modes (punching holes) are EOPNOTSUPP.
func (fh *fileHandle) Allocate(ctx context.Context, off uint64, size uint64, mode uint32) syscall.Errno {
	const keepSize = 0x01 // FALLOC_FL_KEEP_SIZE
	if mode&^keepSize != 0 {
		return syscall.EOPNOTSUPP
	}
	return errno(fh.h.Allocate(ctx, int64(off), int64(size), mode&keepSize != 0))
}

// Read implements gofs.FileReader.
func (fh *fileHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := fh.h.ReadAt(ctx, dest, off)
	if err != nil {
		return nil, errno(err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// Write implements gofs.FileWriter.
func (fh *fileHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	n, err := fh.h.WriteAt(ctx, data, off)
	return uint32(n), errno(err)
}

// Flush implements gofs.FileFlusher (every close(2)). The kernel
// interrupts a request for any signal the caller gets (a Go program's
// preemption signals too); a close that waits for the service must not be
// cut short by one, or the caller sees EINTR from close(2), which it cannot
// retry. So the commit ignores the interruption and runs to its end.
func (fh *fileHandle) Flush(ctx context.Context) syscall.Errno {
	return errno(fh.h.Flush(context.WithoutCancel(ctx)))
}

// Fsync implements gofs.FileFsyncer; like Flush it is not cut short by an
// interruption.
func (fh *fileHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return errno(fh.h.Fsync(context.WithoutCancel(ctx)))
}

// Release implements gofs.FileReleaser.
func (fh *fileHandle) Release(ctx context.Context) syscall.Errno {
	if fh.pinned {
		fh.n.mu.Lock()
		fh.n.pinned--
		fh.n.mu.Unlock()
	}
	fh.h.Release(ctx)
	return 0
}

// Extended attributes. Files have read-only attributes: user.bimfs.upload
// (see fs.File.UploadState) and the version attributes (see
// fs.File.VersionXattrs). Every other name answers ENODATA and setting any attribute fails with ENOTSUP (EROFS on
// read-only accounts). All answers come from memory: the kernel asks for
// two attributes per file in ls -l. Options.NoXattrs answers ENOSYS, which
// stops the kernel asking at all.

// xattrUpload is the name of the upload-state attribute.
const xattrUpload = "user.bimfs.upload"

// xattrReply copies value into dest following getxattr(2): an empty dest
// asks for the size.
func xattrReply(value string, dest []byte) (uint32, syscall.Errno) {
	if len(dest) == 0 {
		return uint32(len(value)), 0
	}
	if len(dest) < len(value) {
		return uint32(len(value)), syscall.ERANGE
	}
	return uint32(copy(dest, value)), 0
}

// Getxattr implements gofs.NodeGetxattrer.
func (n *fileNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if n.b.opts.NoXattrs {
		return 0, syscall.ENOSYS
	}
	if attr == xattrUpload {
		return xattrReply(n.f.UploadState(), dest)
	}
	if v, ok := findXattr(n.f.VersionXattrs(), attr); ok {
		return xattrReply(v, dest)
	}
	return 0, syscall.ENODATA
}

// Listxattr implements gofs.NodeListxattrer.
func (n *fileNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	if n.b.opts.NoXattrs {
		return 0, syscall.ENOSYS
	}
	return xattrReply(xattrNames(n.f.VersionXattrs(), xattrUpload), dest)
}

// Setxattr implements gofs.NodeSetxattrer.
func (n *fileNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	if !n.f.Attr().Writable {
		return syscall.EROFS
	}
	return syscall.ENOTSUP
}

// Removexattr implements gofs.NodeRemovexattrer.
func (n *fileNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	if !n.f.Attr().Writable {
		return syscall.EROFS
	}
	if _, ok := findXattr(n.f.VersionXattrs(), attr); ok || attr == xattrUpload {
		return syscall.EPERM
	}
	return syscall.ENODATA
}

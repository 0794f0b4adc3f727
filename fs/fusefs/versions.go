package fusefs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/bimfs/bimfs/fs"
)

// The version-history tree (see fs.VersionsDirName): ".versions" and the
// per-file directories below it are historyDirNodes, each version a
// versionNode. All of it is read-only: every change answers EROFS.

// historyDir is what the core's two history directory kinds share.
type historyDir interface {
	fs.Node
	Lookup(ctx context.Context, name string) (fs.Node, error)
	ReadDir(ctx context.Context) ([]fs.DirEntry, error)
	Forget()
}

var (
	_ historyDir = (*fs.VersionsDir)(nil)
	_ historyDir = (*fs.FileVersions)(nil)
)

// readOnlyTree marks the nodes of the history tree.
type readOnlyTree interface{ readOnlyTree() }

// historyNode returns the go-fuse node of a history-tree core node.
func (b *bridge) historyNode(n fs.Node) gofs.InodeEmbedder {
	switch n := n.(type) {
	case historyDir:
		return &historyDirNode{b: b, d: n}
	case *fs.VersionFile:
		return &versionNode{b: b, v: n}
	}
	return nil
}

// historyDirNode is ".versions" or ".versions/<file>".
type historyDirNode struct {
	gofs.Inode
	b *bridge
	d historyDir
}

var (
	_ gofs.NodeLookuper      = (*historyDirNode)(nil)
	_ gofs.NodeReaddirer     = (*historyDirNode)(nil)
	_ gofs.NodeGetattrer     = (*historyDirNode)(nil)
	_ gofs.NodeSetattrer     = (*historyDirNode)(nil)
	_ gofs.NodeStatfser      = (*historyDirNode)(nil)
	_ gofs.NodeGetxattrer    = (*historyDirNode)(nil)
	_ gofs.NodeListxattrer   = (*historyDirNode)(nil)
	_ gofs.NodeSetxattrer    = (*historyDirNode)(nil)
	_ gofs.NodeRemovexattrer = (*historyDirNode)(nil)
	_ gofs.NodeOnForgetter   = (*historyDirNode)(nil)
	_ gofs.NodeMkdirer       = (*historyDirNode)(nil)
	_ gofs.NodeCreater       = (*historyDirNode)(nil)
	_ gofs.NodeUnlinker      = (*historyDirNode)(nil)
	_ gofs.NodeRmdirer       = (*historyDirNode)(nil)
	_ gofs.NodeRenamer       = (*historyDirNode)(nil)
	_ gofs.NodeSymlinker     = (*historyDirNode)(nil)
	_ gofs.NodeLinker        = (*historyDirNode)(nil)
	_ gofs.NodeMknoder       = (*historyDirNode)(nil)
)

func (n *historyDirNode) readOnlyTree() {}

// Lookup implements gofs.NodeLookuper.
func (n *historyDirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	c, err := n.d.Lookup(ctx, name)
	if err != nil {
		return nil, errno(err)
	}
	return n.b.inode(ctx, &n.Inode, c, out), 0
}

// Readdir lists the directory with "." and "..".
func (n *historyDirNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	entries, err := n.d.ReadDir(ctx)
	if err != nil {
		return nil, errno(err)
	}
	return dirStream(&n.Inode, entries), 0
}

// Getattr implements gofs.NodeGetattrer.
func (n *historyDirNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.b.fillAttr(&out.Attr, n.d.Attr())
	return 0
}

// Setattr implements gofs.NodeSetattrer.
func (n *historyDirNode) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}

// Statfs implements gofs.NodeStatfser.
func (n *historyDirNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	fillStatfs(out)
	return 0
}

// OnForget implements gofs.NodeOnForgetter.
func (n *historyDirNode) OnForget() { n.b.forget(n.d, n) }

// Getxattr implements gofs.NodeGetxattrer: history directories have none.
func (n *historyDirNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if n.b.opts.NoXattrs {
		return 0, syscall.ENOSYS
	}
	return 0, syscall.ENODATA
}

// Listxattr implements gofs.NodeListxattrer.
func (n *historyDirNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	if n.b.opts.NoXattrs {
		return 0, syscall.ENOSYS
	}
	return 0, 0
}

// Setxattr implements gofs.NodeSetxattrer.
func (n *historyDirNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return syscall.EROFS
}

// Removexattr implements gofs.NodeRemovexattrer.
func (n *historyDirNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return syscall.EROFS
}

// Mkdir implements gofs.NodeMkdirer.
func (n *historyDirNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// Create implements gofs.NodeCreater.
func (n *historyDirNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EROFS
}

// Unlink implements gofs.NodeUnlinker.
func (n *historyDirNode) Unlink(ctx context.Context, name string) syscall.Errno { return syscall.EROFS }

// Rmdir implements gofs.NodeRmdirer.
func (n *historyDirNode) Rmdir(ctx context.Context, name string) syscall.Errno { return syscall.EROFS }

// Rename implements gofs.NodeRenamer.
func (n *historyDirNode) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	return syscall.EROFS
}

// Symlink implements gofs.NodeSymlinker.
func (n *historyDirNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// Link implements gofs.NodeLinker.
func (n *historyDirNode) Link(ctx context.Context, target gofs.InodeEmbedder, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// Mknod implements gofs.NodeMknoder.
func (n *historyDirNode) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// versionNode is one version of a file. Its bytes never change, so the
// kernel keeps its pages across opens (FOPEN_KEEP_CACHE).
type versionNode struct {
	gofs.Inode
	b *bridge
	v *fs.VersionFile
}

var (
	_ gofs.NodeOpener        = (*versionNode)(nil)
	_ gofs.NodeGetattrer     = (*versionNode)(nil)
	_ gofs.NodeSetattrer     = (*versionNode)(nil)
	_ gofs.NodeStatfser      = (*versionNode)(nil)
	_ gofs.NodeGetxattrer    = (*versionNode)(nil)
	_ gofs.NodeListxattrer   = (*versionNode)(nil)
	_ gofs.NodeSetxattrer    = (*versionNode)(nil)
	_ gofs.NodeRemovexattrer = (*versionNode)(nil)
	_ gofs.NodeOnForgetter   = (*versionNode)(nil)
)

func (n *versionNode) readOnlyTree() {}

// Open implements gofs.NodeOpener.
func (n *versionNode) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	h, err := n.v.Open(ctx, openFlags(flags))
	if err != nil {
		return nil, 0, errno(err)
	}
	return &versionHandle{h: h}, fuse.FOPEN_KEEP_CACHE, 0
}

// Getattr implements gofs.NodeGetattrer.
func (n *versionNode) Getattr(ctx context.Context, fh gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.b.fillAttr(&out.Attr, n.v.Attr())
	return 0
}

// Setattr implements gofs.NodeSetattrer: versions never change.
func (n *versionNode) Setattr(ctx context.Context, fh gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}

// Statfs implements gofs.NodeStatfser.
func (n *versionNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	fillStatfs(out)
	return 0
}

// OnForget implements gofs.NodeOnForgetter.
func (n *versionNode) OnForget() { n.b.forget(n.v, n) }

// Getxattr implements gofs.NodeGetxattrer: the version attributes.
func (n *versionNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if n.b.opts.NoXattrs {
		return 0, syscall.ENOSYS
	}
	if v, ok := findXattr(n.v.VersionXattrs(), attr); ok {
		return xattrReply(v, dest)
	}
	return 0, syscall.ENODATA
}

// Listxattr implements gofs.NodeListxattrer.
func (n *versionNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	if n.b.opts.NoXattrs {
		return 0, syscall.ENOSYS
	}
	return xattrReply(xattrNames(n.v.VersionXattrs()), dest)
}

// Setxattr implements gofs.NodeSetxattrer.
func (n *versionNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return syscall.EROFS
}

// Removexattr implements gofs.NodeRemovexattrer.
func (n *versionNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return syscall.EROFS
}

// versionHandle is an open version.
type versionHandle struct {
	h *fs.VersionHandle
}

var (
	_ gofs.FileReader   = (*versionHandle)(nil)
	_ gofs.FileReleaser = (*versionHandle)(nil)
)

// Read implements gofs.FileReader.
func (fh *versionHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := fh.h.ReadAt(ctx, dest, off)
	if err != nil {
		return nil, errno(err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// Release implements gofs.FileReleaser.
func (fh *versionHandle) Release(ctx context.Context) syscall.Errno {
	fh.h.Release()
	return 0
}

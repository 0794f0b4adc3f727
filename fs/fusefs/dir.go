package fusefs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/bimfs/bimfs/fs"
)

// dirNode is a directory: the root, an account or a folder.
type dirNode struct {
	gofs.Inode
	b *bridge
	d *fs.Dir
}

var (
	_ gofs.NodeLookuper      = (*dirNode)(nil)
	_ gofs.NodeReaddirer     = (*dirNode)(nil)
	_ gofs.NodeGetattrer     = (*dirNode)(nil)
	_ gofs.NodeSetattrer     = (*dirNode)(nil)
	_ gofs.NodeStatfser      = (*dirNode)(nil)
	_ gofs.NodeGetxattrer    = (*dirNode)(nil)
	_ gofs.NodeListxattrer   = (*dirNode)(nil)
	_ gofs.NodeSetxattrer    = (*dirNode)(nil)
	_ gofs.NodeRemovexattrer = (*dirNode)(nil)
	_ gofs.NodeOnForgetter   = (*dirNode)(nil)
	_ gofs.NodeMkdirer       = (*dirNode)(nil)
	_ gofs.NodeCreater       = (*dirNode)(nil)
	_ gofs.NodeUnlinker      = (*dirNode)(nil)
	_ gofs.NodeRmdirer       = (*dirNode)(nil)
	_ gofs.NodeRenamer       = (*dirNode)(nil)
	_ gofs.NodeSymlinker     = (*dirNode)(nil)
	_ gofs.NodeLinker        = (*dirNode)(nil)
	_ gofs.NodeMknoder       = (*dirNode)(nil)
	_ gofs.NodeTmpfiler      = (*dirNode)(nil)
)

// Lookup implements gofs.NodeLookuper.
func (n *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	c, err := n.d.Lookup(ctx, name)
	if err != nil {
		return nil, errno(err)
	}
	return n.b.inode(ctx, &n.Inode, c, out), 0
}

// Readdir lists the directory with "." and "..", which readdir(3) users
// such as `ls -a` expect as on any local directory.
func (n *dirNode) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	entries, err := n.d.ReadDir(ctx)
	if err != nil {
		return nil, errno(err)
	}
	return dirStream(&n.Inode, entries), 0
}

// dirStream is the listing of the directory self: ".", ".." and entries.
func dirStream(self *gofs.Inode, entries []fs.DirEntry) gofs.DirStream {
	ino := self.StableAttr().Ino
	parent := ino
	if _, p := self.Parent(); p != nil {
		parent = p.StableAttr().Ino
	}
	out := make([]fuse.DirEntry, 0, len(entries)+2)
	out = append(out,
		fuse.DirEntry{Name: ".", Ino: ino, Mode: syscall.S_IFDIR},
		fuse.DirEntry{Name: "..", Ino: parent, Mode: syscall.S_IFDIR})
	for _, e := range entries {
		mode := uint32(syscall.S_IFREG)
		if e.Dir {
			mode = syscall.S_IFDIR
		}
		out = append(out, fuse.DirEntry{Name: e.Name, Ino: e.Ino, Mode: mode})
	}
	return gofs.NewListDirStream(out)
}

// Getattr implements gofs.NodeGetattrer.
func (n *dirNode) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.b.fillAttr(&out.Attr, n.d.Attr())
	return 0
}

// Setattr accepts and ignores chmod, chown and utimes on folders of
// writable accounts (see fs.File.SetAttr for why).
func (n *dirNode) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if err := n.d.Writable(); err != nil {
		return errno(err)
	}
	return n.Getattr(ctx, f, out)
}

// Statfs implements gofs.NodeStatfser.
func (n *dirNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	fillStatfs(out)
	return 0
}

// OnForget implements gofs.NodeOnForgetter.
func (n *dirNode) OnForget() { n.b.forget(n.d, n) }

// Mkdir implements gofs.NodeMkdirer.
func (n *dirNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	d, err := n.d.Mkdir(ctx, name)
	if err != nil {
		return nil, errno(err)
	}
	return n.b.inode(ctx, &n.Inode, d, out), 0
}

// Create implements gofs.NodeCreater.
func (n *dirNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	f, h, err := n.d.Create(ctx, name, openFlags(flags), flags&syscall.O_EXCL != 0)
	if err != nil {
		return nil, nil, 0, errno(err)
	}
	ch := n.b.inode(ctx, &n.Inode, f, out)
	fn := ch.Operations().(*fileNode)
	fh, fuseFlags := fn.opened(h)
	fn.report(&out.Attr)
	return ch, fh, fuseFlags, 0
}

// Unlink implements gofs.NodeUnlinker.
func (n *dirNode) Unlink(ctx context.Context, name string) syscall.Errno {
	return errno(n.d.Unlink(ctx, name))
}

// Rmdir implements gofs.NodeRmdirer.
func (n *dirNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	return errno(n.d.Rmdir(ctx, name))
}

// Flags of renameat2(2).
const (
	renameNoReplace = 1 << 0
	renameExchange  = 1 << 1
	renameWhiteout  = 1 << 2
)

// Rename implements gofs.NodeRenamer. RENAME_EXCHANGE and RENAME_WHITEOUT
// have no meaning for the services (EINVAL).
func (n *dirNode) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if flags&(renameExchange|renameWhiteout) != 0 {
		return syscall.EINVAL
	}
	if _, ok := newParent.(readOnlyTree); ok {
		return syscall.EROFS
	}
	if newName == fs.VersionsDirName {
		// The kernel saw the history directory there: renaming a folder
		// over it would hide it.
		return syscall.EEXIST
	}
	to, ok := newParent.(*dirNode)
	if !ok {
		return syscall.EXDEV
	}
	return errno(n.d.Rename(ctx, name, to.d, newName, fs.RenameFlags{NoReplace: flags&renameNoReplace != 0}))
}

// Symlink implements gofs.NodeSymlinker: the services have no links.
func (n *dirNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, n.unsupported(syscall.EPERM)
}

// Link implements gofs.NodeLinker: the services have no hard links.
func (n *dirNode) Link(ctx context.Context, target gofs.InodeEmbedder, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, n.unsupported(syscall.EPERM)
}

// Mknod implements gofs.NodeMknoder: only regular files and folders.
func (n *dirNode) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	return nil, n.unsupported(syscall.EPERM)
}

// Tmpfile implements gofs.NodeTmpfiler. EOPNOTSUPP makes callers of
// O_TMPFILE fall back to a named temporary file.
func (n *dirNode) Tmpfile(ctx context.Context, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, n.unsupported(syscall.EOPNOTSUPP)
}

// unsupported is errno on writable accounts and EROFS on the others.
func (n *dirNode) unsupported(e syscall.Errno) syscall.Errno {
	if !n.d.CanWrite() {
		return syscall.EROFS
	}
	return e
}

// Getxattr implements gofs.NodeGetxattrer: folders have none. The answer
// comes from memory, so ls -l asking twice per entry stays cheap.
func (n *dirNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if n.b.opts.NoXattrs {
		return 0, syscall.ENOSYS
	}
	return 0, syscall.ENODATA
}

// Listxattr implements gofs.NodeListxattrer: folders have none.
func (n *dirNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	if n.b.opts.NoXattrs {
		return 0, syscall.ENOSYS
	}
	return 0, 0
}

// Setxattr implements gofs.NodeSetxattrer.
func (n *dirNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return n.unsupported(syscall.ENOTSUP)
}

// Removexattr implements gofs.NodeRemovexattrer.
func (n *dirNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return n.unsupported(syscall.ENODATA)
}

// openFlags extracts what the core needs from open(2) flags.
func openFlags(flags uint32) fs.OpenFlags {
	return fs.OpenFlags{
		Write:  flags&syscall.O_ACCMODE != syscall.O_RDONLY,
		Trunc:  flags&syscall.O_TRUNC != 0,
		Append: flags&syscall.O_APPEND != 0,
	}
}

// Capacity reported by statfs. Services do not report a quota cheaply, so
// the mount shows a large, constant, mostly free volume (as other cloud
// filesystems do): df stays readable and tools that check free space
// before copying do not refuse.
const (
	statfsBlockSize = 4096
	statfsBlocks    = 1 << 38 // 1 PiB in 4 KiB blocks
	statfsFiles     = 1 << 32
	maxNameLen      = 255
)

func fillStatfs(out *fuse.StatfsOut) {
	*out = fuse.StatfsOut{
		Blocks:  statfsBlocks,
		Bfree:   statfsBlocks,
		Bavail:  statfsBlocks,
		Files:   statfsFiles,
		Ffree:   statfsFiles,
		Bsize:   statfsBlockSize,
		NameLen: maxNameLen,
		Frsize:  statfsBlockSize,
	}
}

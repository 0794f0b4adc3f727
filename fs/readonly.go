package fs

import (
	"context"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// readOnlyDir answers every directory operation that would change the tree
// with EROFS until the write path exists. Directory nodes embed it.
type readOnlyDir struct{}

var (
	_ fusefs.NodeMkdirer   = readOnlyDir{}
	_ fusefs.NodeCreater   = readOnlyDir{}
	_ fusefs.NodeUnlinker  = readOnlyDir{}
	_ fusefs.NodeRmdirer   = readOnlyDir{}
	_ fusefs.NodeRenamer   = readOnlyDir{}
	_ fusefs.NodeSymlinker = readOnlyDir{}
	_ fusefs.NodeLinker    = readOnlyDir{}
	_ fusefs.NodeMknoder   = readOnlyDir{}
	_ fusefs.NodeSetattrer = readOnlyDir{}
	_ fusefs.NodeTmpfiler  = readOnlyDir{}
)

// Mkdir implements fusefs.NodeMkdirer.
func (readOnlyDir) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// Create implements fusefs.NodeCreater.
func (readOnlyDir) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, fusefs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EROFS
}

// Tmpfile implements fusefs.NodeTmpfiler.
func (readOnlyDir) Tmpfile(ctx context.Context, flags uint32, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, fusefs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EROFS
}

// Unlink implements fusefs.NodeUnlinker.
func (readOnlyDir) Unlink(ctx context.Context, name string) syscall.Errno { return syscall.EROFS }

// Rmdir implements fusefs.NodeRmdirer.
func (readOnlyDir) Rmdir(ctx context.Context, name string) syscall.Errno { return syscall.EROFS }

// Rename implements fusefs.NodeRenamer.
func (readOnlyDir) Rename(ctx context.Context, name string, newParent fusefs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	return syscall.EROFS
}

// Symlink implements fusefs.NodeSymlinker.
func (readOnlyDir) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// Link implements fusefs.NodeLinker.
func (readOnlyDir) Link(ctx context.Context, target fusefs.InodeEmbedder, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// Mknod implements fusefs.NodeMknoder.
func (readOnlyDir) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	return nil, syscall.EROFS
}

// Setattr implements fusefs.NodeSetattrer (chmod, chown, utimes).
func (readOnlyDir) Setattr(ctx context.Context, f fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}

// Setxattr implements fusefs.NodeSetxattrer.
func (readOnlyDir) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return syscall.EROFS
}

// Removexattr implements fusefs.NodeRemovexattrer.
func (readOnlyDir) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return syscall.EROFS
}

package fs

import (
	"context"
	"sync"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/bimfs/bimfs/remote"
)

// dirNode is a remote folder: an account's top folder or any folder below.
type dirNode struct {
	fusefs.Inode
	readOnlyDir
	acct *account
	// isTop marks the account's top folder, whose ID is resolved on first
	// use (see account.topFolder); id is empty for it.
	isTop bool
	id    remote.ID

	// mu protects entry.
	mu    sync.Mutex
	entry remote.Entry // as the parent's listing last showed it
}

var (
	_ fusefs.NodeLookuper    = (*dirNode)(nil)
	_ fusefs.NodeReaddirer   = (*dirNode)(nil)
	_ fusefs.NodeGetattrer   = (*dirNode)(nil)
	_ fusefs.NodeStatfser    = (*dirNode)(nil)
	_ fusefs.NodeGetxattrer  = (*dirNode)(nil)
	_ fusefs.NodeListxattrer = (*dirNode)(nil)
	_ fusefs.NodeOnForgetter = (*dirNode)(nil)
)

// folder returns the remote ID of the folder and its entry.
func (d *dirNode) folder(ctx context.Context) (remote.ID, remote.Entry, error) {
	if d.isTop {
		e, err := d.acct.topFolder(ctx)
		return e.ID, e, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.id, d.entry, nil
}

// path is the node's path in the mount, for log lines.
func (d *dirNode) path() string { return d.Path(nil) }

// listing returns the folder's current table, revalidated per MetadataTTL.
func (d *dirNode) listing(ctx context.Context, op string) (remote.ID, *dirTable, syscall.Errno) {
	id, _, err := d.folder(ctx)
	if err != nil {
		return "", nil, d.acct.errno(ctx, op, d.path(), err)
	}
	t, err := d.acct.listing(ctx, id)
	if err != nil {
		return "", nil, d.acct.errno(ctx, op, d.path(), err)
	}
	return id, t, 0
}

// Lookup answers from the folder's listing: no per-file remote call.
func (d *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	id, t, errno := d.listing(ctx, "lookup")
	if errno != 0 {
		return nil, errno
	}
	e, ok := t.lookup(name)
	if !ok {
		return nil, syscall.ENOENT
	}
	return d.childInode(ctx, id, e, out), 0
}

// childInode returns the inode of child e of the folder (whose ID is id)
// and fills out with its attributes.
func (d *dirNode) childInode(ctx context.Context, id remote.ID, e remote.Entry, out *fuse.EntryOut) *fusefs.Inode {
	if e.Dir {
		n := d.acct.dirNode(e)
		ino := objectIno(d.acct.name, e.ID)
		d.acct.fsys.fillDir(&out.Attr, ino, e.ModTime, d.acct.writer != nil && e.ReadOnly)
		return d.newInode(ctx, n, fusefs.StableAttr{Mode: syscall.S_IFDIR, Ino: ino, Gen: inoGen})
	}
	n := d.acct.fileNode(id, e)
	n.report(&out.Attr)
	return d.newInode(ctx, n, fusefs.StableAttr{Mode: syscall.S_IFREG, Ino: n.ino, Gen: inoGen})
}

// Readdir lists the folder sorted by shown name. With READDIRPLUS the
// kernel then looks up every entry, which Lookup answers from the same
// cached listing.
func (d *dirNode) Readdir(ctx context.Context) (fusefs.DirStream, syscall.Errno) {
	_, t, errno := d.listing(ctx, "readdir")
	if errno != 0 {
		return nil, errno
	}
	out := dotEntries(&d.Inode, len(t.entries))
	d.acct.mu.Lock()
	for i, e := range t.entries {
		mode := uint32(syscall.S_IFREG)
		if e.Dir {
			mode = syscall.S_IFDIR
		}
		out = append(out, fuse.DirEntry{Name: t.names[i], Ino: d.acct.inoLocked(e.ID), Mode: mode})
	}
	d.acct.mu.Unlock()
	return fusefs.NewListDirStream(out), 0
}

// dotEntries starts a listing of n entries with "." and "..", which
// readdir(3) users such as `ls -a` expect as on any local directory.
func dotEntries(in *fusefs.Inode, n int) []fuse.DirEntry {
	self := in.StableAttr().Ino
	parent := self
	if _, p := in.Parent(); p != nil {
		parent = p.StableAttr().Ino
	}
	out := make([]fuse.DirEntry, 0, n+2)
	return append(out,
		fuse.DirEntry{Name: ".", Ino: self, Mode: syscall.S_IFDIR},
		fuse.DirEntry{Name: "..", Ino: parent, Mode: syscall.S_IFDIR})
}

// Getattr answers from the entry the parent's listing gave.
func (d *dirNode) Getattr(ctx context.Context, f fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if d.isTop {
		d.acct.mu.Lock()
		top := d.acct.topEntry
		d.acct.mu.Unlock()
		d.acct.fsys.fillDir(&out.Attr, accountIno(d.acct.name), top.ModTime, d.acct.writer != nil && top.ReadOnly)
		return 0
	}
	d.mu.Lock()
	e := d.entry
	d.mu.Unlock()
	d.acct.fsys.fillDir(&out.Attr, objectIno(d.acct.name, e.ID), e.ModTime, d.acct.writer != nil && e.ReadOnly)
	return 0
}

// Statfs implements fusefs.NodeStatfser.
func (d *dirNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	fillStatfs(out)
	return 0
}

// Getxattr implements fusefs.NodeGetxattrer: folders have none. The
// answer comes from memory, so ls -l asking twice per entry stays cheap.
func (d *dirNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return 0, syscall.ENODATA
}

// Listxattr implements fusefs.NodeListxattrer: folders have none.
func (d *dirNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return 0, 0
}

// OnForget implements fusefs.NodeOnForgetter.
func (d *dirNode) OnForget() {
	if !d.isTop {
		d.acct.forget(d.id, d)
	}
}

// newInode is NewInode for a node from the account's registry. go-fuse
// checks and initialises a node's Inode without a lock, and two lookups
// (a READDIRPLUS and a LOOKUP, or two paths) may return the same node at
// once, so the filesystem serializes those calls itself.
func (d *dirNode) newInode(ctx context.Context, n fusefs.InodeEmbedder, attr fusefs.StableAttr) *fusefs.Inode {
	d.acct.fsys.inodeMu.Lock()
	defer d.acct.fsys.inodeMu.Unlock()
	return d.NewInode(ctx, n, attr)
}

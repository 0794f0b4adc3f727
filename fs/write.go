package fs

import (
	"context"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/bimfs/bimfs/remote"
)

// Folder operations that change the tree. Each checks what it can from the
// folder's listing first (EEXIST, ENOTEMPTY, ENOENT) so a refused call
// costs no remote request, then asks the backend, and on success edits the
// cached listings (cache.Meta.Upsert/Remove) so the change shows at once.
// The kernel updates its own name cache for the call it made.

var (
	_ fusefs.NodeMkdirer       = (*dirNode)(nil)
	_ fusefs.NodeCreater       = (*dirNode)(nil)
	_ fusefs.NodeUnlinker      = (*dirNode)(nil)
	_ fusefs.NodeRmdirer       = (*dirNode)(nil)
	_ fusefs.NodeRenamer       = (*dirNode)(nil)
	_ fusefs.NodeSetattrer     = (*dirNode)(nil)
	_ fusefs.NodeSetxattrer    = (*dirNode)(nil)
	_ fusefs.NodeRemovexattrer = (*dirNode)(nil)
	_ fusefs.NodeSymlinker     = (*dirNode)(nil)
	_ fusefs.NodeLinker        = (*dirNode)(nil)
	_ fusefs.NodeMknoder       = (*dirNode)(nil)
	_ fusefs.NodeTmpfiler      = (*dirNode)(nil)
)

// Flags of renameat2(2).
const (
	renameNoReplace = 1 << 0
	renameExchange  = 1 << 1
	renameWhiteout  = 1 << 2
)

// writeTarget checks that the folder's children may be changed and returns
// its ID and current listing.
func (d *dirNode) writeTarget(ctx context.Context, op string) (remote.ID, *dirTable, syscall.Errno) {
	if d.acct.writer == nil {
		return "", nil, syscall.EROFS
	}
	id, e, err := d.folder(ctx)
	if err != nil {
		return "", nil, d.acct.errno(ctx, op, d.path(), err)
	}
	if e.ReadOnly {
		return "", nil, syscall.EACCES
	}
	t, err := d.acct.listing(ctx, id)
	if err != nil {
		return "", nil, d.acct.errno(ctx, op, d.path(), err)
	}
	return id, t, 0
}

// childPath is the mount path of child name, for log lines.
func (d *dirNode) childPath(name string) string { return d.path() + "/" + name }

// Create creates a new file, staged until its first close, or opens an
// existing one (the kernel's name cache may not have known it).
func (d *dirNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, fusefs.FileHandle, uint32, syscall.Errno) {
	a := d.acct
	id, t, errno := d.writeTarget(ctx, "create")
	if errno != 0 {
		return nil, nil, 0, errno
	}
	if e, ok := t.lookup(name); ok {
		if flags&syscall.O_EXCL != 0 {
			return nil, nil, 0, syscall.EEXIST
		}
		if e.Dir {
			return nil, nil, 0, syscall.EISDIR
		}
		ch := d.childInode(ctx, id, e, out)
		n := ch.Operations().(*fileNode)
		fh, fuseFlags, errno := n.Open(ctx, flags)
		if errno != 0 {
			return nil, nil, 0, errno
		}
		n.report(&out.Attr)
		return ch, fh, fuseFlags, 0
	}
	remoteName := decodeName(name)
	sf, err := a.fsys.wb.Create(a.name, id, remoteName, "", "")
	if err != nil {
		return nil, nil, 0, a.errno(ctx, "create", d.childPath(name), err)
	}
	// Even a file closed without a write (touch) must reach the service.
	if err := sf.MarkDirty(); err != nil {
		sf.Discard()
		sf.Release()
		return nil, nil, 0, a.errno(ctx, "create", d.childPath(name), err)
	}
	n := a.fileNode(id, remote.Entry{ID: stagedID(sf.Record().Key), Name: remoteName, ModTime: time.Now()})
	h := &stagedHandle{
		node:    n,
		sf:      sf,
		write:   flags&syscall.O_ACCMODE != syscall.O_RDONLY,
		append:  flags&syscall.O_APPEND != 0,
		changed: true, // creating is a change, even without a write
	}
	if h.write {
		n.mu.Lock()
		n.writers++
		n.mu.Unlock()
	}
	n.report(&out.Attr)
	ch := d.newInode(ctx, n, fusefs.StableAttr{Mode: syscall.S_IFREG, Ino: n.ino, Gen: inoGen})
	return ch, h, fuse.FOPEN_DIRECT_IO, 0
}

// Mkdir creates a remote folder at once.
func (d *dirNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	a := d.acct
	id, t, errno := d.writeTarget(ctx, "mkdir")
	if errno != 0 {
		return nil, errno
	}
	if _, ok := t.lookup(name); ok {
		return nil, syscall.EEXIST
	}
	e, err := a.writer.Mkdir(ctx, id, decodeName(name))
	if err != nil {
		// Invalid names are logged with the service's rule by errno.
		return nil, a.errno(ctx, "mkdir", d.childPath(name), err)
	}
	a.meta.Upsert(id, e)
	// A new folder is empty: cp -r into it needs no List.
	a.meta.Put(e.ID, nil)
	return d.childInode(ctx, id, e, out), 0
}

// Unlink deletes a file, or only its staged copy if it was never uploaded.
func (d *dirNode) Unlink(ctx context.Context, name string) syscall.Errno {
	a := d.acct
	id, t, errno := d.writeTarget(ctx, "unlink")
	if errno != 0 {
		return errno
	}
	e, ok := t.lookup(name)
	if !ok {
		return syscall.ENOENT
	}
	if e.Dir {
		return syscall.EISDIR
	}
	if e.ReadOnly {
		return syscall.EACCES
	}
	target := e.ID
	if sf := a.fsys.wb.Find(a.name, id, e.Name); sf != nil {
		// Discard waits for an upload in progress; if that committed
		// the file, the remote file goes too.
		sf.Discard()
		if isStagedID(target) {
			target = sf.Record().Existing
		}
	} else if isStagedID(target) {
		// Uploaded and released since the listing was read.
		t, err := a.listing(ctx, id)
		if err != nil {
			return a.errno(ctx, "unlink", d.childPath(name), err)
		}
		if e, ok = t.lookup(name); !ok || isStagedID(e.ID) || e.Dir {
			return syscall.ENOENT
		}
		target = e.ID
	}
	if target == "" {
		return 0
	}
	err := a.writer.Remove(ctx, target)
	if err != nil && !remote.IsKind(err, remote.NotFound) {
		return a.errno(ctx, "unlink", d.childPath(name), err)
	}
	a.meta.Remove(id, target)
	if err != nil {
		return a.errno(ctx, "unlink", d.childPath(name), err)
	}
	return 0
}

// Rmdir deletes an empty remote folder.
func (d *dirNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	a := d.acct
	id, t, errno := d.writeTarget(ctx, "rmdir")
	if errno != 0 {
		return errno
	}
	e, ok := t.lookup(name)
	if !ok {
		return syscall.ENOENT
	}
	if !e.Dir {
		return syscall.ENOTDIR
	}
	if e.ReadOnly {
		return syscall.EACCES
	}
	children, err := a.listing(ctx, e.ID)
	if err != nil {
		return a.errno(ctx, "rmdir", d.childPath(name), err)
	}
	if len(children.entries) > 0 {
		// Staged files count: removing their folder would strand them.
		return syscall.ENOTEMPTY
	}
	if err := a.writer.Remove(ctx, e.ID); err != nil {
		return a.errno(ctx, "rmdir", d.childPath(name), err)
	}
	a.meta.Remove(id, e.ID)
	a.meta.Invalidate(e.ID)
	return 0
}

// Rename renames or moves within one account. Moves the service cannot do
// (between projects, between accounts) fail with EXDEV so mv copies and
// deletes instead. Replacing an existing file makes the source's content
// a new version of the replaced file (the "write a temporary file, rename
// it over the original" pattern of editors and rsync keeps the
// original's identity and history).
func (d *dirNode) Rename(ctx context.Context, name string, newParent fusefs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	a := d.acct
	if a.writer == nil {
		return syscall.EROFS
	}
	if flags&(renameExchange|renameWhiteout) != 0 {
		return syscall.EINVAL
	}
	nd, ok := newParent.(*dirNode)
	if !ok {
		return syscall.EROFS // the mount root holds accounts only
	}
	if nd.acct != a {
		return syscall.EXDEV
	}
	srcDir, st, errno := d.writeTarget(ctx, "rename")
	if errno != 0 {
		return errno
	}
	dstDir, dt, errno := nd.writeTarget(ctx, "rename")
	if errno != 0 {
		return errno
	}
	src, ok := st.lookup(name)
	if !ok {
		return syscall.ENOENT
	}
	if src.ReadOnly {
		return syscall.EACCES
	}
	newRemote := decodeName(newName)
	var replace remote.ID
	dst, exists := dt.lookup(newName)
	if exists {
		switch {
		case dst.ID == src.ID:
			return 0
		case flags&renameNoReplace != 0:
			return syscall.EEXIST
		case dst.Dir && !src.Dir:
			return syscall.EISDIR
		case !dst.Dir && src.Dir:
			return syscall.ENOTDIR
		case dst.ReadOnly:
			return syscall.EACCES
		}
		if dst.Dir {
			// POSIX replaces an empty folder; the service renames
			// onto free names only.
			if errno := nd.Rmdir(ctx, newName); errno != 0 {
				return errno
			}
		} else {
			replace = dst.ID
			// The replaced file's staged edits must not become a
			// version on top of the content renamed over it.
			if tsf := a.fsys.wb.Find(a.name, dstDir, dst.Name); tsf != nil {
				tsf.Discard()
				if isStagedID(replace) {
					replace = tsf.Record().Existing
				}
			}
			if isStagedID(replace) {
				replace = ""
			}
		}
	}
	if !src.Dir && isStagedID(src.ID) {
		replaced := remote.Entry{}
		if replace != "" {
			replaced = dst
		}
		done, errno := d.renameStaged(ctx, srcDir, src, dstDir, newRemote, replaced)
		if done || errno != 0 {
			return errno
		}
		// Uploaded meanwhile: rename the remote file.
		t, err := a.listing(ctx, srcDir)
		if err != nil {
			return a.errno(ctx, "rename", d.childPath(name), err)
		}
		if src, ok = t.lookup(name); !ok || isStagedID(src.ID) {
			return syscall.ENOENT
		}
	}
	return d.renameRemote(ctx, srcDir, src, dstDir, newRemote, replace, name)
}

// renameStaged renames a file that has not been uploaded: only its staging
// record changes. replaced is the remote file the rename replaces, if any.
// It reports false if the file turned out to be uploaded.
func (d *dirNode) renameStaged(ctx context.Context, srcDir remote.ID, src remote.Entry, dstDir remote.ID, newRemote string, replaced remote.Entry) (bool, syscall.Errno) {
	a := d.acct
	sf := a.fsys.wb.Find(a.name, srcDir, src.Name)
	if sf == nil {
		return false, 0
	}
	applied, err := sf.RenameIfNew(dstDir, newRemote, replaced.ID)
	if err != nil {
		return true, a.errno(ctx, "rename", d.childPath(src.Name), err)
	}
	if !applied {
		return false, 0
	}
	if n, ok := a.node(src.ID).(*fileNode); ok {
		e := src
		e.Name = newRemote
		if replaced.ID != "" {
			// From now on the node is the replaced file, with the
			// staged content as its next version.
			e = replaced
			a.rekey(n, replaced.ID)
		}
		n.update(dstDir, e)
	}
	return true, 0
}

// renameRemote renames src with the backend.
func (d *dirNode) renameRemote(ctx context.Context, srcDir remote.ID, src remote.Entry, dstDir remote.ID, newRemote string, replace remote.ID, name string) syscall.Errno {
	a := d.acct
	if srcDir != dstDir && !a.writer.SameSpace(srcDir, dstDir) {
		a.fsys.log.Debug("rename between namespaces; the caller copies instead", "account", a.name, "path", d.childPath(name))
		return syscall.EXDEV
	}
	// Edits staged for the source follow it: they must become a version
	// of what the new name refers to.
	var sf interface {
		Rename(remote.ID, string, remote.ID) error
	}
	final := src.ID
	if replace != "" {
		final = replace
	}
	if !src.Dir {
		if f := a.fsys.wb.Find(a.name, srcDir, src.Name); f != nil {
			if err := f.Rename(dstDir, newRemote, final); err != nil {
				return a.errno(ctx, "rename", d.childPath(name), err)
			}
			sf = f
		}
	}
	e, err := a.writer.Rename(ctx, src.ID, dstDir, newRemote, replace)
	if err != nil {
		if sf != nil {
			if rerr := sf.Rename(srcDir, src.Name, src.ID); rerr != nil {
				a.fsys.log.Error("cannot restore staging record after a failed rename", "account", a.name, "path", d.childPath(name), "err", rerr)
			}
		}
		if remote.IsKind(err, remote.Unsupported) && srcDir != dstDir {
			a.fsys.log.Info("the service cannot move this; the caller copies instead", "account", a.name, "path", d.childPath(name), "err", err)
			return syscall.EXDEV
		}
		return a.errno(ctx, "rename", d.childPath(name), err)
	}
	a.meta.Remove(srcDir, src.ID)
	if replace != "" {
		a.meta.Remove(dstDir, replace)
	}
	a.meta.Upsert(dstDir, e)
	if src.Dir {
		a.dirNode(e)
		return 0
	}
	if n, ok := a.node(src.ID).(*fileNode); ok {
		if e.ID != src.ID {
			a.rekey(n, e.ID)
		}
		n.committedAs(src.Version.ID, e.Version.ID)
		n.update(dstDir, e)
		n.invalidate()
	}
	return 0
}

// Setattr accepts and ignores chmod, chown and utimes on folders of
// writable accounts, for the same reason as on files (see fileNode.Setattr).
func (d *dirNode) Setattr(ctx context.Context, fh fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if d.acct.writer == nil {
		return syscall.EROFS
	}
	return d.Getattr(ctx, fh, out)
}

// Setxattr implements fusefs.NodeSetxattrer.
func (d *dirNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	if d.acct.writer == nil {
		return syscall.EROFS
	}
	return syscall.ENOTSUP
}

// Removexattr implements fusefs.NodeRemovexattrer.
func (d *dirNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	if d.acct.writer == nil {
		return syscall.EROFS
	}
	return syscall.ENODATA
}

// Symlink implements fusefs.NodeSymlinker: the services have no links.
func (d *dirNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	return nil, d.unsupported(syscall.EPERM)
}

// Link implements fusefs.NodeLinker: the services have no hard links.
func (d *dirNode) Link(ctx context.Context, target fusefs.InodeEmbedder, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	return nil, d.unsupported(syscall.EPERM)
}

// Mknod implements fusefs.NodeMknoder: only regular files and folders.
func (d *dirNode) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	return nil, d.unsupported(syscall.EPERM)
}

// Tmpfile implements fusefs.NodeTmpfiler. EOPNOTSUPP makes callers of
// O_TMPFILE fall back to a named temporary file.
func (d *dirNode) Tmpfile(ctx context.Context, flags uint32, mode uint32, out *fuse.EntryOut) (*fusefs.Inode, fusefs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, d.unsupported(syscall.EOPNOTSUPP)
}

// unsupported is errno on writable accounts and EROFS on the others.
func (d *dirNode) unsupported(errno syscall.Errno) syscall.Errno {
	if d.acct.writer == nil {
		return syscall.EROFS
	}
	return errno
}

package fs

import (
	"context"
	"time"

	"github.com/bimfs/bimfs/cache/writeback"
	"github.com/bimfs/bimfs/remote"
)

// Folder operations that change the tree. Each checks what it can from the
// folder's listing first (EEXIST, ENOTEMPTY, ENOENT) and refuses bad names
// before any remote request, then asks the backend, and on success edits
// the cached listings so the change shows at once.

// writeTarget checks that the folder's children may be changed and returns
// its ID and current listing.
func (d *Dir) writeTarget(ctx context.Context, op string) (remote.ID, *dirTable, error) {
	if d.kind == rootDir || d.acct.writer == nil {
		return "", nil, ErrReadOnlyFS
	}
	id, e, err := d.folder(ctx)
	if err != nil {
		return "", nil, d.acct.fail(ctx, op, d.Path(), err)
	}
	if e.ReadOnly {
		return "", nil, remote.Errorf(remote.Permission, "fs."+op, "the service does not let %s change (a hub, a project or a read-only folder)", d.Path())
	}
	t, err := d.acct.listing(ctx, id)
	if err != nil {
		return "", nil, d.acct.fail(ctx, op, d.Path(), err)
	}
	return id, t, nil
}

// Create creates a new file, staged until its first commit, or opens an
// existing one (a front end's name cache may not have known it). The name
// is checked here, so a name the service refuses fails at create, not at
// close.
func (d *Dir) Create(ctx context.Context, name string, flags OpenFlags, excl bool) (*File, *Handle, error) {
	id, t, err := d.writeTarget(ctx, "create")
	if err != nil {
		return nil, nil, err
	}
	a := d.acct
	if e, ok := t.lookup(name); ok {
		if excl {
			return nil, nil, &remote.Error{Kind: remote.Exists, Op: "fs.create", Message: name + " exists"}
		}
		if e.Dir {
			return nil, nil, ErrIsDir
		}
		f := a.fileNode(d, name, e)
		h, err := f.Open(ctx, flags)
		return f, h, err
	}
	rname, err := a.remoteName("fs.create", name)
	if err != nil {
		return nil, nil, a.fail(ctx, "create", d.childPath(name), err)
	}
	sf, err := a.fsys.wb.Create(a.name, id, rname, "", "")
	if err != nil {
		return nil, nil, a.fail(ctx, "create", d.childPath(name), err)
	}
	f := a.fileNode(d, name, remote.Entry{ID: stagedID(sf.Key()), Name: rname, ModTime: time.Now()})
	h := &Handle{file: f, sf: sf, write: flags.Write, append: flags.Append}
	if h.write {
		f.mu.Lock()
		f.writers++
		f.mu.Unlock()
	}
	a.fsys.notifyEntry(d, name)
	return f, h, nil
}

// Mkdir creates a remote folder at once.
func (d *Dir) Mkdir(ctx context.Context, name string) (*Dir, error) {
	id, t, err := d.writeTarget(ctx, "mkdir")
	if err != nil {
		return nil, err
	}
	a := d.acct
	if _, ok := t.lookup(name); ok {
		return nil, &remote.Error{Kind: remote.Exists, Op: "fs.mkdir", Message: name + " exists"}
	}
	rname, err := a.remoteName("fs.mkdir", name)
	if err != nil {
		return nil, a.fail(ctx, "mkdir", d.childPath(name), err)
	}
	e, err := a.writer.Mkdir(ctx, id, rname)
	if err != nil {
		return nil, a.fail(ctx, "mkdir", d.childPath(name), err)
	}
	a.meta.Upsert(id, e)
	// A new folder is empty: cp -r into it needs no List.
	a.meta.Put(e.ID, nil)
	return a.dirNode(d, name, e), nil
}

// stagedFor returns the staged copy of entry e of the folder, if any.
func (a *account) stagedFor(e remote.Entry) *writeback.File {
	if a.fsys.wb == nil || e.Dir {
		return nil
	}
	if isStagedID(e.ID) {
		return a.fsys.wb.ByKey(stagedKey(e.ID))
	}
	return a.fsys.wb.ByItem(a.name, e.ID)
}

// removable finds child name for op (unlink or rmdir): it must exist, be a
// folder exactly when dir is set, and not be marked read-only. It returns
// the folder's ID and the child's entry.
func (d *Dir) removable(ctx context.Context, op, name string, dir bool) (remote.ID, remote.Entry, error) {
	id, t, err := d.writeTarget(ctx, op)
	if err != nil {
		return "", remote.Entry{}, err
	}
	e, ok := t.lookup(name)
	switch {
	case !ok:
		return "", e, errNotFound
	case e.Dir && !dir:
		return "", e, ErrIsDir
	case !e.Dir && dir:
		return "", e, ErrNotDir
	case e.ReadOnly:
		return "", e, remote.Errorf(remote.Permission, "fs."+op, "the service marks %s read-only", d.childPath(name))
	}
	return id, e, nil
}

// Unlink deletes a file. Staged edits are discarded only once the service
// accepted the delete; a never-uploaded file is only discarded locally. An
// upload of the file in flight is cancelled at once.
func (d *Dir) Unlink(ctx context.Context, name string) error {
	id, e, err := d.removable(ctx, "unlink", name, false)
	if err != nil {
		return err
	}
	a := d.acct
	target := e.ID
	sf := a.stagedFor(e)
	if sf != nil {
		resume := sf.Pause()
		defer resume()
		target = sf.Record().Item // set if an upload committed meanwhile
		if target == "" {
			sf.Discard()
			a.unlinked(d, name, e.ID)
			return nil
		}
	} else if isStagedID(target) {
		return errNotFound // uploaded and released since the listing was built
	}
	err = a.writer.Remove(ctx, target)
	if err != nil && !remote.IsKind(err, remote.NotFound) {
		return a.fail(ctx, "unlink", d.childPath(name), err)
	}
	if sf != nil {
		sf.Discard()
	}
	a.meta.Remove(id, target)
	a.unlinked(d, name, e.ID)
	if err != nil {
		return a.fail(ctx, "unlink", d.childPath(name), err)
	}
	return nil
}

// unlinked records that the file known as id, shown as name in d, is gone.
func (a *account) unlinked(d *Dir, name string, id remote.ID) {
	if f, ok := a.node(id).(*File); ok {
		f.mu.Lock()
		f.unlinked = true
		f.mu.Unlock()
		a.fsys.notifyFile(f)
	}
	a.fsys.notifyEntry(d, name)
}

// Rmdir deletes an empty remote folder.
func (d *Dir) Rmdir(ctx context.Context, name string) error {
	id, e, err := d.removable(ctx, "rmdir", name, true)
	if err != nil {
		return err
	}
	a := d.acct
	children, err := a.listing(ctx, e.ID)
	if err != nil {
		return a.fail(ctx, "rmdir", d.childPath(name), err)
	}
	if len(children.entries) > 0 {
		// Staged files count: removing their folder would strand them.
		return &remote.Error{Kind: remote.NotEmpty, Op: "fs.rmdir", Message: d.childPath(name) + " is not empty"}
	}
	if err := a.writer.Remove(ctx, e.ID); err != nil {
		return a.fail(ctx, "rmdir", d.childPath(name), err)
	}
	a.meta.Remove(id, e.ID)
	a.meta.Invalidate(e.ID)
	a.fsys.notifyEntry(d, name)
	return nil
}

// Writable reports why the folder's own attributes may not change, or nil
// (chmod, chown and utimes on folders are accepted and ignored).
func (d *Dir) Writable() error {
	if d.kind == rootDir || d.acct.writer == nil {
		return ErrReadOnlyFS
	}
	return nil
}

// CanWrite reports whether the account of d can be written at all.
func (d *Dir) CanWrite() bool { return d.kind != rootDir && d.acct.writer != nil }

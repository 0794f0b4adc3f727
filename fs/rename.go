package fs

import (
	"context"

	"github.com/bimfs/bimfs/cache/writeback"
	"github.com/bimfs/bimfs/remote"
)

// RenameFlags are renameat2(2)'s flags the core understands.
type RenameFlags struct {
	NoReplace bool // RENAME_NOREPLACE
}

// Rename renames or moves child name of d to newName in to.
//
// Moves the service cannot do (between accounts, projects or services,
// and folder moves a service has no call for) fail with ErrCrossDevice so
// mv copies and deletes instead. Replacing an existing file makes the
// source's content a new version of the replaced file, so the "write a
// temporary file, rename it over the original" save of editors and rsync
// keeps the original's identity and history.
//
// Staged content follows its item: a file that has never been uploaded is
// renamed locally (its pending upload is re-targeted); a recovered file
// renamed by the user is published under its new name. Staged edits of a
// file that a rename replaces are discarded only after the service
// accepted the rename.
func (d *Dir) Rename(ctx context.Context, name string, to *Dir, newName string, flags RenameFlags) error {
	if d.kind == rootDir || to.kind == rootDir {
		return ErrReadOnlyFS // the root holds accounts only
	}
	if to.acct != d.acct {
		return ErrCrossDevice
	}
	a := d.acct
	if a.writer == nil {
		return ErrReadOnlyFS
	}
	srcDir, st, err := d.writeTarget(ctx, "rename")
	if err != nil {
		return err
	}
	dstDir, dt, err := to.writeTarget(ctx, "rename")
	if err != nil {
		return err
	}
	src, ok := st.lookup(name)
	if !ok {
		return errNotFound
	}
	if src.ReadOnly {
		return remote.Errorf(remote.Permission, "fs.rename", "the service marks %s read-only", d.childPath(name))
	}
	rname, err := a.remoteName("fs.rename", newName)
	if err != nil {
		return a.fail(ctx, "rename", to.childPath(newName), err)
	}
	var replaced remote.Entry
	var tsf *writeback.File // staged copy of the replaced file
	if dst, exists := dt.lookup(newName); exists {
		switch {
		case dst.ID == src.ID:
			return nil
		case flags.NoReplace:
			return &remote.Error{Kind: remote.Exists, Op: "fs.rename", Message: newName + " exists"}
		case dst.Dir && !src.Dir:
			return ErrIsDir
		case !dst.Dir && src.Dir:
			return ErrNotDir
		case dst.ReadOnly:
			return remote.Errorf(remote.Permission, "fs.rename", "the service marks %s read-only", to.childPath(newName))
		}
		if dst.Dir {
			// POSIX replaces an empty folder; the services rename onto
			// free names only.
			if err := to.Rmdir(ctx, newName); err != nil {
				return err
			}
		} else {
			replaced = dst
			if tsf = a.stagedFor(dst); tsf != nil {
				resume := tsf.Pause()
				defer resume()
				if item := tsf.Record().Item; item != "" {
					replaced.ID = item
				}
			}
			if isStagedID(replaced.ID) {
				replaced = remote.Entry{} // never uploaded: nothing remote to replace
			}
		}
	}
	sf := a.stagedFor(src)
	if sf != nil {
		resume := sf.Pause()
		defer resume()
		if item := sf.Record().Item; item != "" && isStagedID(src.ID) {
			// Uploaded before the pause took effect: rename the item.
			e, _ := sf.Entry()
			src = e
		}
	}
	if !src.Dir && isStagedID(src.ID) {
		if sf == nil {
			return errNotFound
		}
		return a.renameStaged(ctx, d, name, to, newName, sf, dstDir, rname, replaced, tsf)
	}
	return a.renameRemote(ctx, d, name, to, newName, srcDir, src, dstDir, rname, replaced, tsf, sf)
}

// renameStaged renames a file the service does not have yet: only its
// staging record changes. Replacing a remote file makes the staged content
// that file's next version.
func (a *account) renameStaged(ctx context.Context, d *Dir, name string, to *Dir, newName string,
	sf *writeback.File, dstDir remote.ID, rname string, replaced remote.Entry, tsf *writeback.File) error {
	if tsf != nil {
		tsf.Discard()
	}
	recovered := sf.Record().State == writeback.Recovered
	if err := sf.Retarget(dstDir, rname, replaced.ID); err != nil {
		return a.fail(ctx, "rename", d.childPath(name), err)
	}
	if recovered {
		if err := sf.Publish(ctx); err != nil {
			return a.fail(ctx, "rename", to.childPath(newName), err)
		}
	}
	oldID := stagedID(sf.Key())
	a.replacedGone(replaced.ID, oldID)
	if n, ok := a.node(oldID).(*File); ok {
		e := remote.Entry{ID: oldID, Name: rname, Size: sf.Size(), ModTime: sf.Modified()}
		if replaced.ID != "" {
			// From now on the node is the replaced file, with the staged
			// content as its next version.
			e = replaced
			a.rekey(n, replaced.ID)
		}
		n.update(to, newName, e)
		a.fsys.notifyFile(n)
	}
	a.fsys.notifyEntry(d, name)
	a.fsys.notifyEntry(to, newName)
	return nil
}

// renameRemote renames src with the backend; staged edits of src follow it
// to whatever item the new name refers to afterwards.
func (a *account) renameRemote(ctx context.Context, d *Dir, name string, to *Dir, newName string,
	srcDir remote.ID, src remote.Entry, dstDir remote.ID, rname string, replaced remote.Entry,
	tsf, sf *writeback.File) error {
	if srcDir != dstDir && !a.writer.SameSpace(srcDir, dstDir) {
		a.fsys.log.Info("rename between projects or servers; the caller copies instead", "account", a.name, "path", d.childPath(name))
		return ErrCrossDevice
	}
	e, err := a.writer.Rename(ctx, src.ID, dstDir, rname, replaced.ID)
	if err != nil {
		if remote.IsKind(err, remote.Unsupported) {
			a.fsys.log.Info("the service cannot move or rename this; the caller copies instead", "account", a.name, "path", d.childPath(name), "err", err)
			return ErrCrossDevice
		}
		return a.fail(ctx, "rename", d.childPath(name), err)
	}
	if tsf != nil {
		tsf.Discard()
	}
	if sf != nil {
		if err := sf.Retarget(dstDir, rname, e.ID); err != nil {
			a.fsys.log.Error("cannot journal the new name of staged edits; they keep the old one", "account", a.name, "path", to.childPath(newName), "err", err)
		}
	}
	a.meta.Remove(srcDir, src.ID)
	if replaced.ID != "" {
		a.meta.Remove(dstDir, replaced.ID)
	}
	a.meta.Upsert(dstDir, e)
	a.replacedGone(replaced.ID, src.ID)
	if src.Dir {
		a.dirNode(to, newName, e)
	} else if n, ok := a.node(src.ID).(*File); ok {
		if e.ID != src.ID {
			a.rekey(n, e.ID)
		}
		n.committedAs(src.Version.ID, e.Version.ID)
		n.update(to, newName, e)
		a.fsys.notifyFile(n)
	}
	a.fsys.notifyEntry(d, name)
	a.fsys.notifyEntry(to, newName)
	return nil
}

// replacedGone marks the node of replaced, a file a rename replaced, as
// having no links any more (its open handles keep working), unless it is
// the renamed file's own node.
func (a *account) replacedGone(replaced, renamed remote.ID) {
	if replaced == "" {
		return
	}
	n, ok := a.node(replaced).(*File)
	if !ok || n == a.node(renamed) {
		return
	}
	n.mu.Lock()
	n.unlinked = true
	n.mu.Unlock()
	a.fsys.notifyFile(n)
}

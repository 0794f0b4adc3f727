package bim360

import (
	"context"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// rollbackTimeout bounds the cleanup after a half-done move; it runs under
// a fresh context because the caller's may be the reason it failed.
const rollbackTimeout = 30 * time.Second

// Rename implements remote.Writer.
//
// Folders keep their ID: PATCH folders/{id} with the new name and/or the
// new parent.
//
// BIM 360 cannot rename or move an item (PATCH of items and versions "is
// not supported for BIM 360"; "to rename a version, create a new version
// with a new name"), and bytes the service already has are never uploaded
// again. So for files:
//
//   - A rename in the same folder is a new version of the same item whose
//     content the service copies from the tip (POST versions?copyFrom=<tip>)
//     under the new name: ID and history stay, the version number grows by
//     one. If the service refuses a copy within one item (the spec
//     describes copyFrom for another item's version), the rename falls back
//     to the move below.
//   - A move to another folder is a copy and a delete: POST
//     items?copyFrom=<tip> in the target folder makes a new item whose first
//     version has the tip's content, then the source gets a Deleted
//     version. The file gets a new ID and starts a new history; the old
//     item keeps its versions as a deleted item.
//   - A rename over an existing file (replace, as editors save: write a
//     temporary file, rename it over the original) makes the source's
//     content a new version of the replaced file (POST
//     versions?copyFrom=<source tip> on its item), then deletes the source:
//     the replaced file keeps its ID and history, and no temporary item is
//     left listed.
//
// Moves between projects are never tried (SameSpace is false).
func (b *Backend) Rename(ctx context.Context, id, newParent remote.ID, newName string, replace remote.ID) (remote.Entry, error) {
	const op = "bim360.Rename"
	if err := readOnlyExtra(op, id, newParent, replace); err != nil {
		return remote.Entry{}, err
	}
	src, ok := parseID(id)
	if !ok {
		return remote.Entry{}, remote.Errorf(remote.NotFound, op, "unknown entry %q", id)
	}
	switch src.kind {
	case kindAccount, kindHub, kindProject:
		return remote.Entry{}, remote.Errorf(remote.Permission, op, "hubs and projects cannot be renamed or moved through the filesystem")
	}
	dst, err := b.writableFolder(op, newParent, "move entries")
	if err != nil {
		return remote.Entry{}, err
	}
	if dst.project != src.project {
		return remote.Entry{}, remote.Errorf(remote.Unsupported, op, "entries cannot move between projects; copy them instead")
	}
	if err := ValidateName(op, newName); err != nil {
		return remote.Entry{}, err
	}
	var rep *entryID
	if replace != "" && replace != id {
		r, ok := parseID(replace)
		switch {
		case !ok:
			return remote.Entry{}, remote.Errorf(remote.NotFound, op, "unknown entry %q", replace)
		case r.project != src.project || (r.kind != kindItem && r.kind != kindFolder):
			return remote.Entry{}, remote.Errorf(remote.Invalid, op, "%q is not in the project of %q", replace, id)
		}
		rep = &r
	}
	if src.kind == kindFolder {
		return b.renameFolder(ctx, op, id, src, dst, newName, rep)
	}
	return b.renameFile(ctx, op, id, src, dst, newName, rep)
}

func (b *Backend) renameFolder(ctx context.Context, op string, id remote.ID, src, dst entryID, newName string, rep *entryID) (remote.Entry, error) {
	f, err := b.checkNotTop(ctx, op, src, "renamed or moved")
	if err != nil {
		return remote.Entry{}, err
	}
	if dst.folder == src.folder {
		return remote.Entry{}, remote.Errorf(remote.Invalid, op, "a folder cannot be moved into itself")
	}
	if f == nil {
		if f, err = b.api.Folders.Get(ctx, src.project, src.folder); err != nil {
			return remote.Entry{}, notFound(op, id, err)
		}
		if f.Attributes.Hidden {
			return remote.Entry{}, remote.Errorf(remote.NotFound, op, "folder %q was deleted", f.Attributes.Name)
		}
	}
	req := &PatchFolderRequest{ProjectID: src.project, FolderID: src.folder}
	if newName != f.Attributes.Name {
		req.Name = newName
	}
	if dst.folder != f.Relationships.Parent.Data.ID {
		req.ParentID = dst.folder
	}
	if req.Name == "" && req.ParentID == "" {
		return folderEntry(id, f), nil
	}
	if rep != nil {
		// POSIX lets a directory replace an empty directory: the empty one
		// is deleted (hidden) first, and restored if the rename fails.
		if rep.kind != kindFolder {
			return remote.Entry{}, remote.Errorf(remote.Invalid, op, "a folder cannot replace the file %q", newName)
		}
		repID, _ := folderID(rep.project, rep.folder)
		if err := b.Remove(ctx, repID); err != nil {
			return remote.Entry{}, err
		}
		defer func() {
			if err != nil {
				b.restoreFolder(ctx, *rep)
			}
		}()
	}
	var nf *Folder
	if nf, err = b.api.Folders.Patch(ctx, req); err != nil {
		err = notFound(op, id, writeError(err, remote.Exists))
		return remote.Entry{}, err
	}
	if req.ParentID != "" {
		b.tree.forgetDepths()
	}
	ent := folderEntry(id, nf)
	if ent.Name == "" {
		ent.Name = newName
	}
	return ent, nil
}

func (b *Backend) restoreFolder(ctx context.Context, e entryID) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	hidden := false
	if _, err := b.api.Folders.Patch(rctx, &PatchFolderRequest{ProjectID: e.project, FolderID: e.folder, Hidden: &hidden}); err != nil {
		b.log.Warn("could not restore the folder a failed rename was to replace", "folder", e.folder, "err", err)
	}
}

func (b *Backend) renameFile(ctx context.Context, op string, id remote.ID, src, dst entryID, newName string, rep *entryID) (remote.Entry, error) {
	r, err := b.api.Items.Get(ctx, src.project, src.item)
	if err != nil {
		return remote.Entry{}, notFound(op, id, err)
	}
	tip, found := r.Tip()
	if !found {
		return remote.Entry{}, remote.Errorf(remote.Unavailable, op, "item %s came without its tip version", src.item)
	}
	if live, why := alive(&r.Data, tip); !live {
		return remote.Entry{}, remote.Errorf(remote.NotFound, op, "%s", why)
	}
	size := tip.Attributes.StorageSize

	if rep != nil {
		if rep.kind != kindItem {
			return remote.Entry{}, remote.Errorf(remote.Invalid, op, "a file cannot replace the folder %q", newName)
		}
		v, err := b.api.Versions.Create(ctx, &CreateVersionRequest{ProjectID: src.project, ItemID: rep.item, Name: newName, CopyFrom: tip.ID})
		if err != nil {
			repID, _ := itemID(rep.project, rep.item)
			return remote.Entry{}, notFound(op, repID, writeError(err, remote.Conflict))
		}
		ent, err := createdVersionEntry(op, src.project, rep.item, v, newName, size, "")
		if err != nil {
			return remote.Entry{}, err
		}
		if _, err := b.api.Versions.Delete(ctx, src.project, src.item, tip.Attributes.Name); err != nil {
			return ent, sourceLeft(op, err, "the content is now the newest version of %q, but the source file could not be deleted", newName)
		}
		return ent, nil
	}

	if r.Data.Relationships.Parent.Data.ID == dst.folder {
		if newName == tip.Attributes.Name {
			return fileEntry(id, tip), nil
		}
		v, err := b.api.Versions.Create(ctx, &CreateVersionRequest{ProjectID: src.project, ItemID: src.item, Name: newName, CopyFrom: tip.ID})
		if err == nil {
			return createdVersionEntry(op, src.project, src.item, v, newName, size, "")
		}
		if k := remote.KindOf(err); k != remote.Invalid && k != remote.Unsupported {
			return remote.Entry{}, notFound(op, id, writeError(err, remote.Exists))
		}
		b.log.Info("service refused a copy within one item; renaming by copy and delete (the file gets a new ID)", "err", err)
	}

	// A move: copy into the target folder, then delete the source.
	ni, err := b.api.Items.Create(ctx, &CreateItemRequest{ProjectID: src.project, FolderID: dst.folder, Name: newName, CopyFrom: tip.ID})
	if err != nil {
		return remote.Entry{}, notFound(op, id, writeError(err, remote.Exists))
	}
	ent, err := createdItemEntry(op, src.project, ni, newName, size, "")
	if err != nil {
		return remote.Entry{}, err
	}
	if _, err := b.api.Versions.Delete(ctx, src.project, src.item, tip.Attributes.Name); err != nil {
		// Undo the copy so the file is not listed twice.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		if _, rerr := b.api.Versions.Delete(rctx, src.project, ni.Data.ID, newName); rerr != nil {
			b.log.Warn("could not delete the copy of a failed move", "item", ni.Data.ID, "err", rerr)
			return remote.Entry{}, sourceLeft(op, err, "%q was copied but the original could not be deleted; both exist now", newName)
		}
		return remote.Entry{}, notFound(op, id, writeError(err, remote.Conflict))
	}
	return ent, nil
}

// sourceLeft reports a rename whose first half worked but whose source is
// still there. Nothing is lost; the kind is that of the failed delete.
func sourceLeft(op string, err error, format string, args ...any) error {
	e := remote.Errorf(remote.KindOf(err), op, format, args...)
	if e.Kind == remote.KindUnknown {
		e.Kind = remote.Unavailable
	}
	e.Err = err
	return e
}

package bim360

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// How POSIX operations map onto BIM 360 (see also rename.go):
//
//	mkdir   the CreateFolder command, or POST folders where a project does
//	        not take the command
//	write   POST storage → signed S3 part uploads → complete → POST items
//	        (new file) or POST versions (new version of the same item)
//	unlink  POST versions with a Deleted version: the item is hidden, its
//	        versions stay readable
//	rmdir   PATCH folders/{id} hidden:true, only when the folder is empty
//
// Hubs, projects and the project root hold no files: writes there are
// refused with Permission, as are deleting and renaming top folders.

// Upload implements remote.Writer: storage, parallel part uploads, then
// POST items for a new file or POST versions for a new version. If POST
// items says the name is taken, the existing item gets a new version
// instead (never a second item of the same name). A failure leaves the
// remote file as it was; the caller keeps its bytes.
func (b *Backend) Upload(ctx context.Context, req remote.UploadRequest) (remote.Entry, error) {
	const op = opUpload
	if err := readOnlyExtra(op, req.Parent, req.Existing); err != nil {
		return remote.Entry{}, err
	}
	p, err := b.writableFolder(op, req.Parent, "store files")
	if err != nil {
		return remote.Entry{}, err
	}
	var existing string
	if req.Existing != "" {
		e, ok := parseID(req.Existing)
		switch {
		case !ok:
			return remote.Entry{}, remote.Errorf(remote.NotFound, op, "unknown entry %q", req.Existing)
		case e.kind != kindItem:
			return remote.Entry{}, remote.Errorf(remote.Invalid, op, "%q is not a file", req.Existing)
		case e.project != p.project:
			return remote.Entry{}, remote.Errorf(remote.Invalid, op, "file %q is not in the project of its folder", req.Existing)
		}
		existing = e.item
	}
	if err := ValidateName(op, req.Name); err != nil {
		return remote.Entry{}, err
	}
	if req.Size < 0 || req.Content == nil {
		return remote.Entry{}, remote.Errorf(remote.Invalid, op, "upload of %q without content", req.Name)
	}
	st, err := b.api.Projects.CreateStorage(ctx, &StorageRequest{ProjectID: p.project, FolderID: p.folder, Name: req.Name})
	if err != nil {
		return remote.Entry{}, notFound(op, req.Parent, err)
	}
	if _, err := b.up.upload(ctx, st.Bucket(), st.Object(), req.Size, req.Content, req.Progress); err != nil {
		return remote.Entry{}, err
	}
	if existing == "" {
		r, err := b.api.Items.Create(ctx, &CreateItemRequest{ProjectID: p.project, FolderID: p.folder, Name: req.Name, StorageURN: st.ID})
		if err == nil {
			return createdItemEntry(op, p.project, r, req.Name, req.Size, st.ID)
		}
		if !hasStatus(err, http.StatusConflict) {
			return remote.Entry{}, notFound(op, req.Parent, writeError(err, remote.Exists))
		}
		// The name is taken: by a file (make the upload its new version)
		// or by a folder (nothing to version).
		item, ferr := b.findFile(ctx, p.project, p.folder, req.Name)
		if ferr != nil {
			return remote.Entry{}, ferr
		}
		if item == "" {
			return remote.Entry{}, writeError(err, remote.Exists)
		}
		b.log.Info("name taken; storing the upload as a new version", "name", req.Name)
		existing = item
	}
	v, err := b.api.Versions.Create(ctx, &CreateVersionRequest{ProjectID: p.project, ItemID: existing, Name: req.Name, StorageURN: st.ID})
	if err != nil {
		err = writeError(err, remote.Conflict)
		if remote.IsKind(err, remote.Conflict) {
			// The close or fsync that started the upload fails; say why.
			b.log.Warn("the service refused the new version: the file was changed, renamed or locked on the service "+
				"while it was being written, so this version was not stored there", "name", req.Name, "err", err)
		}
		return remote.Entry{}, notFound(op, req.Existing, err)
	}
	return createdVersionEntry(op, p.project, existing, v, req.Name, req.Size, st.ID)
}

// findFile returns the item named name in folder, or "" if no live file
// has that name.
func (b *Backend) findFile(ctx context.Context, project, folder, name string) (string, error) {
	fc, err := b.api.Folders.Contents(ctx, &ContentsRequest{ProjectID: project, FolderID: folder, FilterType: "items"})
	if err != nil {
		return "", err
	}
	for i := range fc.Items {
		it := &fc.Items[i]
		tip, found := fc.Tip(it)
		if !found || it.Attributes.Hidden || tip.Deleted() {
			continue
		}
		if tip.Attributes.Name == name {
			return it.ID, nil
		}
	}
	return "", nil
}

// Remove implements remote.Writer. A file gets a Deleted version (BIM 360
// keeps its history; the item disappears from listings). A folder is
// hidden, which is how BIM 360 deletes folders, after a listing shows it
// empty.
func (b *Backend) Remove(ctx context.Context, id remote.ID) error {
	const op = "bim360.Remove"
	if err := readOnlyExtra(op, id); err != nil {
		return err
	}
	e, ok := parseID(id)
	if !ok {
		return remote.Errorf(remote.NotFound, op, "unknown entry %q", id)
	}
	switch e.kind {
	case kindAccount, kindHub, kindProject:
		return remote.Errorf(remote.Permission, op, "hubs and projects cannot be deleted through the filesystem")
	case kindItem:
		// The Deleted version must carry the file's name (VersionPayload
		// requires it), which only the item's tip knows.
		r, err := b.api.Items.Get(ctx, e.project, e.item)
		if err != nil {
			return notFound(op, id, err)
		}
		tip, found := r.Tip()
		if !found {
			return remote.Errorf(remote.Unavailable, op, "item %s came without its tip version", e.item)
		}
		if live, why := alive(&r.Data, tip); !live {
			return remote.Errorf(remote.NotFound, op, "%s", why)
		}
		// A 409 here means the item is deleted already.
		if _, err := b.api.Versions.Delete(ctx, e.project, e.item, tip.Attributes.Name); err != nil {
			return notFound(op, id, writeError(err, remote.NotFound))
		}
		return nil
	}
	if _, err := b.checkNotTop(ctx, op, e, "deleted"); err != nil {
		return err
	}
	children, err := b.listFolder(ctx, e.project, e.folder)
	if err != nil {
		return notFound(op, id, err)
	}
	if len(children) > 0 {
		return remote.Errorf(remote.NotEmpty, op, "folder holds %d entries (for example %q)", len(children), children[0].Name)
	}
	hidden := true
	if _, err := b.api.Folders.Patch(ctx, &PatchFolderRequest{ProjectID: e.project, FolderID: e.folder, Hidden: &hidden}); err != nil {
		return notFound(op, id, writeError(err, remote.Conflict))
	}
	return nil
}

// checkNotTop refuses to delete or rename a project's top folders or its
// root, which BIM 360 keeps fixed. A folder whose level is known from a
// listing costs nothing; otherwise GET folder shows its parent (and, if
// that is not known either, GET folder of the parent shows whether it is
// the root, which has no parent). A folder it fetched is returned.
func (b *Backend) checkNotTop(ctx context.Context, op string, e entryID, what string) (*Folder, error) {
	refuse := remote.Errorf(remote.Permission, op, "the project's top folders (Project Files, Plans, …) cannot be %s", what)
	if b.tree.isRoot(e.folder) {
		return nil, remote.Errorf(remote.Permission, op, "a project's root folder cannot be %s", what)
	}
	if lvl := b.tree.level(e.folder); lvl == 1 {
		return nil, refuse
	} else if lvl > 1 {
		return nil, nil
	}
	get := func(folder string) (*Folder, error) {
		f, err := b.api.Folders.Get(ctx, e.project, folder)
		if err != nil {
			id, _ := folderID(e.project, folder)
			return nil, notFound(op, id, err)
		}
		return f, nil
	}
	f, err := get(e.folder)
	if err != nil {
		return nil, err
	}
	if f.Attributes.Hidden {
		return nil, remote.Errorf(remote.NotFound, op, "folder %q was deleted", f.Attributes.Name)
	}
	parent := f.Relationships.Parent.Data.ID
	switch {
	case parent == "":
		b.tree.setRoot(e.folder)
		return nil, remote.Errorf(remote.Permission, op, "a project's root folder cannot be %s", what)
	case b.tree.isRoot(parent):
		b.tree.setDepth(e.folder, 1)
		return nil, refuse
	case b.tree.level(parent) > 0:
		b.tree.setDepth(e.folder, b.tree.level(parent)+1)
		return f, nil
	}
	pf, err := get(parent)
	if err != nil {
		return nil, err
	}
	if pf.Relationships.Parent.Data.ID == "" {
		b.tree.setRoot(parent)
		b.tree.setDepth(e.folder, 1)
		return nil, refuse
	}
	return f, nil
}

// SameSpace implements remote.Writer: objects can move between folders of
// one project only (copies between projects are not possible in APS).
func (b *Backend) SameSpace(a, c remote.ID) bool {
	ea, ok1 := parseID(a)
	ec, ok2 := parseID(c)
	inProject := func(e entryID) bool { return e.kind == kindFolder || e.kind == kindItem }
	return ok1 && ok2 && inProject(ea) && inProject(ec) && ea.project == ec.project
}

// writableFolder decodes a folder that may hold new entries: a folder of a
// project, never a hub, a project or the project root.
func (b *Backend) writableFolder(op string, id remote.ID, what string) (entryID, error) {
	e, ok := parseID(id)
	if !ok {
		return e, remote.Errorf(remote.NotFound, op, "unknown entry %q", id)
	}
	switch e.kind {
	case kindAccount, kindHub:
		return e, remote.Errorf(remote.Permission, op, "cannot %s here: only folders inside a project's top folders (Project Files, Plans, …) can hold them", what)
	case kindProject:
		return e, remote.Errorf(remote.Permission, op, "cannot %s in the project root: BIM 360 allows them only inside the top folders (Project Files, Plans, …)", what)
	case kindItem:
		return e, remote.Errorf(remote.Invalid, op, "%q is a file, not a folder", id)
	}
	if b.tree.isRoot(e.folder) {
		return e, remote.Errorf(remote.Permission, op, "cannot %s in the project root folder: BIM 360 allows them only inside the top folders", what)
	}
	return e, nil
}

// writeError refines the error of a write call: HTTP 409 is on409 (Exists
// where a name is taken, Conflict for version conflicts) and 423 is a
// locked object. Errors may be shared, so a copy is changed.
func writeError(err error, on409 remote.Kind) error {
	var re *remote.Error
	if !errors.As(err, &re) {
		return err
	}
	switch re.Status {
	case http.StatusConflict:
		cp := *re
		cp.Kind = on409
		return &cp
	case http.StatusLocked:
		cp := *re
		cp.Kind = remote.Conflict
		cp.Message = "locked"
		if re.Message != "" {
			cp.Message += ": " + re.Message
		}
		return &cp
	}
	return err
}

func hasStatus(err error, status int) bool {
	var re *remote.Error
	return errors.As(err, &re) && re.Status == status
}

// createdItemEntry describes the file POST items created.
func createdItemEntry(op, project string, r *ItemResponse, name string, size int64, ref string) (remote.Entry, error) {
	id, ok := itemID(project, r.Data.ID)
	if !ok {
		return remote.Entry{}, remote.Errorf(remote.Unavailable, op, "the new item has an unusable ID %q", r.Data.ID)
	}
	tip, found := r.Tip()
	if !found {
		tip = &Version{ID: r.Data.Relationships.Tip.Data.ID}
		tip.Attributes.VersionNumber = 1
	}
	return newFileEntry(op, id, tip, name, size, ref)
}

// createdVersionEntry describes item after POST versions made v its tip.
func createdVersionEntry(op, project, item string, v *CreatedVersion, name string, size int64, ref string) (remote.Entry, error) {
	id, ok := itemID(project, item)
	if !ok {
		return remote.Entry{}, remote.Errorf(remote.Unavailable, op, "unusable item ID %q", item)
	}
	return newFileEntry(op, id, &v.Data, name, size, ref)
}

// newFileEntry fills what a creation answer may leave out (the answers
// carry fewer attributes than listings) from what the caller knows.
func newFileEntry(op string, id remote.ID, tip *Version, name string, size int64, ref string) (remote.Entry, error) {
	if tip.ID == "" {
		return remote.Entry{}, remote.Errorf(remote.Unavailable, op, "the answer names no version")
	}
	ent := fileEntry(id, tip)
	if ent.Name == "" {
		ent.Name = name
	}
	if size >= 0 {
		ent.Size = size
	}
	if ref != "" {
		ent.Version.Ref = ref
	}
	if ent.ModTime.IsZero() {
		ent.ModTime = time.Now()
	}
	return ent, nil
}

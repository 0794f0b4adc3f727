package bimcloud

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// cleanupTimeout bounds the calls that undo half of a failed rename; they
// run under a fresh context, since the caller's may be the one that ended.
const cleanupTimeout = 30 * time.Second

// Mkdir is insert-resource-group: it creates folder name in parent.
// A sibling of that name (folder or file) is Exists (error 5), a name the
// Manager refuses Invalid (error 7; ValidName catches the documented
// rule first).
func (b *Backend) Mkdir(ctx context.Context, parent remote.ID, name string) (remote.Entry, error) {
	if err := ValidName(name); err != nil {
		return remote.Entry{}, err
	}
	id, err := b.mgr.InsertResourceGroup(ctx, string(parent), name)
	if err != nil {
		return remote.Entry{}, err
	}
	r, err := b.mgr.GetResource(ctx, id)
	if err != nil {
		// Created, but not readable yet: what is known is enough.
		b.log.Debug("new folder not readable yet", "id", id, "err", err)
		return remote.Entry{ID: remote.ID(id), Name: name, Dir: true, ModTime: time.Now()}, nil
	}
	e, _ := entryOf(r)
	return e, nil
}

// Remove deletes a file (delete-blob) or an empty folder
// (delete-resource-group). The spec does not say what deleting a
// non-empty folder answers; when the Manager refuses a folder, its
// children are counted, and a folder with children is NotEmpty whatever
// the error code was. Error 15 (ProhibitDeleteError) on a folder without
// children is Permission.
func (b *Backend) Remove(ctx context.Context, id remote.ID) error {
	const op = "bimcloud.Remove"
	if id == RootID {
		return errorf(remote.Permission, op, "the project root cannot be deleted")
	}
	r, err := b.mgr.GetResource(ctx, string(id))
	if err != nil {
		return err
	}
	switch r.Type {
	case TypeBlob:
		return b.mgr.DeleteBlob(ctx, r.ID)
	case TypeResourceGroup:
	default:
		return errorf(remote.Unsupported, op, "%q is a %s, neither a folder nor a file", r.Name, r.Type)
	}
	err = b.mgr.DeleteResourceGroup(ctx, r.ID)
	if err == nil {
		return nil
	}
	switch remote.KindOf(err) {
	case remote.NotFound, remote.Unauthenticated, remote.Canceled, remote.Unavailable, remote.Throttled:
		return err
	}
	kids, lerr := b.mgr.ResourcesPage(ctx, ChildrenOf(r.ID), 0, 1)
	if lerr != nil {
		return err
	}
	if len(kids) > 0 {
		return &remote.Error{Kind: remote.NotEmpty, Op: op, Message: "folder " + strconv.Quote(r.Name) + " is not empty", Err: err}
	}
	if remote.IsKind(err, remote.NotEmpty) {
		return &remote.Error{Kind: remote.Permission, Op: op, Message: "the Manager prohibits deleting folder " + strconv.Quote(r.Name), Err: err}
	}
	return err
}

// Rename renames and/or moves file id with update-blob (name) and
// update-blob-parent (folder); both keep the file's ID, content and
// history.
//
// Folders: the 2023.2 API has no call to rename or move a resource group,
// so any change to a folder is Unsupported.
//
// With replace (a rename over an existing file): BIMcloud has no call that
// makes one file's content a revision of another without sending the
// bytes again, so replace is deleted and id takes its place. The result
// keeps id's identity and history; replace's history is gone. To lose
// nothing if the rename fails, replace is first renamed aside (to
// ".<name>.bimfs-replaced-<random>"), restored if moving id fails, and
// deleted only after id carries the name. Uploads naming replace as
// Existing afterwards land on id (see Upload).
//
// When both folder and name change, the move runs first; if the old name
// is taken in the new folder, the rename runs first. A failed second step
// undoes the first.
func (b *Backend) Rename(ctx context.Context, id, newParent remote.ID, newName string, replace remote.ID) (remote.Entry, error) {
	const op = "bimcloud.Rename"
	if err := ValidName(newName); err != nil {
		return remote.Entry{}, err
	}
	src, err := b.mgr.GetResource(ctx, string(id))
	if err != nil {
		return remote.Entry{}, err
	}
	switch src.Type {
	case TypeBlob:
	case TypeResourceGroup:
		if src.ParentID == string(newParent) && src.Name == newName {
			e, _ := entryOf(src)
			return e, nil
		}
		return remote.Entry{}, errorf(remote.Unsupported, op,
			"cannot rename or move folder %q: the BIMcloud API has no call to rename or move folders (only files)", src.Name)
	default:
		return remote.Entry{}, errorf(remote.Unsupported, op, "%q is a %s, neither a folder nor a file", src.Name, src.Type)
	}
	if replace == id {
		replace = ""
	}
	var parked *Resource
	if replace != "" {
		t, err := b.mgr.GetResource(ctx, string(replace))
		switch {
		case remote.IsKind(err, remote.NotFound):
			// Already gone: a plain rename (Exists if the name is taken again).
		case err != nil:
			return remote.Entry{}, err
		case t.Type != TypeBlob:
			return remote.Entry{}, errorf(remote.Invalid, op, "only a file can replace a file, and %q is a %s", t.Name, t.Type)
		case t.ParentID != string(newParent) || t.Name != newName:
			return remote.Entry{}, errorf(remote.Conflict, op, "the file to replace is no longer %q in that folder", newName)
		default:
			aside := "." + newName + ".bimfs-replaced-" + randomHex(4)
			if err := b.mgr.UpdateBlob(ctx, t.ID, aside); err != nil {
				return remote.Entry{}, err
			}
			parked = t
		}
	}
	if err := b.moveRename(ctx, src, string(newParent), newName); err != nil {
		if parked != nil {
			cctx, cancel := cleanupContext(ctx)
			if rerr := b.mgr.UpdateBlob(cctx, parked.ID, parked.Name); rerr != nil {
				b.log.Error("could not give the file to be replaced its name back", "name", parked.Name, "id", parked.ID, "err", rerr)
			}
			cancel()
		}
		return remote.Entry{}, err
	}
	if parked != nil {
		cctx, cancel := cleanupContext(ctx)
		if err := b.mgr.DeleteBlob(cctx, parked.ID); err != nil {
			b.log.Warn("the replaced file could not be deleted and stays under a hidden name", "name", newName, "id", parked.ID, "err", err)
		}
		cancel()
	}
	r, err := b.mgr.GetResource(ctx, src.ID)
	if err != nil {
		e, _ := entryOf(src)
		e.Name = newName
		return e, nil
	}
	e, _ := entryOf(r)
	return e, nil
}

// moveRename gives blob src the folder parent and the name name.
func (b *Backend) moveRename(ctx context.Context, src *Resource, parent, name string) error {
	move, rename := parent != src.ParentID, name != src.Name
	switch {
	case !move && !rename:
		return nil
	case !move:
		return b.mgr.UpdateBlob(ctx, src.ID, name)
	case !rename:
		return b.mgr.UpdateBlobParent(ctx, src.ID, parent)
	}
	first, second := b.moveStep(src.ID, parent), b.renameStep(src.ID, name)
	undo := b.moveStep(src.ID, src.ParentID)
	err := first(ctx)
	if remote.IsKind(err, remote.Exists) {
		// The old name is taken in the new folder: rename first.
		first, second, undo = second, first, b.renameStep(src.ID, src.Name)
		err = first(ctx)
	}
	if err != nil {
		return err
	}
	if err := second(ctx); err != nil {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if uerr := undo(cctx); uerr != nil {
			b.log.Error("could not undo half of a rename", "id", src.ID, "err", uerr)
		}
		return err
	}
	return nil
}

func (b *Backend) moveStep(id, parent string) func(context.Context) error {
	return func(ctx context.Context) error { return b.mgr.UpdateBlobParent(ctx, id, parent) }
}

func (b *Backend) renameStep(id, name string) func(context.Context) error {
	return func(ctx context.Context) error { return b.mgr.UpdateBlob(ctx, id, name) }
}

// SameSpace reports true: one Manager is one namespace, and
// update-blob-parent moves a file between any two folders (the file stays
// on its model server).
func (b *Backend) SameSpace(x, y remote.ID) bool { return true }

// RemoveAll deletes id, a file or a folder with everything below it, with
// delete-resources-by-id-list and waits for the job: it polls get-job every
// Config.JobPollInterval until the job is completed, failed, aborted or
// "abort failed" (workflow.py only stops at completed or failed). A job
// that vanished (error 6, finished jobs are removed after a few minutes)
// counts as done if id is gone. When ctx ends first the job is aborted.
func (b *Backend) RemoveAll(ctx context.Context, id remote.ID) error {
	const op = "bimcloud.RemoveAll"
	if id == RootID {
		return errorf(remote.Permission, op, "the project root cannot be deleted")
	}
	j, err := b.mgr.DeleteResources(ctx, []string{string(id)})
	if err != nil {
		return err
	}
	for {
		switch j.Status {
		case "completed":
			return nil
		case "failed", "abort failed":
			msg := "the delete job failed"
			if j.Result != nil {
				msg += ": " + *j.Result
			}
			kind := remote.KindUnknown
			code := ""
			if j.ResultCode != nil {
				code = *j.ResultCode
				if n, err := strconv.Atoi(code); err == nil {
					kind = lookup(ManagerErrors, n, "UnknownManagerError").Kind
				}
			}
			return &remote.Error{Kind: kind, Op: op, Code: code, Message: msg}
		case "aborted":
			return errorf(remote.Conflict, op, "the delete job was aborted")
		}
		if err := sleep(ctx, b.cfg.JobPollInterval); err != nil {
			cctx, cancel := cleanupContext(ctx)
			if _, aerr := b.mgr.AbortJob(cctx, j.ID); aerr != nil {
				b.log.Debug("aborting the delete job", "job", j.ID, "err", aerr)
			}
			cancel()
			return &remote.Error{Kind: remote.Canceled, Op: op, Err: err}
		}
		next, err := b.mgr.GetJob(ctx, j.ID)
		if remote.IsKind(err, remote.NotFound) {
			if _, serr := b.mgr.GetResource(ctx, string(id)); remote.IsKind(serr, remote.NotFound) {
				return nil
			}
			return &remote.Error{Kind: remote.Unavailable, Op: op, Message: "the delete job vanished before it finished", Err: err}
		}
		if err != nil {
			return err
		}
		j = next
	}
}

// cleanupContext is a fresh, bounded context for undoing work after ctx
// may have ended.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

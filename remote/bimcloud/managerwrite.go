package bimcloud

import (
	"context"
	"net/http"
	"net/url"

	"github.com/bimfs/bimfs/remote"
)

// The Manager's write calls. Each names its spec operation; where the
// vendor demo (managerapi.py) and the spec disagree the client sends the
// spec's form first, marked "Spec vs demo:" (forms.go).

// groupBody is the insert-resource-group body.
type groupBody struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// InsertResourceGroup is POST management/client/insert-resource-group
// ?parent-id=: it creates folder name in parentID and returns the new ID,
// which the Manager answers as a bare JSON string.
func (m *manager) InsertResourceGroup(ctx context.Context, parentID, name string) (string, error) {
	const op = "bimcloud.InsertResourceGroup"
	var id string
	u := m.cfg.apiURL("insert-resource-group", url.Values{"parent-id": {parentID}})
	if err := m.c.JSON(ctx, op, http.MethodPost, u, "", nil, groupBody{Name: name, Type: TypeResourceGroup}, &id); err != nil {
		return "", err
	}
	if id == "" {
		return "", errorf(remote.Unavailable, op, "the Manager answered without the new folder's ID")
	}
	return id, nil
}

// DeleteResourceGroup is DELETE management/client/delete-resource-group
// ?resource-id=. It deletes empty folders only; the spec does not say what
// a non-empty one gets (see Backend.Remove).
func (m *manager) DeleteResourceGroup(ctx context.Context, id string) error {
	u := m.cfg.apiURL("delete-resource-group", url.Values{"resource-id": {id}})
	return m.c.JSON(ctx, "bimcloud.DeleteResourceGroup", http.MethodDelete, u, "", nil, nil, nil)
}

// DeleteBlob is DELETE management/client/delete-blob?resource-id=.
func (m *manager) DeleteBlob(ctx context.Context, id string) error {
	u := m.cfg.apiURL("delete-blob", url.Values{"resource-id": {id}})
	return m.c.JSON(ctx, "bimcloud.DeleteBlob", http.MethodDelete, u, "", nil, nil, nil)
}

// blobUpdate is the update-blob body: the blob's ID and the properties to
// change ("$" properties are read-only, workflow.py).
type blobUpdate struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// UpdateBlob is PUT management/client/update-blob: it renames blob id.
// (Spec and demo agree on PUT; the demo leaves out "type", which the
// spec's body has.)
func (m *manager) UpdateBlob(ctx context.Context, id, name string) error {
	return m.c.JSON(ctx, "bimcloud.UpdateBlob", http.MethodPut, m.cfg.apiURL("update-blob", nil), "", nil,
		blobUpdate{ID: id, Name: name, Type: TypeBlob}, nil)
}

// parentBody is the update-blob-parent body. The spec allows parentPath
// or parentId; the client names folders by ID, which a concurrent rename
// cannot make ambiguous.
type parentBody struct {
	ParentID string `json:"parentId"`
}

// UpdateBlobParent is management/client/update-blob-parent?blob-id=: it
// moves blob id into folder parentID, keeping its ID and name.
//
// Spec vs demo: the spec declares PUT, which the client sends; managerapi.py
// sends POST, which the client falls back to when the Manager has no PUT
// route (withFallback).
func (m *manager) UpdateBlobParent(ctx context.Context, id, parentID string) error {
	const op = "bimcloud.UpdateBlobParent"
	var ok bool
	u := m.cfg.apiURL("update-blob-parent", url.Values{"blob-id": {id}})
	send := func(method string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			return m.c.JSON(ctx, op, method, u, "", nil, parentBody{ParentID: parentID}, &ok)
		}
	}
	if err := m.withFallback(ctx, op, send(http.MethodPut), send(http.MethodPost)); err != nil {
		return err
	}
	if !ok {
		return errorf(remote.Conflict, op, "the Manager did not move the file")
	}
	return nil
}

// idsBody is the delete-resources-by-id-list body.
type idsBody struct {
	IDs []string `json:"ids"`
}

// DeleteResources is POST management/client/delete-resources-by-id-list:
// it starts a destroyResources job deleting ids (folders recursively).
//
// Spec vs demo: the spec declares no request body; managerapi.py sends
// {"ids": [...]}, which the client follows (there is no other place the
// IDs could go).
func (m *manager) DeleteResources(ctx context.Context, ids []string) (*job, error) {
	const op = "bimcloud.DeleteResourcesByIDList"
	var j job
	if err := m.c.JSON(ctx, op, http.MethodPost, m.cfg.apiURL("delete-resources-by-id-list", nil), "", nil, idsBody{IDs: ids}, &j); err != nil {
		return nil, err
	}
	if j.ID == "" {
		return nil, errorf(remote.Unavailable, op, "the Manager answered without a job ID")
	}
	return &j, nil
}

// GetJob is GET management/client/get-job?job-id=. Finished jobs vanish
// after a few minutes; then it fails with error 6.
func (m *manager) GetJob(ctx context.Context, id string) (*job, error) {
	var j job
	if err := m.c.JSON(ctx, "bimcloud.GetJob", http.MethodGet, m.cfg.apiURL("get-job", url.Values{"job-id": {id}}), "", nil, nil, &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// AbortJob is POST management/client/abort-job?job-id=. It reports whether
// the job was running and abortable.
//
// (managerapi.py's abort_job posts to get-job by mistake; the spec's path
// is used.)
func (m *manager) AbortJob(ctx context.Context, id string) (bool, error) {
	var ok bool
	err := m.c.JSON(ctx, "bimcloud.AbortJob", http.MethodPost, m.cfg.apiURL("abort-job", url.Values{"job-id": {id}}), "", nil, nil, &ok)
	return ok, err
}

// DefaultBlobServer is GET management/client/get-inherited-default-blob-server-id
// ?resource-group-id=: the model server that hosts new files in folder id.
func (m *manager) DefaultBlobServer(ctx context.Context, folderID string) (string, error) {
	const op = "bimcloud.GetInheritedDefaultBlobServerID"
	var id string
	u := m.cfg.apiURL("get-inherited-default-blob-server-id", url.Values{"resource-group-id": {folderID}})
	if err := m.c.JSON(ctx, op, http.MethodGet, u, "", nil, nil, &id); err != nil {
		return "", err
	}
	if id == "" {
		return "", errorf(remote.Unavailable, op, "the Manager names no blob server for new files in this folder")
	}
	return id, nil
}

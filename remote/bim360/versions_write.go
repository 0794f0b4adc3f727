package bim360

import (
	"context"
	"net/http"
	"net/url"

	"github.com/bimfs/bimfs/remote"
)

// CreateVersionRequest holds the input of VersionsService.Create: new
// content (StorageURN) or a copy of an existing version (CopyFrom) becomes
// the item's new tip.
type CreateVersionRequest struct {
	ProjectID, ItemID string
	// Name is the file name of the new version; with CopyFrom an empty
	// name keeps the source's name. A new name is how BIM 360 renames a
	// file (PATCH of items and versions does not rename there).
	Name string
	// StorageURN holds the new content.
	StorageURN string
	// CopyFrom, if set, is the version ID whose content the new version
	// gets.
	CopyFrom string
	// Extension defaults to VersionExtensionBIM360File.
	Extension string
}

// CreatedVersion is the answer of VersionsService.Create: the new version
// and, in Included, its item.
type CreatedVersion struct {
	Data     Version `json:"data"`
	Included []Item  `json:"included"`
}

type versionPayload struct {
	JSONAPI JSONAPI           `json:"jsonapi"`
	Data    newVersionPayload `json:"data"`
}

// Create calls POST /data/v1/projects/{project_id}/versions (createVersion),
// optionally with ?copyFrom=<version ID>. A conflict answers 409, a locked
// item 423.
func (s *VersionsService) Create(ctx context.Context, req *CreateVersionRequest) (*CreatedVersion, error) {
	ext := req.Extension
	if ext == "" {
		ext = VersionExtensionBIM360File
	}
	body := versionPayload{Data: newVersionBody(req.Name, ext, req.StorageURN)}
	body.JSONAPI.Version = "1.0"
	body.Data.Relationships.Item = rel("items", req.ItemID)
	return s.post(ctx, "bim360.CreateVersion", copyFromQuery(req.CopyFrom), req.ProjectID, body)
}

// Delete deletes a file: POST /data/v1/projects/{project_id}/versions
// (createVersion) with extension versions:autodesk.core:Deleted, as the
// delete-and-restore tutorial shows. The item gets a new tip version
// without storage and becomes hidden; earlier versions stay readable.
//
// name is the item's current file name. The tutorial's body has none, but
// VersionPayload requires attributes.name (and extension), and a server
// that checks the schema refuses the body without it (400).
func (s *VersionsService) Delete(ctx context.Context, projectID, itemID, name string) (*CreatedVersion, error) {
	if name == "" {
		return nil, remote.Errorf(remote.Invalid, "bim360.DeleteItem", "item %s: deleting needs the file's name", itemID)
	}
	body := versionPayload{Data: newVersionBody(name, VersionExtensionDeleted, "")}
	body.JSONAPI.Version = "1.0"
	body.Data.Relationships.Item = rel("items", itemID)
	return s.post(ctx, "bim360.DeleteItem", nil, projectID, body)
}

func (s *VersionsService) post(ctx context.Context, op string, q url.Values, projectID string, body versionPayload) (*CreatedVersion, error) {
	var out CreatedVersion
	u := s.c.endpoint(q, "/data/v1/projects/%s/versions", projectID)
	if err := s.c.send(ctx, op, http.MethodPost, u, jsonAPIType, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

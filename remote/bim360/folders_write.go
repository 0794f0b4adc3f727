package bim360

import (
	"context"
	"net/http"
)

// Extension types of folders.
const (
	// FolderExtensionBIM360 is the extension of BIM 360 Docs folders, the
	// one POST folders and the CreateFolder command must name.
	FolderExtensionBIM360 = "folders:autodesk.bim360:Folder"
	// extensionVersion is the current version of every extension type
	// this client writes ("The current version is 1.0").
	extensionVersion = "1.0"
)

// relData is a to-one relationship in a request body.
type relData struct {
	Data ResourceID `json:"data"`
}

func rel(typ, id string) *relData { return &relData{Data: ResourceID{Type: typ, ID: id}} }

// CreateFolderRequest holds the input of FoldersService.Create.
type CreateFolderRequest struct {
	ProjectID string
	// ParentID is the folder that will hold the new one; for BIM 360 it
	// must be a top folder (Project Files, Plans) or below, never the
	// project's root folder.
	ParentID string
	Name     string
	// Extension is the folder extension type; "" means
	// FolderExtensionBIM360.
	Extension string
}

// folderPayload is the FolderPayload schema, also used for the folders a
// CreateFolder command includes.
type folderPayload struct {
	JSONAPI *JSONAPI         `json:"jsonapi,omitempty"`
	Data    newFolderPayload `json:"data"`
}

type newFolderPayload struct {
	Type       string `json:"type"`
	ID         string `json:"id,omitempty"` // temporary ID inside a command
	Attributes struct {
		Name      string    `json:"name"`
		Extension Extension `json:"extension"`
	} `json:"attributes"`
	Relationships struct {
		Parent *relData `json:"parent"`
	} `json:"relationships"`
}

func newFolder(id, parent, name, ext string) newFolderPayload {
	if ext == "" {
		ext = FolderExtensionBIM360
	}
	var f newFolderPayload
	f.Type, f.ID = "folders", id
	f.Attributes.Name = name
	f.Attributes.Extension = Extension{Type: ext, Version: extensionVersion}
	f.Relationships.Parent = rel("folders", parent)
	return f
}

// Create calls POST /data/v1/projects/{project_id}/folders (createFolder).
// A name already taken answers 409 (remote.Conflict; the Backend reports it
// as Exists), a locked parent 423.
func (s *FoldersService) Create(ctx context.Context, req *CreateFolderRequest) (*Folder, error) {
	body := folderPayload{JSONAPI: &JSONAPI{Version: "1.0"}, Data: newFolder("", req.ParentID, req.Name, req.Extension)}
	var out FolderResponse
	u := s.c.endpoint(nil, "/data/v1/projects/%s/folders", req.ProjectID)
	if err := s.c.send(ctx, "bim360.CreateFolder", http.MethodPost, u, jsonAPIType, body, &out); err != nil {
		return nil, err
	}
	return &out.Data, nil
}

// PatchFolderRequest holds the input of FoldersService.Patch. Only the
// fields set are sent.
type PatchFolderRequest struct {
	ProjectID, FolderID string
	// Name, if not empty, renames the folder.
	Name string
	// Hidden, if set, deletes (true) or restores (false) the folder.
	Hidden *bool
	// ParentID, if not empty, moves the folder below that folder.
	ParentID string
}

type modifyFolderPayload struct {
	JSONAPI JSONAPI `json:"jsonapi"`
	Data    struct {
		Type       string `json:"type"`
		ID         string `json:"id"`
		Attributes *struct {
			Name   string `json:"name,omitempty"`
			Hidden *bool  `json:"hidden,omitempty"`
		} `json:"attributes,omitempty"`
		Relationships *struct {
			Parent *relData `json:"parent"`
		} `json:"relationships,omitempty"`
	} `json:"data"`
}

// Patch calls PATCH /data/v1/projects/{project_id}/folders/{folder_id}
// (patchFolder): rename, move (a new parent), delete (hidden true) or
// restore (hidden false).
func (s *FoldersService) Patch(ctx context.Context, req *PatchFolderRequest) (*Folder, error) {
	var body modifyFolderPayload
	body.JSONAPI.Version = "1.0"
	body.Data.Type, body.Data.ID = "folders", req.FolderID
	if req.Name != "" || req.Hidden != nil {
		body.Data.Attributes = &struct {
			Name   string `json:"name,omitempty"`
			Hidden *bool  `json:"hidden,omitempty"`
		}{Name: req.Name, Hidden: req.Hidden}
	}
	if req.ParentID != "" {
		body.Data.Relationships = &struct {
			Parent *relData `json:"parent"`
		}{Parent: rel("folders", req.ParentID)}
	}
	var out FolderResponse
	u := s.c.endpoint(nil, "/data/v1/projects/%s/folders/%s", req.ProjectID, req.FolderID)
	if err := s.c.send(ctx, "bim360.PatchFolder", http.MethodPatch, u, jsonAPIType, body, &out); err != nil {
		return nil, err
	}
	return &out.Data, nil
}

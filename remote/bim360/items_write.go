package bim360

import (
	"context"
	"net/http"
	"net/url"
)

// Extension types of the files this client creates.
const (
	ItemExtensionBIM360File    = "items:autodesk.bim360:File"
	VersionExtensionBIM360File = "versions:autodesk.bim360:File"
)

// CreateItemRequest holds the input of ItemsService.Create: either new
// content (StorageURN, uploaded and completed) or a copy of an existing
// version (CopyFrom).
type CreateItemRequest struct {
	ProjectID string
	// FolderID is the folder of the new item.
	FolderID string
	// Name is the file name (the first version's name). With CopyFrom an
	// empty name keeps the source version's name.
	Name string
	// StorageURN holds the bytes of the first version.
	StorageURN string
	// CopyFrom, if set, is the version ID whose content becomes the new
	// item's first version (same project only).
	CopyFrom string
	// ItemExtension and VersionExtension default to the BIM 360 File types.
	ItemExtension, VersionExtension string
}

type itemPayload struct {
	JSONAPI JSONAPI `json:"jsonapi"`
	Data    struct {
		Type       string `json:"type"`
		Attributes struct {
			DisplayName string    `json:"displayName,omitempty"`
			Extension   Extension `json:"extension"`
		} `json:"attributes"`
		Relationships struct {
			Tip    *relData `json:"tip"`
			Parent *relData `json:"parent"`
		} `json:"relationships"`
	} `json:"data"`
	Included []newVersionPayload `json:"included"`
}

// newVersionPayload is a version in a request body: the included first
// version of ItemPayload or the data of VersionPayload.
type newVersionPayload struct {
	Type       string `json:"type"`
	ID         string `json:"id,omitempty"`
	Attributes struct {
		Name      string    `json:"name,omitempty"`
		Extension Extension `json:"extension"`
	} `json:"attributes"`
	Relationships struct {
		Item    *relData `json:"item,omitempty"`
		Storage *relData `json:"storage,omitempty"`
	} `json:"relationships"`
}

// Create calls POST /data/v1/projects/{project_id}/items (createItem),
// optionally with ?copyFrom=<version ID>. The answer (CreatedItem) is the
// item with its first version in Included. A name already used in the
// folder answers 409, a locked folder 423.
func (s *ItemsService) Create(ctx context.Context, req *CreateItemRequest) (*ItemResponse, error) {
	itemExt, verExt := req.ItemExtension, req.VersionExtension
	if itemExt == "" {
		itemExt = ItemExtensionBIM360File
	}
	if verExt == "" {
		verExt = VersionExtensionBIM360File
	}
	body := newItemBody(req.FolderID, req.Name, itemExt, verExt, req.StorageURN)
	var out ItemResponse
	u := s.c.endpoint(copyFromQuery(req.CopyFrom), "/data/v1/projects/%s/items", req.ProjectID)
	if err := s.c.send(ctx, "bim360.CreateItem", http.MethodPost, u, jsonAPIType, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// newItemBody is the createItem body: an item named name in folderID whose
// first version (included, temporary ID "1") holds storageURN, or nothing
// when the content is a copy.
func newItemBody(folderID, name, itemExt, verExt, storageURN string) itemPayload {
	var body itemPayload
	body.JSONAPI.Version = "1.0"
	body.Data.Type = "items"
	body.Data.Attributes.DisplayName = name
	body.Data.Attributes.Extension = Extension{Type: itemExt, Version: extensionVersion}
	body.Data.Relationships.Tip = rel("versions", "1")
	body.Data.Relationships.Parent = rel("folders", folderID)
	v := newVersionBody(name, verExt, storageURN)
	v.ID = "1"
	body.Included = []newVersionPayload{v}
	return body
}

// newVersionBody is a version with content in a request body: its name,
// extension and, unless the content is a copy, its storage object.
func newVersionBody(name, ext, storageURN string) newVersionPayload {
	v := newVersionPayload{Type: "versions"}
	v.Attributes.Name = name
	v.Attributes.Extension = Extension{Type: ext, Version: extensionVersion}
	if storageURN != "" {
		v.Relationships.Storage = rel("objects", storageURN)
	}
	return v
}

// copyFromQuery is the ?copyFrom=<version ID> query of a copy, nil for new
// content.
func copyFromQuery(versionID string) url.Values {
	if versionID == "" {
		return nil
	}
	return url.Values{"copyFrom": {versionID}}
}

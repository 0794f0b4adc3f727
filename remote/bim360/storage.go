package bim360

import (
	"context"
	"net/http"

	"github.com/bimfs/bimfs/remote"
)

// StorageRequest holds the input of ProjectsService.CreateStorage.
type StorageRequest struct {
	ProjectID string
	// FolderID is the folder that holds (or will hold) the file. The
	// storage target is always the folder, also for a new version of an
	// existing item: the spec allows "items" there, but the upload
	// tutorials only ever use "folders".
	FolderID string
	// Name is the file name.
	Name string
}

type storagePayload struct {
	JSONAPI JSONAPI `json:"jsonapi"`
	Data    struct {
		Type       string `json:"type"`
		Attributes struct {
			Name string `json:"name"`
		} `json:"attributes"`
		Relationships struct {
			Target *relData `json:"target"`
		} `json:"relationships"`
	} `json:"data"`
}

// newStorageBody is the createStorage body for a file named name in
// folderID.
func newStorageBody(folderID, name string) storagePayload {
	var body storagePayload
	body.JSONAPI.Version = "1.0"
	body.Data.Type = "objects"
	body.Data.Attributes.Name = name
	body.Data.Relationships.Target = rel("folders", folderID)
	return body
}

// Storage is the answer of CreateStorage: ID is the OSS object URN,
// "urn:adsk.objects:os.object:<bucket>/<object key>".
type Storage struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// Bucket returns the bucket of the storage URN.
func (s *Storage) Bucket() string { b, _, _ := ParseStorageURN(s.ID); return b }

// Object returns the object key of the storage URN.
func (s *Storage) Object() string { _, o, _ := ParseStorageURN(s.ID); return o }

// CreateStorage calls POST /data/v1/projects/{project_id}/storage
// (createStorage): a placeholder object in OSS for the bytes of a new item
// or version. Every version needs its own storage object.
func (s *ProjectsService) CreateStorage(ctx context.Context, req *StorageRequest) (*Storage, error) {
	const op = "bim360.CreateStorage"
	var out struct {
		Data Storage `json:"data"`
	}
	u := s.c.endpoint(nil, "/data/v1/projects/%s/storage", req.ProjectID)
	if err := s.c.send(ctx, op, http.MethodPost, u, jsonAPIType, newStorageBody(req.FolderID, req.Name), &out); err != nil {
		return nil, err
	}
	if _, _, ok := ParseStorageURN(out.Data.ID); !ok {
		return nil, &remote.Error{Kind: remote.Unavailable, Op: op, Message: "the storage answer carries no OSS object URN: " + out.Data.ID}
	}
	return &out.Data, nil
}

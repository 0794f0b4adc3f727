package bim360

import (
	"context"
	"strings"
)

// Extension types of versions that matter to the filesystem.
const (
	// VersionExtensionDeleted marks the tip version a delete creates: it
	// has a generated name and no storage.
	VersionExtensionDeleted = "versions:autodesk.core:Deleted"
)

// storageURNPrefix starts every OSS object URN in storage relationships.
const storageURNPrefix = "urn:adsk.objects:os.object:"

// Version is one immutable version of an item. Attributes.Name is the file
// name to show ("the file name to be used when synced to local disk").
type Version struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	Attributes struct {
		Name             string    `json:"name"`
		DisplayName      string    `json:"displayName"`
		VersionNumber    int       `json:"versionNumber"`
		MimeType         string    `json:"mimeType"`
		FileType         string    `json:"fileType"`
		StorageSize      int64     `json:"storageSize"`
		CreateTime       Time      `json:"createTime"`
		LastModifiedTime Time      `json:"lastModifiedTime"`
		CreateUserName   string    `json:"createUserName"`
		Extension        Extension `json:"extension"`
	} `json:"attributes"`
	Relationships struct {
		Item    Relationship `json:"item"`
		Storage Relationship `json:"storage"`
	} `json:"relationships"`
}

// Deleted reports whether this version marks its item as deleted.
func (v *Version) Deleted() bool { return v.Attributes.Extension.Type == VersionExtensionDeleted }

// StorageURN returns the OSS object holding this version's bytes
// ("urn:adsk.objects:os.object:<bucket>/<key>"), or "" if it has none.
func (v *Version) StorageURN() string { return v.Relationships.Storage.Data.ID }

// VersionResponse is the body of GET version.
type VersionResponse struct {
	Data Version `json:"data"`
}

// Get calls GET /data/v1/projects/{project_id}/versions/{version_id}
// (getVersion).
func (s *VersionsService) Get(ctx context.Context, projectID, versionID string) (*Version, error) {
	var out VersionResponse
	if err := s.c.get(ctx, "bim360.GetVersion", s.c.endpoint(nil, "/data/v1/projects/%s/versions/%s", projectID, versionID), &out); err != nil {
		return nil, err
	}
	return &out.Data, nil
}

// ParseStorageURN splits "urn:adsk.objects:os.object:<bucket>/<object key>"
// into bucket and object key. The bucket is whatever the URN says (never
// assume wip.dm.prod); the object key may itself contain slashes.
func ParseStorageURN(urn string) (bucket, object string, ok bool) {
	rest, found := strings.CutPrefix(urn, storageURNPrefix)
	if !found {
		return "", "", false
	}
	bucket, object, found = strings.Cut(rest, "/")
	if !found || bucket == "" || object == "" {
		return "", "", false
	}
	return bucket, object, true
}

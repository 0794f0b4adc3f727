package bim360

import (
	"context"
	"net/url"
	"strconv"
)

// Item is one file lineage. Its name is the tip version's Attributes.Name;
// the spec reserves the item's displayName for BIM 360.
type Item struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	Attributes struct {
		DisplayName      string    `json:"displayName"`
		CreateTime       Time      `json:"createTime"`
		LastModifiedTime Time      `json:"lastModifiedTime"`
		Hidden           bool      `json:"hidden"`
		Reserved         bool      `json:"reserved"`
		Extension        Extension `json:"extension"`
		PathInProject    string    `json:"pathInProject"`
	} `json:"attributes"`
	Relationships ItemRelationships `json:"relationships"`
}

// ItemRelationships are the relationships of an item this client reads:
// its folder and its tip version.
type ItemRelationships struct {
	Parent Relationship `json:"parent"`
	Tip    Relationship `json:"tip"`
}

// ItemResponse is the body of GET item: the item and, in Included, its tip
// version.
type ItemResponse struct {
	Data     Item      `json:"data"`
	Included []Version `json:"included"`
}

// Tip returns the included tip version, if present.
func (r *ItemResponse) Tip() (*Version, bool) {
	id := r.Data.Relationships.Tip.Data.ID
	for i := range r.Included {
		if r.Included[i].ID == id {
			return &r.Included[i], true
		}
	}
	return nil, false
}

// VersionList is the answer of ItemsService.Versions: every page joined.
type VersionList struct {
	Data  []Version `json:"data"`
	Links Links     `json:"links"`
	Pages int       `json:"-"`
}

// VersionsRequest holds the options of ItemsService.Versions.
type VersionsRequest struct {
	ProjectID, ItemID string
	// VersionNumber, if positive, filters on filter[versionNumber].
	VersionNumber int
}

// Get calls GET /data/v1/projects/{project_id}/items/{item_id} (getItem).
// The answer carries the tip version in Included, which makes this the
// cheap way to stat one file: GET tip is limited to 50 calls a minute, GET
// item to 300.
func (s *ItemsService) Get(ctx context.Context, projectID, itemID string) (*ItemResponse, error) {
	var out ItemResponse
	if err := s.c.get(ctx, "bim360.GetItem", s.c.endpoint(nil, "/data/v1/projects/%s/items/%s", projectID, itemID), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Versions calls GET /data/v1/projects/{project_id}/items/{item_id}/versions
// (getItemVersions) and follows links.next until it is absent.
func (s *ItemsService) Versions(ctx context.Context, req *VersionsRequest) (*VersionList, error) {
	q := url.Values{}
	q.Set("page[limit]", strconv.Itoa(PageLimit))
	if req.VersionNumber > 0 {
		q.Set("filter[versionNumber]", strconv.Itoa(req.VersionNumber))
	}
	data, links, n, err := allPages[Version](ctx, s.c, "bim360.GetItemVersions", s.c.endpoint(q, "/data/v1/projects/%s/items/%s/versions", req.ProjectID, req.ItemID))
	if err != nil {
		return nil, err
	}
	return &VersionList{Data: data, Links: links, Pages: n}, nil
}

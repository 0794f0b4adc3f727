package bim360

import (
	"context"
	"net/url"
	"strconv"
)

// Folder is one folder. Its name is Attributes.Name; the spec reserves
// displayName.
type Folder struct {
	Type          string           `json:"type"`
	ID            string           `json:"id"`
	Attributes    FolderAttributes `json:"attributes"`
	Relationships struct {
		Parent Relationship `json:"parent"`
	} `json:"relationships"`
}

// FolderAttributes are a folder's attributes.
type FolderAttributes struct {
	Name                   string    `json:"name"`
	DisplayName            string    `json:"displayName"`
	ObjectCount            int       `json:"objectCount"`
	CreateTime             Time      `json:"createTime"`
	LastModifiedTime       Time      `json:"lastModifiedTime"`
	LastModifiedTimeRollup Time      `json:"lastModifiedTimeRollup"`
	Hidden                 bool      `json:"hidden"`
	Extension              Extension `json:"extension"`
}

// FolderResponse is the body of GET folder.
type FolderResponse struct {
	Data Folder `json:"data"`
}

// FolderContents is a folder's listing: its subfolders, its items and the
// items' tip versions (the "included" array), with every page joined.
type FolderContents struct {
	Folders  []Folder
	Items    []Item
	Included []Version
	Links    Links
	// Pages is the number of calls the listing took.
	Pages int

	tips map[string]int // Included index by version ID
}

// Tip returns the included tip version of item, if the listing carried it.
func (fc *FolderContents) Tip(it *Item) (*Version, bool) {
	if fc.tips == nil {
		fc.tips = make(map[string]int, len(fc.Included))
		for i := range fc.Included {
			fc.tips[fc.Included[i].ID] = i
		}
	}
	i, ok := fc.tips[it.Relationships.Tip.Data.ID]
	if !ok {
		return nil, false
	}
	return &fc.Included[i], true
}

// contentsPage is one page of folder contents on the wire: data mixes
// folders and items, told apart by their type. Rows decode once into the
// union of both shapes (a 10,000-file folder is 50 pages of this).
type contentsPage struct {
	Data     []contentsRow `json:"data"`
	Included []Version     `json:"included"`
	Links    Links         `json:"links"`
}

type contentsRow struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	Attributes struct {
		// Embedded untagged, the folder fields decode inline; the item
		// attributes are those plus the two below.
		FolderAttributes
		Reserved      bool   `json:"reserved"`
		PathInProject string `json:"pathInProject"`
	} `json:"attributes"`
	// Folders use only Parent.
	Relationships ItemRelationships `json:"relationships"`
}

// ContentsRequest holds the options of FoldersService.Contents.
type ContentsRequest struct {
	ProjectID, FolderID string
	// FilterType limits the listing to "folders" or "items".
	FilterType string
	// IncludeHidden asks for deleted items and folders too.
	IncludeHidden bool
	// Limit is page[limit]; 0 means PageLimit (the maximum, 200).
	Limit int
}

// Get calls GET /data/v1/projects/{project_id}/folders/{folder_id} (getFolder).
func (s *FoldersService) Get(ctx context.Context, projectID, folderID string) (*Folder, error) {
	var out FolderResponse
	if err := s.c.get(ctx, "bim360.GetFolder", s.c.endpoint(nil, "/data/v1/projects/%s/folders/%s", projectID, folderID), &out); err != nil {
		return nil, err
	}
	return &out.Data, nil
}

// Contents calls GET /data/v1/projects/{project_id}/folders/{folder_id}/contents
// (getFolderContents) and follows links.next until it is absent, so the
// answer holds the whole folder. A page may be empty in the middle of a
// listing; only a missing next link ends it.
func (s *FoldersService) Contents(ctx context.Context, req *ContentsRequest) (*FolderContents, error) {
	const op = "bim360.GetFolderContents"
	q := url.Values{}
	limit := req.Limit
	if limit <= 0 || limit > PageLimit {
		limit = PageLimit
	}
	q.Set("page[limit]", strconv.Itoa(limit))
	if req.FilterType != "" {
		q.Set("filter[type]", req.FilterType)
	}
	if req.IncludeHidden {
		q.Set("includeHidden", "true")
	}
	var all FolderContents
	n, err := s.c.pages(ctx, op, s.c.endpoint(q, "/data/v1/projects/%s/folders/%s/contents", req.ProjectID, req.FolderID), func() (any, func() Links) {
		var p contentsPage
		return &p, func() Links {
			all.add(&p)
			all.Links = p.Links
			return p.Links
		}
	})
	if err != nil {
		return nil, err
	}
	all.Pages = n
	return &all, nil
}

func (fc *FolderContents) add(p *contentsPage) {
	for i := range p.Data {
		r := &p.Data[i]
		a := &r.Attributes
		switch r.Type {
		case "folders":
			var f Folder
			f.Type, f.ID = r.Type, r.ID
			f.Attributes = a.FolderAttributes
			f.Relationships.Parent = r.Relationships.Parent
			fc.Folders = append(fc.Folders, f)
		case "items":
			var it Item
			it.Type, it.ID = r.Type, r.ID
			it.Attributes.DisplayName, it.Attributes.CreateTime, it.Attributes.LastModifiedTime = a.DisplayName, a.CreateTime, a.LastModifiedTime
			it.Attributes.Hidden, it.Attributes.Reserved, it.Attributes.Extension, it.Attributes.PathInProject = a.Hidden, a.Reserved, a.Extension, a.PathInProject
			it.Relationships = r.Relationships
			fc.Items = append(fc.Items, it)
		default:
			// Other resource types (links, refs) are not files.
		}
	}
	fc.Included = append(fc.Included, p.Included...)
	fc.tips = nil
}

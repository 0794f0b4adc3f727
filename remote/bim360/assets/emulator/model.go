package emulator

import (
	"fmt"
	"time"
)

// Wire shapes, with the field names of the tutorial's examples.

type audit struct {
	CreatedAt string `json:"createdAt"`
	CreatedBy string `json:"createdBy"`
	UpdatedAt string `json:"updatedAt"`
	UpdatedBy string `json:"updatedBy"`
}

// Asset is one asset as the v2 assets call returns it.
type Asset struct {
	ID            string `json:"id"`
	Version       int    `json:"version"`
	CreatedAt     string `json:"createdAt"`
	CreatedBy     string `json:"createdBy"`
	UpdatedAt     string `json:"updatedAt"`
	UpdatedBy     string `json:"updatedBy"`
	IsActive      bool   `json:"isActive"`
	CategoryID    string `json:"categoryId"`
	LocationID    string `json:"locationId,omitempty"`
	CompanyID     string `json:"companyId,omitempty"`
	ClientAssetID string `json:"clientAssetId"`
	StatusID      string `json:"statusId"`
	Description   string `json:"description,omitempty"`
	Barcode       string `json:"barcode,omitempty"`
	// CustomAttributes are keyed by the attribute's name ("ca1").
	CustomAttributes map[string]any `json:"customAttributes,omitempty"`
}

type category struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Description    string   `json:"description,omitempty"`
	ParentID       string   `json:"parentId,omitempty"`
	CreatedAt      string   `json:"createdAt"`
	CreatedBy      string   `json:"createdBy"`
	UpdatedAt      string   `json:"updatedAt"`
	UpdatedBy      string   `json:"updatedBy"`
	SubcategoryIDs []string `json:"subcategoryIds"`
	IsActive       bool     `json:"isActive"`
	IsRoot         bool     `json:"isRoot"`
	IsLeaf         bool     `json:"isLeaf"`
}

type status struct {
	ID              string `json:"id"`
	Version         int    `json:"version"`
	Description     string `json:"description"`
	Bucket          string `json:"bucket"`
	Label           string `json:"label"`
	Color           string `json:"color"`
	ProjectID       string `json:"projectId"`
	StatusStepSetID string `json:"statusStepSetId"`
	CreatedBy       string `json:"createdBy"`
	CreatedAt       string `json:"createdAt"`
	UpdatedBy       string `json:"updatedBy"`
	UpdatedAt       string `json:"updatedAt"`
	IsActive        bool   `json:"isActive"`
}

type statusSet struct {
	ID        string    `json:"id"`
	Version   int       `json:"version"`
	ProjectID string    `json:"projectId"`
	Name      string    `json:"name"`
	IsDefault bool      `json:"isDefault"`
	Values    []*status `json:"values"`
	CreatedAt string    `json:"createdAt"`
	CreatedBy string    `json:"createdBy"`
	UpdatedAt string    `json:"updatedAt"`
	UpdatedBy string    `json:"updatedBy"`
	IsActive  bool      `json:"isActive"`
}

type attribute struct {
	ID                      string   `json:"id"`
	Version                 int      `json:"version"`
	ProjectID               string   `json:"projectId"`
	DataType                string   `json:"dataType"`
	DisplayName             string   `json:"displayName"`
	Name                    string   `json:"name"`
	Description             string   `json:"description,omitempty"`
	RequiredOnIngress       bool     `json:"requiredOnIngress"`
	Values                  []string `json:"values,omitempty"`
	CreatedBy               string   `json:"createdBy"`
	CreatedAt               string   `json:"createdAt"`
	UpdatedBy               string   `json:"updatedBy"`
	UpdatedAt               string   `json:"updatedAt"`
	IsActive                bool     `json:"isActive"`
	InheritedFromCategoryID string   `json:"inheritedFromCategoryId,omitempty"`
}

type locationNode struct {
	ID            string  `json:"id"`
	ParentID      *string `json:"parentId"`
	Type          string  `json:"type"`
	Name          string  `json:"name"`
	Description   string  `json:"description"`
	Order         int     `json:"order"`
	DocumentCount int     `json:"documentCount"`
	AreaDefined   bool    `json:"areaDefined"`
}

type relEntity struct {
	CreatedOn string `json:"createdOn"`
	Domain    string `json:"domain"`
	Type      string `json:"type"`
	ID        string `json:"id"`
}

type relationship struct {
	ID         string      `json:"id"`
	CreatedOn  string      `json:"createdOn"`
	IsReadOnly bool        `json:"isReadOnly"`
	IsService  bool        `json:"isService"`
	IsDeleted  bool        `json:"isDeleted"`
	Entities   []relEntity `json:"entities"`
}

type project struct {
	id         string
	categories []*category
	catByID    map[string]*category
	sets       []*statusSet
	attrs      []*attribute
	catAttrs   map[string][]string // explicit assignments: category → attribute names
	catSet     map[string]string   // explicit assignments: category → status step set
	assets     []*Asset
	locations  []*locationNode
	rels       []*relationship
	nextCat    int
}

const serviceUser = "KKD4J2WE984T"

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// project returns the project, creating it with its ROOT category.
func (s *Service) projectLocked(id string) *project {
	p := s.projects[id]
	if p == nil {
		now := stamp(s.now())
		p = &project{id: id, catByID: map[string]*category{}, catAttrs: map[string][]string{}, catSet: map[string]string{}, nextCat: 10}
		root := &category{ID: "10", Name: "ROOT", Description: "Auto-generated ROOT category for Assets Category Hierarchy",
			CreatedAt: now, CreatedBy: "assets-service", UpdatedAt: now, UpdatedBy: "assets-service",
			SubcategoryIDs: []string{}, IsActive: true, IsRoot: true, IsLeaf: true}
		p.categories = append(p.categories, root)
		p.catByID[root.ID] = root
		s.projects[id] = p
	}
	return p
}

// RootCategory returns the ID of a project's ROOT category (creating the
// project if needed).
func (s *Service) RootCategory(projectID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.projectLocked(projectID).categories[0].ID
}

// AddCategory adds a category below parentID and returns its ID.
func (s *Service) AddCategory(projectID, parentID, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectLocked(projectID)
	parent := p.catByID[parentID]
	if parent == nil {
		panic(fmt.Sprintf("assets emulator: unknown category %q", parentID))
	}
	p.nextCat++
	now := stamp(s.now())
	c := &category{ID: fmt.Sprint(p.nextCat), Name: name, ParentID: parentID, CreatedAt: now, CreatedBy: serviceUser,
		UpdatedAt: now, UpdatedBy: serviceUser, SubcategoryIDs: []string{}, IsActive: true, IsLeaf: true}
	parent.SubcategoryIDs = append(parent.SubcategoryIDs, c.ID)
	parent.IsLeaf = false
	p.categories = append(p.categories, c)
	p.catByID[c.ID] = c
	return c.ID
}

// AddStatusSet adds a status step set with one status per label and
// returns the set's ID and the statuses' IDs.
func (s *Service) AddStatusSet(projectID, name string, isDefault bool, labels ...string) (string, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectLocked(projectID)
	now := stamp(s.now())
	set := &statusSet{ID: uuid(), Version: len(p.sets) + 1, ProjectID: projectID, Name: name, IsDefault: isDefault,
		CreatedAt: now, CreatedBy: serviceUser, UpdatedAt: now, UpdatedBy: serviceUser, IsActive: true}
	colors := []string{"blue", "yellow", "red", "green", "purple"}
	var ids []string
	for i, l := range labels {
		st := &status{ID: uuid(), Version: i + 1, Description: l, Bucket: fmt.Sprintf("bucket-%d", i), Label: l,
			Color: colors[i%len(colors)], ProjectID: projectID, StatusStepSetID: set.ID,
			CreatedBy: serviceUser, CreatedAt: now, UpdatedBy: serviceUser, UpdatedAt: now, IsActive: true}
		set.Values = append(set.Values, st)
		ids = append(ids, st.ID)
	}
	p.sets = append(p.sets, set)
	return set.ID, ids
}

// AssignStatusSet assigns a status step set to a category (and, by
// inheritance, to its subcategories without their own).
func (s *Service) AssignStatusSet(projectID, categoryID, setID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.projectLocked(projectID).catSet[categoryID] = setID
}

// AddCustomAttribute adds a custom attribute; dataType is one of text,
// paragraph, numeric, boolean, date, select, multi_select. values lists the
// choices of select types.
func (s *Service) AddCustomAttribute(projectID, name, displayName, dataType string, values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectLocked(projectID)
	now := stamp(s.now())
	p.attrs = append(p.attrs, &attribute{ID: uuid(), Version: len(p.attrs) + 1, ProjectID: projectID, DataType: dataType,
		DisplayName: displayName, Name: name, Description: displayName + " of the asset", Values: values, CreatedBy: serviceUser, CreatedAt: now,
		UpdatedBy: serviceUser, UpdatedAt: now, IsActive: true})
}

// AssignCustomAttribute assigns a custom attribute (by name) to a category
// and so to its subcategories.
func (s *Service) AssignCustomAttribute(projectID, categoryID, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectLocked(projectID)
	p.catAttrs[categoryID] = append(p.catAttrs[categoryID], name)
}

// AddAsset adds an asset; ID, version and audit fields are filled in when
// empty. It returns the asset's ID.
func (s *Service) AddAsset(projectID string, a Asset) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectLocked(projectID)
	now := stamp(s.now())
	if a.ID == "" {
		a.ID = uuid()
	}
	if a.Version == 0 {
		a.Version = 1
	}
	if a.CreatedAt == "" {
		a.CreatedAt, a.CreatedBy, a.UpdatedAt, a.UpdatedBy = now, serviceUser, now, serviceUser
	}
	p.assets = append(p.assets, &a)
	return a.ID
}

// AddLocation adds a node to the project's default location tree (its
// container ID is the project ID); parentID "" makes the root.
func (s *Service) AddLocation(projectID, parentID, typ, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectLocked(projectID)
	n := &locationNode{ID: uuid(), Type: typ, Name: name, Description: name + " node", Order: len(p.locations)}
	if parentID != "" {
		pid := parentID
		n.ParentID = &pid
		n.AreaDefined = typ == "Area"
	}
	p.locations = append(p.locations, n)
	return n.ID
}

// AddRelationship relates an asset to another entity (domain e.g.
// "autodesk-bim360-issue", type "issue").
func (s *Service) AddRelationship(projectID, assetID, domain, typ, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectLocked(projectID)
	now := s.now().UTC().Format("2006-01-02T15:04:05.000000+00:00")
	p.rels = append(p.rels, &relationship{ID: uuid(), CreatedOn: now, IsReadOnly: true, IsService: true,
		Entities: []relEntity{{CreatedOn: now, Domain: "autodesk-bim360-asset", Type: "asset", ID: assetID},
			{CreatedOn: now, Domain: domain, Type: typ, ID: id}}})
}

// AssetCount returns the number of assets of a project.
func (s *Service) AssetCount(projectID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.projects[projectID]; p != nil {
		return len(p.assets)
	}
	return 0
}

// CustomAttributeNames returns the display names of a project's custom
// attributes.
func (s *Service) CustomAttributeNames(projectID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	if p := s.projects[projectID]; p != nil {
		for _, a := range p.attrs {
			out = append(out, a.DisplayName)
		}
	}
	return out
}

// CategoryCount returns the number of categories of a project, ROOT
// included (0 for a project nobody added data to).
func (s *Service) CategoryCount(projectID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.projects[projectID]; p != nil {
		return len(p.categories)
	}
	return 0
}

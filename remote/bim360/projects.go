package bim360

import (
	"context"
	"net/url"
)

// Project is one project of a hub (for BIM 360, ID "b.<projectId>").
type Project struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	Attributes struct {
		Name      string    `json:"name"`
		Scopes    []string  `json:"scopes"`
		Extension Extension `json:"extension"`
	} `json:"attributes"`
	Relationships struct {
		Hub        Relationship `json:"hub"`
		RootFolder Relationship `json:"rootFolder"`
		// Locations names the project's locations container (BIM 360).
		Locations Relationship `json:"locations"`
	} `json:"relationships"`
}

// ProjectList is the answer of ProjectsService.List: every page joined.
type ProjectList struct {
	Data  []Project `json:"data"`
	Links Links     `json:"links"`
	// Pages is the number of calls the listing took.
	Pages int `json:"-"`
}

// ProjectResponse is the body of GET project.
type ProjectResponse struct {
	Data Project `json:"data"`
}

// TopFolderList is the answer of ProjectsService.TopFolders.
type TopFolderList struct {
	Data  []Folder `json:"data"`
	Links Links    `json:"links"`
}

// TopFoldersRequest holds the options of ProjectsService.TopFolders.
type TopFoldersRequest struct {
	HubID, ProjectID string
	// ExcludeDeleted asks the server to leave out deleted folders.
	ExcludeDeleted bool
	// ProjectFilesOnly asks for the Project Files folder's subtree only.
	ProjectFilesOnly bool
}

// List calls GET /project/v1/hubs/{hub_id}/projects (getHubProjects) with
// page[limit]=200 and follows links.next until it is absent.
func (s *ProjectsService) List(ctx context.Context, hubID string) (*ProjectList, error) {
	data, links, n, err := allPages[Project](ctx, s.c, "bim360.GetHubProjects", s.c.endpoint(pageQuery(), "/project/v1/hubs/%s/projects", hubID))
	if err != nil {
		return nil, err
	}
	return &ProjectList{Data: data, Links: links, Pages: n}, nil
}

// Get calls GET /project/v1/hubs/{hub_id}/projects/{project_id} (getProject).
func (s *ProjectsService) Get(ctx context.Context, hubID, projectID string) (*Project, error) {
	var out ProjectResponse
	if err := s.c.get(ctx, "bim360.GetProject", s.c.endpoint(nil, "/project/v1/hubs/%s/projects/%s", hubID, projectID), &out); err != nil {
		return nil, err
	}
	return &out.Data, nil
}

// TopFolders calls GET /project/v1/hubs/{hub_id}/projects/{project_id}/topFolders
// (getProjectTopFolders).
func (s *ProjectsService) TopFolders(ctx context.Context, req *TopFoldersRequest) (*TopFolderList, error) {
	q := url.Values{}
	if req.ExcludeDeleted {
		q.Set("excludeDeleted", "true")
	}
	if req.ProjectFilesOnly {
		q.Set("projectFilesOnly", "true")
	}
	var out TopFolderList
	u := s.c.endpoint(q, "/project/v1/hubs/%s/projects/%s/topFolders", req.HubID, req.ProjectID)
	if err := s.c.get(ctx, "bim360.GetProjectTopFolders", u, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

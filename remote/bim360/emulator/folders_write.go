package emulator

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// folderIn is the data member of FolderPayload and of each folder in a
// CreateFolder command's included array.
type folderIn struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	Attributes struct {
		Name      string `json:"name"`
		Extension *extIn `json:"extension"`
	} `json:"attributes"`
	Relationships struct {
		Parent relIn `json:"parent"`
	} `json:"relationships"`
}

// newFolderProblem is a refused folder creation: its status and detail.
type newFolderProblem struct {
	status int
	detail string
}

func (pr *newFolderProblem) write(w http.ResponseWriter) {
	switch pr.status {
	case http.StatusNotFound:
		writeDMError(w, pr.status, "NOT_FOUND", "Not Found", pr.detail)
	case http.StatusForbidden:
		writeForbidden(w, "Forbidden", pr.detail)
	case http.StatusConflict:
		writeConflict(w, pr.detail)
	default:
		badRequest(w, pr.detail)
	}
}

// checkNewFolder validates one folder to create in p and returns its
// parent. pending are folders already accepted in the same request, for
// name conflicts among them. Caller holds the store lock.
func (st *store) checkNewFolder(p *project, in folderIn, pending map[*folder][]string) (*folder, *newFolderProblem) {
	bad := func(status int, format string, args ...any) (*folder, *newFolderProblem) {
		return nil, &newFolderProblem{status, fmt.Sprintf(format, args...)}
	}
	par := in.Relationships.Parent.Data
	switch {
	case in.Type != "folders":
		return bad(400, `data.type must be "folders"`)
	case in.Attributes.Extension == nil || in.Attributes.Extension.Type == "" || in.Attributes.Extension.Version == "":
		return bad(400, "attributes.extension with type and version is required")
	case in.Attributes.Extension.Type != extFolder:
		return bad(400, "attributes.extension.type must be %s in a BIM 360 Docs project (not %q)", extFolder, in.Attributes.Extension.Type)
	case par == nil || par.Type != "folders" || par.ID == "":
		return bad(400, "relationships.parent.data must name the parent folder")
	}
	if problem := nameProblem(in.Attributes.Name); problem != "" {
		return bad(400, "%s", problem)
	}
	parent := p.folders[par.ID]
	switch {
	case parent == nil && st.findFolderAnywhere(par.ID) != nil:
		return bad(400, "the parent folder %s belongs to another project", par.ID)
	case parent == nil || !parent.isVisible():
		return bad(404, "The folder %s was not found", par.ID)
	case parent.parent == nil:
		return bad(403, "Folders cannot be created in the project's root folder; use a top folder such as Project Files")
	case parent.isReadOnly():
		return bad(403, "You don't have permission to create folders in %s", par.ID)
	case parent.depth()+1 > maxFolderDepth:
		return bad(400, "Folders can be nested at most %d levels deep", maxFolderDepth)
	case parent.visibleFolder(in.Attributes.Name, nil) != nil || slices.Contains(pending[parent], in.Attributes.Name):
		return bad(409, "A folder named %q already exists in this folder", in.Attributes.Name)
	}
	pending[parent] = append(pending[parent], in.Attributes.Name)
	return parent, nil
}

// handleCreateFolder implements POST /data/v1/projects/{project_id}/folders.
func (s *Server) handleCreateFolder(w http.ResponseWriter, r *http.Request, _ *call) {
	var in struct {
		Data folderIn `json:"data"`
	}
	if !decodeDM(w, r, &in, true) {
		return
	}
	now := s.now()
	rd := s.renderer()
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	p := s.pathProject(w, r)
	if p == nil {
		return
	}
	if p.noPostFolders {
		badRequest(w, "folders of this project are created with the CreateFolder command")
		return
	}
	parent, problem := st.checkNewFolder(p, in.Data, map[*folder][]string{})
	if problem != nil {
		problem.write(w)
		return
	}
	f := st.newFolder(p, parent, in.Data.Attributes.Name, now)
	res := rd.folder(f)
	writeCreated(w, document{JSONAPI: jsonAPIv1, Links: selfLinks{Self: res.Links.Self}, Data: res})
}

// handlePatchFolder implements PATCH /data/v1/projects/{project_id}/folders/{folder_id}:
// rename, move (relationships.parent), hide (delete) and unhide (restore).
func (s *Server) handlePatchFolder(w http.ResponseWriter, r *http.Request, _ *call) {
	var in struct {
		Data struct {
			Type       string `json:"type"`
			ID         string `json:"id"`
			Attributes struct {
				Name   *string `json:"name"`
				Hidden *bool   `json:"hidden"`
			} `json:"attributes"`
			Relationships struct {
				Parent *relIn `json:"parent"`
			} `json:"relationships"`
		} `json:"data"`
	}
	if !decodeDM(w, r, &in, true) {
		return
	}
	d := in.Data
	switch {
	case d.Type != "folders":
		badRequest(w, `data.type must be "folders"`)
		return
	case d.ID != r.PathValue("folder_id"):
		badRequest(w, "data.id must be the folder ID of the URL (not URL-encoded)")
		return
	case d.Relationships.Parent != nil && (d.Relationships.Parent.Data == nil || d.Relationships.Parent.Data.Type != "folders" || d.Relationships.Parent.Data.ID == ""):
		badRequest(w, "relationships.parent.data must name the new parent folder")
		return
	}
	if d.Attributes.Name != nil {
		if problem := nameProblem(*d.Attributes.Name); problem != "" {
			badRequest(w, problem)
			return
		}
	}

	now := s.now()
	rd := s.renderer()
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	f := s.projectFolder(w, r)
	if f == nil {
		return
	}
	switch {
	case f.parent == nil || f.parent.parent == nil:
		writeForbidden(w, "Forbidden", "The project's root and top folders cannot be renamed, moved or deleted")
		return
	case f.isReadOnly():
		writeForbidden(w, "Forbidden", "You don't have permission to modify folder "+f.id)
		return
	}
	name, parent, hidden := f.name, f.parent, f.hidden
	if d.Attributes.Name != nil {
		name = *d.Attributes.Name
	}
	if d.Attributes.Hidden != nil {
		hidden = *d.Attributes.Hidden
	}
	if d.Relationships.Parent != nil {
		id := d.Relationships.Parent.Data.ID
		parent = f.project.folders[id]
		switch {
		case parent == nil && st.findFolderAnywhere(id) != nil:
			badRequest(w, "folders cannot be moved to another project")
			return
		case parent == nil || !parent.isVisible():
			notFound(w, "folder", id)
			return
		case parent.parent == nil:
			writeForbidden(w, "Forbidden", "Folders cannot be moved into the project's root folder")
			return
		case parent.isReadOnly():
			writeForbidden(w, "Forbidden", "You don't have permission to move folders into "+id)
			return
		case f.contains(parent):
			badRequest(w, "a folder cannot be moved into itself or one of its subfolders")
			return
		case parent.depth()+f.height() > maxFolderDepth:
			badRequest(w, fmt.Sprintf("Folders can be nested at most %d levels deep", maxFolderDepth))
			return
		}
	}
	if !hidden && parent.visibleFolder(name, f) != nil {
		detail := fmt.Sprintf("A folder named %q already exists in the destination", name)
		if f.hidden && d.Attributes.Name == nil {
			detail += "; give the restored folder a new name"
		}
		writeConflict(w, detail)
		return
	}
	s.applyFolderPatch(f, name, parent, hidden, now)
	res := rd.folder(f)
	writeJSON(w, http.StatusOK, document{JSONAPI: jsonAPIv1, Links: selfLinks{Self: res.Links.Self}, Data: res})
}

// applyFolderPatch renames, moves and hides or restores f. Caller holds the
// store lock.
func (s *Server) applyFolderPatch(f *folder, name string, parent *folder, hidden bool, now time.Time) {
	if parent != f.parent {
		old := f.parent
		old.folders = slices.DeleteFunc(old.folders, func(c *folder) bool { return c == f })
		old.modified = now
		parent.folders = append(parent.folders, f)
		f.parent = parent
	}
	f.name, f.hidden = name, hidden
	f.modified = now
	f.parent.modified = now
}

package emulator

import (
	"net/http"
	"strings"
	"time"
)

// Manager write endpoints: folders, blob rename/move/delete. Jobs
// (delete-resources-by-id-list) are in jobs.go, uploads in upload.go.

// registerWrites adds the write endpoints to the manager's mux.
func (s *Server) registerWrites(mux *http.ServeMux) {
	mux.HandleFunc("POST "+apiRoot+"insert-resource-group", s.managerOp("insert-resource-group", s.handleInsertGroup))
	mux.HandleFunc("DELETE "+apiRoot+"delete-resource-group", s.managerOp("delete-resource-group", s.handleDeleteGroup))
	mux.HandleFunc("DELETE "+apiRoot+"delete-blob", s.managerOp("delete-blob", s.handleDeleteBlob))
	updateBlob := s.managerOp("update-blob", s.handleUpdateBlob)
	// Spec and managerapi.py agree on PUT; POST gets 404 like any wrong verb.
	mux.HandleFunc("PUT "+apiRoot+"update-blob", updateBlob)
	updateParent := s.managerOp("update-blob-parent", s.handleUpdateBlobParent)
	mux.HandleFunc("PUT "+apiRoot+"update-blob-parent", s.formRoute(specForm, updateParent))
	// Deviation: the spec declares PUT; managerapi.py sends POST (served
	// with Options.AcceptDemoForms or RefuseSpecForms only).
	mux.HandleFunc("POST "+apiRoot+"update-blob-parent", s.formRoute(demoForm, updateParent))
	mux.HandleFunc("POST "+apiRoot+"delete-resources-by-id-list", s.managerOp("delete-resources-by-id-list", s.handleDeleteByIDList))
	mux.HandleFunc("GET "+apiRoot+"get-job", s.managerOp("get-job", s.handleGetJob))
	mux.HandleFunc("POST "+apiRoot+"abort-job", s.managerOp("abort-job", s.handleAbortJob))
}

// groupRequest is the insert-resource-group body.
type groupRequest struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// handleInsertGroup serves POST insert-resource-group?parent-id=: create a
// folder and answer its ID as a bare JSON string.
func (s *Server) handleInsertGroup(w http.ResponseWriter, r *http.Request, _ call) {
	parentID := r.URL.Query().Get("parent-id")
	var req groupRequest
	if err := readJSON(r, &req); err != nil {
		writeManagerError(w, ErrEntityValidation, "invalid request body: %v", err)
		return
	}
	if req.Type != typeGroup {
		writeManagerError(w, ErrEntityValidation, "type must be %q, not %q", typeGroup, req.Type)
		return
	}
	if !namePattern.MatchString(req.Name) {
		writeManagerError(w, ErrEntityValidation, "name %q does not match %s", req.Name, namePattern)
		return
	}
	if parentID == "" {
		// (emulator) The spec marks parent-id optional without saying what
		// its absence means; the root is the only sensible default.
		parentID = RootID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	parent := s.findGroup(w, parentID)
	if parent == nil {
		return
	}
	if parent.childNamed(req.Name) != nil {
		writeManagerError(w, ErrEntityExists, "%q already exists in %q", req.Name, parent.path())
		return
	}
	n := &node{id: s.newUUID(), typ: typeGroup, name: req.Name, children: map[string]*node{}, modified: time.Now()}
	s.store.add(parent, n)
	writeJSON(w, http.StatusOK, ctJSON, n.id)
}

// handleDeleteGroup serves DELETE delete-resource-group?resource-id=.
//
// The spec says it deletes an **empty** folder but not what a non-empty one
// gets. The emulator answers 430 with error 15, ProhibitDeleteError, the
// only delete-specific code of the table (emulator); recursive deletion is
// delete-resources-by-id-list.
func (s *Server) handleDeleteGroup(w http.ResponseWriter, r *http.Request, _ call) {
	id := r.URL.Query().Get("resource-id")
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.findGroup(w, id)
	if n == nil {
		return
	}
	switch {
	case n == s.store.root:
		writeManagerError(w, ErrNotAllowed, "the project root cannot be deleted")
		return
	case len(n.children) > 0:
		writeManagerError(w, ErrProhibitDelete, "resource group %q is not empty (%d children)", n.path(), len(n.children))
		return
	}
	s.store.remove(n)
	writeJSON(w, http.StatusOK, ctJSON, struct{}{})
}

// handleDeleteBlob serves DELETE delete-blob?resource-id=.
func (s *Server) handleDeleteBlob(w http.ResponseWriter, r *http.Request, _ call) {
	id := r.URL.Query().Get("resource-id")
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.findBlob(w, id)
	if n == nil {
		return
	}
	s.store.remove(n)
	writeJSON(w, http.StatusOK, ctJSON, struct{}{})
}

// blobUpdate is the update-blob body: the blob's id plus the properties to
// change. Only name is writable; "$" properties are read-only (workflow.py)
// and other fields are ignored (emulator).
type blobUpdate struct {
	ID   string  `json:"id"`
	Name *string `json:"name"`
	Type string  `json:"type"`
}

// handleUpdateBlob serves PUT update-blob: rename a blob. It answers {}.
func (s *Server) handleUpdateBlob(w http.ResponseWriter, r *http.Request, _ call) {
	var req blobUpdate
	if err := readJSON(r, &req); err != nil {
		writeManagerError(w, ErrEntityValidation, "invalid request body: %v", err)
		return
	}
	if req.Type != "" && req.Type != typeBlob {
		writeManagerError(w, ErrEntityValidation, "type must be %q, not %q", typeBlob, req.Type)
		return
	}
	if req.Name != nil && !namePattern.MatchString(*req.Name) {
		writeManagerError(w, ErrEntityValidation, "name %q does not match %s", *req.Name, namePattern)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.findBlob(w, req.ID)
	if n == nil {
		return
	}
	if req.Name != nil && *req.Name != n.name {
		if n.parent.childNamed(*req.Name) != nil {
			writeManagerError(w, ErrEntityExists, "%q already exists in %q", *req.Name, n.parent.path())
			return
		}
		n.name = *req.Name
		// A rename is a blob change (its path changed) but not a content
		// change: $modifiedDate stays (emulator).
		s.store.record(changeUpdated, n)
	}
	writeJSON(w, http.StatusOK, ctJSON, struct{}{})
}

// parentUpdate is the update-blob-parent body: one of the two fields.
type parentUpdate struct {
	ParentPath *string `json:"parentPath"`
	ParentID   *string `json:"parentId"`
}

// handleUpdateBlobParent serves PUT update-blob-parent?blob-id=: move a
// blob into another folder, keeping its ID and name. It answers true,
// also when the parent stays the same ("Parent has been updated or stayed
// the same").
func (s *Server) handleUpdateBlobParent(w http.ResponseWriter, r *http.Request, _ call) {
	id := r.URL.Query().Get("blob-id")
	var req parentUpdate
	if err := readJSON(r, &req); err != nil {
		writeManagerError(w, ErrEntityValidation, "invalid request body: %v", err)
		return
	}
	byID := req.ParentID != nil && *req.ParentID != ""
	byPath := req.ParentPath != nil && *req.ParentPath != ""
	if byID == byPath {
		writeManagerError(w, ErrEntityValidation, "exactly one of parentId and parentPath is required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.findBlob(w, id)
	if n == nil {
		return
	}
	var p *node
	if byID {
		p = s.store.nodes[*req.ParentID]
	} else {
		p = s.store.byPath(strings.TrimSuffix(*req.ParentPath, "/"))
	}
	switch {
	case p == nil || !p.isFolder():
		writeManagerError(w, ErrEntityNotFound, "No resource group found")
		return
	case p == n.parent:
		writeJSON(w, http.StatusOK, ctJSON, true)
		return
	case p.childNamed(n.name) != nil:
		writeManagerError(w, ErrEntityExists, "%q already exists in %q", n.name, p.path())
		return
	}
	delete(n.parent.children, n.id)
	n.parent = p
	p.children[n.id] = n
	s.store.record(changeUpdated, n)
	writeJSON(w, http.StatusOK, ctJSON, true)
}

// findGroup returns the resource group with the given ID, or answers 430
// EntityNotFoundError and returns nil. Callers hold s.mu.
func (s *Server) findGroup(w http.ResponseWriter, id string) *node {
	n := s.store.nodes[id]
	if n == nil || !n.isFolder() {
		writeManagerError(w, ErrEntityNotFound, "No resource group found by %q", id)
		return nil
	}
	return n
}

// findBlob returns the blob with the given ID, or answers 430
// EntityNotFoundError and returns nil. Callers hold s.mu.
func (s *Server) findBlob(w http.ResponseWriter, id string) *node {
	n := s.store.nodes[id]
	if n == nil || n.typ != typeBlob {
		writeManagerError(w, ErrEntityNotFound, "No blob found by %q", id)
		return nil
	}
	return n
}

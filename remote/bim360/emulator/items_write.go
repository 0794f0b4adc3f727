package emulator

import (
	"net/http"
	"strings"
	"time"
)

// attachStorage resolves a storage URN from POST storage to its uploaded,
// not yet used object in project p, answering the failure itself. Caller
// holds the store lock.
func (s *Server) attachStorage(w http.ResponseWriter, p *project, id string) *object {
	bk, ok := strings.CutPrefix(id, storagePrefix)
	res := s.st.reservations[bk]
	if !ok || res == nil {
		notFound(w, "storage object", id)
		return nil
	}
	if res.project != p {
		badRequest(w, "the storage object "+id+" belongs to another project")
		return nil
	}
	o := s.st.objects[bk]
	switch {
	case o == nil:
		badRequest(w, "the storage object "+id+" has no content: upload it and complete the upload (POST signeds3upload) first")
		return nil
	case o.attached:
		badRequest(w, "the storage object "+id+" already belongs to a version; every version needs a new storage object")
		return nil
	}
	return o
}

// copySource resolves a copyFrom version ID in project p, answering the
// failure itself. Caller holds the store lock.
func (s *Server) copySource(w http.ResponseWriter, p *project, id string) *version {
	v := p.versions[id]
	if v == nil {
		if s.st.findVersionAnywhere(id) != nil {
			badRequest(w, "copyFrom: versions cannot be copied across projects")
		} else {
			notFound(w, "version", id)
		}
		return nil
	}
	if v.object == nil {
		badRequest(w, "copyFrom: version "+id+" is a deleted version and has no content to copy")
		return nil
	}
	return v
}

// copyObject makes a new storage object with the same (immutable) content,
// as a server-side copy does. Caller holds the store lock.
func (st *store) copyObject(src *object, name string, now time.Time) *object {
	o := st.newObject(src.bucket, name, src.content, now)
	o.contentType = src.contentType
	return o
}

// handleCreateItem implements POST /data/v1/projects/{project_id}/items,
// with and without ?copyFrom=<version id>.
func (s *Server) handleCreateItem(w http.ResponseWriter, r *http.Request, _ *call) {
	var in struct {
		Data struct {
			Type       string `json:"type"`
			Attributes struct {
				DisplayName string `json:"displayName"`
				Extension   *extIn `json:"extension"`
			} `json:"attributes"`
			Relationships struct {
				Tip    relIn `json:"tip"`
				Parent relIn `json:"parent"`
			} `json:"relationships"`
		} `json:"data"`
		Included []struct {
			Type       string `json:"type"`
			ID         string `json:"id"`
			Attributes struct {
				Name      string `json:"name"`
				Extension *extIn `json:"extension"`
			} `json:"attributes"`
			Relationships struct {
				Storage relIn `json:"storage"`
			} `json:"relationships"`
		} `json:"included"`
	}
	if !decodeDM(w, r, &in, true) {
		return
	}
	copyFrom := r.URL.Query().Get("copyFrom")
	d := in.Data
	parent, tip := d.Relationships.Parent.Data, d.Relationships.Tip.Data
	switch {
	case d.Type != "items":
		badRequest(w, `data.type must be "items"`)
		return
	case d.Attributes.Extension == nil || d.Attributes.Extension.Type != extItem:
		badRequest(w, "data.attributes.extension.type must be "+extItem+" in a BIM 360 Docs project")
		return
	case parent == nil || parent.Type != "folders" || parent.ID == "":
		badRequest(w, "data.relationships.parent.data must name the parent folder")
		return
	case tip == nil || tip.Type != "versions" || tip.ID == "":
		badRequest(w, "data.relationships.tip.data must name the version in included")
		return
	case len(in.Included) != 1 || in.Included[0].Type != "versions" || in.Included[0].ID != tip.ID:
		badRequest(w, "included must hold exactly the one version named by data.relationships.tip")
		return
	}
	inc := in.Included[0]
	if copyFrom == "" && (inc.Attributes.Extension == nil || inc.Attributes.Extension.Type != extVersion) {
		badRequest(w, "included[0].attributes.extension.type must be "+extVersion)
		return
	}
	name := inc.Attributes.Name
	if name == "" {
		name = d.Attributes.DisplayName
	}
	var storageID string
	if copyFrom == "" {
		if name == "" {
			badRequest(w, "included[0].attributes.name is required")
			return
		}
		if sd := inc.Relationships.Storage.Data; sd == nil || sd.Type != "objects" || sd.ID == "" {
			badRequest(w, "included[0].relationships.storage.data must name the uploaded storage object")
			return
		}
		storageID = inc.Relationships.Storage.Data.ID
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
	f := p.folders[parent.ID]
	if f == nil {
		if st.findFolderAnywhere(parent.ID) != nil {
			badRequest(w, "the parent folder belongs to another project")
		} else {
			notFound(w, "folder", parent.ID)
		}
		return
	}
	if !writableFolder(w, f) {
		return
	}
	var o *object
	if copyFrom != "" {
		src := s.copySource(w, p, copyFrom)
		if src == nil {
			return
		}
		if name == "" {
			name = src.name
		}
		if bad := nameProblem(name); bad != "" {
			badRequest(w, bad)
			return
		}
		if f.visibleItem(name, nil) != nil {
			writeConflict(w, msgNameConflict)
			return
		}
		o = st.copyObject(src.object, name, now)
	} else {
		if bad := nameProblem(name); bad != "" {
			badRequest(w, bad)
			return
		}
		if f.visibleItem(name, nil) != nil {
			writeConflict(w, msgNameConflict)
			return
		}
		if o = s.attachStorage(w, p, storageID); o == nil {
			return
		}
	}
	o.attached = true
	lineage := st.short()
	it := &item{
		id: "urn:adsk.wipprod:dm.lineage:" + lineage, lineage: lineage,
		project: p, parent: f, created: now, modified: now,
	}
	f.items = append(f.items, it)
	p.items[it.id] = it
	v := st.addVersion(it, name, o, extVersion, now)
	res := rd.item(it, false)
	writeCreated(w, map[string]any{
		"jsonapi":  jsonAPIv1,
		"links":    selfLinks{Self: res.Links.Self},
		"data":     res,
		"included": []resource{rd.version(v)},
		"meta":     map[string]string{"bim360DmCommandId": st.uuid()},
	})
}

// handleCreateVersion implements POST /data/v1/projects/{project_id}/versions:
// a new version from uploaded storage (possibly under a new name: the
// BIM 360 rename), a versions:autodesk.core:Deleted version (delete), or
// with ?copyFrom=<version id> a copy of that version's content (restore,
// or replacing one item's content with another's).
func (s *Server) handleCreateVersion(w http.ResponseWriter, r *http.Request, _ *call) {
	var in struct {
		Data struct {
			Type       string `json:"type"`
			Attributes struct {
				Name      string `json:"name"`
				Extension *extIn `json:"extension"`
			} `json:"attributes"`
			Relationships struct {
				Item    relIn  `json:"item"`
				Storage *relIn `json:"storage"`
			} `json:"relationships"`
		} `json:"data"`
	}
	copyFrom := r.URL.Query().Get("copyFrom")
	// The restore tutorial's copyFrom body is just {"data":{"type":"versions"}}.
	if !decodeDM(w, r, &in, copyFrom == "") {
		return
	}
	d := in.Data
	ext := ""
	if d.Attributes.Extension != nil {
		ext = d.Attributes.Extension.Type
	}
	itemRef := d.Relationships.Item.Data
	switch {
	case d.Type != "versions":
		badRequest(w, `data.type must be "versions"`)
		return
	case copyFrom == "" && ext != extVersion && ext != extDeleted:
		badRequest(w, "data.attributes.extension.type must be "+extVersion+" or "+extDeleted)
		return
	case copyFrom == "" && (itemRef == nil || itemRef.Type != "items" || itemRef.ID == ""):
		badRequest(w, "data.relationships.item.data must name the item")
		return
	case copyFrom == "" && d.Attributes.Name == "" && (ext == extVersion || !s.Options().AcceptDemoForms):
		// VersionPayload requires the name; the delete tutorial leaves it
		// out of its Deleted version, accepted with AcceptDemoForms only.
		badRequest(w, "data.attributes.name is required")
		return
	case copyFrom == "" && ext == extVersion && (d.Relationships.Storage == nil || d.Relationships.Storage.Data == nil || d.Relationships.Storage.Data.ID == ""):
		badRequest(w, "data.relationships.storage.data must name the uploaded storage object")
		return
	case copyFrom != "" && ext == extDeleted:
		badRequest(w, "copyFrom cannot create a Deleted version")
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
	var it *item
	if itemRef != nil && itemRef.ID != "" {
		if it = lookup(w, p.items, "item", itemRef.ID); it == nil {
			return
		}
	}
	var src *version
	if copyFrom != "" {
		if src = s.copySource(w, p, copyFrom); src == nil {
			return
		}
		if it == nil {
			it = src.item
		}
	}
	if !it.parent.isVisible() {
		notFound(w, "folder", it.parent.id)
		return
	}
	if it.parent.isReadOnly() {
		writeForbidden(w, "Forbidden", "You don't have permission to modify content in folder "+it.parent.id)
		return
	}
	if it.locked {
		writeLocked(w, "The item "+it.id+" is locked")
		return
	}

	var v *version
	switch {
	case ext == extDeleted:
		if it.hidden {
			writeConflict(w, "The item "+it.id+" has already been deleted")
			return
		}
		orig := it.displayName()
		v = st.addVersion(it, st.uuid(), nil, extDeleted, now)
		v.originalName = orig
		it.hidden = true
	default:
		name := d.Attributes.Name
		if name == "" {
			name = src.name
		}
		if bad := nameProblem(name); bad != "" {
			badRequest(w, bad)
			return
		}
		if it.parent.visibleItem(name, it) != nil {
			writeConflict(w, msgNameConflict)
			return
		}
		var o *object
		if src != nil {
			o = st.copyObject(src.object, name, now)
		} else if o = s.attachStorage(w, p, d.Relationships.Storage.Data.ID); o == nil {
			return
		}
		o.attached = true
		v = st.addVersion(it, name, o, extVersion, now)
		it.hidden = false
	}
	res := rd.version(v)
	writeCreated(w, map[string]any{
		"jsonapi":  jsonAPIv1,
		"links":    selfLinks{Self: res.Links.Self},
		"data":     res,
		"included": []resource{rd.item(it, false)},
	})
}

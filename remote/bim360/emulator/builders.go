package emulator

import "fmt"

// The builders below shape the emulated account. They are safe to call
// while the server is serving and panic on unknown IDs, which are bugs in
// the calling test.

// AddHub adds a BIM 360 account hub ("b.<uuid>", extension
// hubs:autodesk.bim360:Account) and returns its ID.
func (s *Server) AddHub(name string) (hubID string) {
	now := s.now()
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	h := &hub{id: "b." + st.uuid(), name: name, created: now}
	st.hubs = append(st.hubs, h)
	st.hubByID[h.id] = h
	return h.id
}

// AddProject adds a project ("b.<uuid>") to a hub, with its root folder and
// the top folders "Project Files" and "Plans".
func (s *Server) AddProject(hubID, name string) (projectID string) {
	now := s.now()
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	h := st.hubByID[hubID]
	if h == nil {
		panic(fmt.Sprintf("emulator: AddProject: unknown hub %q", hubID))
	}
	id := st.uuid()
	p := &project{
		id: "b." + id, name: name, hub: h, created: now,
		folders: map[string]*folder{}, items: map[string]*item{}, versions: map[string]*version{},
		commands: true,
	}
	p.root = st.newFolder(p, nil, id+"-root-folder", now)
	st.newFolder(p, p.root, "Project Files", now)
	st.newFolder(p, p.root, "Plans", now)
	h.projects = append(h.projects, p)
	st.projects[p.id] = p
	return p.id
}

// mustProject returns the project; caller holds mu.
func (st *store) mustProject(op, projectID string) *project {
	p := st.projects[projectID]
	if p == nil {
		panic(fmt.Sprintf("emulator: %s: unknown project %q", op, projectID))
	}
	return p
}

// mustFolder returns the folder; caller holds mu.
func (st *store) mustFolder(op, projectID, folderID string) *folder {
	f := st.mustProject(op, projectID).folders[folderID]
	if f == nil {
		panic(fmt.Sprintf("emulator: %s: unknown folder %q", op, folderID))
	}
	return f
}

// mustItem returns the item; caller holds mu.
func (st *store) mustItem(op, projectID, itemID string) *item {
	it := st.mustProject(op, projectID).items[itemID]
	if it == nil {
		panic(fmt.Sprintf("emulator: %s: unknown item %q", op, itemID))
	}
	return it
}

// TopFolder returns the ID of the project's top folder with this name
// ("Project Files", "Plans", …).
func (s *Server) TopFolder(projectID, name string) (folderID string) {
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	for _, f := range st.mustProject("TopFolder", projectID).root.folders {
		if f.name == name {
			return f.id
		}
	}
	panic(fmt.Sprintf("emulator: TopFolder: project %q has no top folder %q", projectID, name))
}

// RootFolder returns the ID of the project's root folder.
func (s *Server) RootFolder(projectID string) (folderID string) {
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.mustProject("RootFolder", projectID).root.id
}

// AddFolder adds a subfolder and returns its ID.
func (s *Server) AddFolder(projectID, parentFolderID, name string) (folderID string) {
	now := s.now()
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	parent := st.mustFolder("AddFolder", projectID, parentFolderID)
	return st.newFolder(parent.project, parent, name, now).id
}

// HideFolder marks a folder hidden, as deleting it in BIM 360 Docs does.
func (s *Server) HideFolder(projectID, folderID string) {
	now := s.now()
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	f := st.mustFolder("HideFolder", projectID, folderID)
	f.hidden = true
	f.modified = now
}

// AddFile adds a new item with version 1 holding c, stored as a new OSS
// object in wip.dm.prod, and returns the item ID.
func (s *Server) AddFile(projectID, folderID, name string, c Content) (itemID string) {
	now := s.now()
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	parent := st.mustFolder("AddFile", projectID, folderID)
	lineage := st.short()
	it := &item{
		id: "urn:adsk.wipprod:dm.lineage:" + lineage, lineage: lineage,
		project: parent.project, parent: parent, created: now, modified: now,
	}
	parent.items = append(parent.items, it)
	parent.project.items[it.id] = it
	st.addVersion(it, name, st.newObject(bucketWIP, name, c, now), extVersion, now)
	return it.id
}

// AddVersion adds a new tip version holding c; an empty name keeps the
// current name. A deleted item becomes visible again. It returns the new
// version's ID.
func (s *Server) AddVersion(projectID, itemID, name string, c Content) (versionID string) {
	now := s.now()
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	it := st.mustItem("AddVersion", projectID, itemID)
	if name == "" {
		name = it.displayName()
	}
	it.hidden = false
	return st.addVersion(it, name, st.newObject(bucketWIP, name, c, now), extVersion, now).id
}

// DeleteItem does what POSTing a versions:autodesk.core:Deleted version
// does: a new tip version without storage whose name is a generated GUID,
// and the item becomes hidden.
func (s *Server) DeleteItem(projectID, itemID string) {
	now := s.now()
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	it := st.mustItem("DeleteItem", projectID, itemID)
	if it.hidden {
		return
	}
	orig := it.displayName()
	v := st.addVersion(it, st.uuid(), nil, extDeleted, now)
	v.originalName = orig
	it.hidden = true
}

// TipVersion returns the ID of the item's tip version.
func (s *Server) TipVersion(projectID, itemID string) (versionID string) {
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.mustItem("TipVersion", projectID, itemID).tip().id
}

// StorageID returns the OSS object URN of a version
// ("urn:adsk.objects:os.object:wip.dm.prod/<uuid>.<ext>"), or "" for a
// Deleted version.
func (s *Server) StorageID(projectID, versionID string) string {
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	v := st.mustProject("StorageID", projectID).versions[versionID]
	if v == nil {
		panic(fmt.Sprintf("emulator: StorageID: unknown version %q", versionID))
	}
	if v.object == nil {
		return ""
	}
	return v.object.storageID()
}

// SetChunked makes signeds3download for the version's object answer as if
// the object were still being assembled from chunks of chunkSize bytes:
// status "chunked" with one URL per chunk, or "fallback" with a single OSS
// signed URL when public-resource-fallback=true. chunkSize <= 0 restores
// the normal "complete" answer.
func (s *Server) SetChunked(projectID, versionID string, chunkSize int64) {
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	v := st.mustProject("SetChunked", projectID).versions[versionID]
	if v == nil || v.object == nil {
		panic(fmt.Sprintf("emulator: SetChunked: unknown version or no storage %q", versionID))
	}
	v.object.chunkSize = chunkSize
}

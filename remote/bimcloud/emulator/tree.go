package emulator

import (
	"fmt"
	"time"
)

// These methods shape the tree directly, as an administrator or another
// BIMcloud client would. They panic on misuse (unknown IDs, invalid or
// duplicate names), which is a bug in the calling test.

// AddFolder creates a resource group named name under parentID (RootID for
// the root) and returns its ID.
func (s *Server) AddFolder(parentID, name string) (id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	parent := s.mustFolder(parentID)
	n := &node{id: s.newUUID(), typ: typeGroup, name: name, children: map[string]*node{}, modified: time.Now()}
	s.store.add(parent, n)
	return n.id
}

// AddBlob creates a blob named name under parentID with content c, hosted
// on modelServerID ("" = the folder's inherited default blob server), and
// returns its ID. The change feed reports it as created.
func (s *Server) AddBlob(parentID, name string, c Content, modelServerID string) (id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	parent := s.mustFolder(parentID)
	if modelServerID == "" {
		modelServerID = s.inheritedServer(parent)
	}
	if s.blobServers[modelServerID] == nil {
		panic(fmt.Sprintf("emulator: unknown model server %q", modelServerID))
	}
	now, uid := time.Now(), userID(s.defaultUsername())
	n := &node{id: s.newUUID(), typ: typeBlob, name: name, modelServerID: modelServerID, content: c, contentRev: 1,
		modified: now, created: now, createdBy: uid, modifiedBy: uid}
	s.store.add(parent, n)
	return n.id
}

// UpdateBlob gives a blob new content (a new content revision): its $size
// and $modifiedDate change, and the change feed reports it as updated.
// Downloads already streaming keep the old bytes.
func (s *Server) UpdateBlob(id string, c Content) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.store.nodes[id]
	if n == nil || n.typ != typeBlob {
		panic(fmt.Sprintf("emulator: UpdateBlob: %q is not a blob", id))
	}
	n.content = c
	n.contentRev++
	touch(n)
	s.store.record(changeUpdated, n)
}

// DeleteResource removes a blob or a folder with everything below it. The
// change feed reports every removed blob as deleted.
func (s *Server) DeleteResource(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.store.nodes[id]
	if n == nil || n.parent == nil || n.typ == typeModelServer {
		panic(fmt.Sprintf("emulator: DeleteResource: cannot delete %q", id))
	}
	s.store.remove(n)
}

// SetDefaultModelServer makes modelServerID the default blob server for
// uploads into folderID and below (get-inherited-default-blob-server-id),
// and for AddBlob calls without an explicit server.
func (s *Server) SetDefaultModelServer(folderID, modelServerID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.mustFolder(folderID)
	if s.blobServers[modelServerID] == nil {
		panic(fmt.Sprintf("emulator: unknown model server %q", modelServerID))
	}
	f.modelServerID = modelServerID
}

// ObsoleteRevisions simulates a restore of the manager's database: every
// revision handed out so far becomes unknown, so get-blob-changes-for-sync
// with any earlier fromRevision > 0 fails with error 9
// (RevisionObsoletedError) until the client restarts from revision 0.
func (s *Server) ObsoleteRevisions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.store
	st.head++
	st.obsoleteBelow = st.head
	st.changes = nil
	for _, n := range st.nodes {
		if n.typ == typeBlob {
			n.rev = st.head
		}
	}
}

// mustFolder returns the folder with the given ID. Callers hold s.mu.
func (s *Server) mustFolder(id string) *node {
	n := s.store.nodes[id]
	if n == nil || !n.isFolder() {
		panic(fmt.Sprintf("emulator: %q is not a folder", id))
	}
	return n
}

// inheritedServer is the default blob server for new blobs in folder f.
// Callers hold s.mu.
func (s *Server) inheritedServer(f *node) string {
	for p := f; p != nil; p = p.parent {
		if p.modelServerID != "" {
			return p.modelServerID
		}
	}
	return s.defaultServer
}

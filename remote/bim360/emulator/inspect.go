package emulator

import (
	"errors"
	"fmt"
)

// Builders and inspection helpers for the write path. Like the other
// builders they are safe to call while the server serves and panic on
// unknown IDs.

// SetProjectCommands sets whether the project accepts the CreateFolder
// command (POST commands). New projects accept it; a project that does not
// answers 400 BAD_INPUT, as for an unknown command.
func (s *Server) SetProjectCommands(projectID string, accepts bool) {
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	st.mustProject("SetProjectCommands", projectID).commands = accepts
}

// SetProjectPostFolders sets whether the project accepts POST folders
// (default true). A refusing project answers 400 BAD_INPUT, as BIM 360
// projects did when only the CreateFolder command made their folders.
func (s *Server) SetProjectPostFolders(projectID string, accepts bool) {
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	st.mustProject("SetProjectPostFolders", projectID).noPostFolders = !accepts
}

// SetFolderReadOnly makes the folder and everything below it refuse
// writes with 403 (POST storage/items/versions/folders/commands into it,
// PATCH of it or its subfolders, moves into it), as a folder where the
// user only has view permission does.
func (s *Server) SetFolderReadOnly(projectID, folderID string) {
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	st.mustFolder("SetFolderReadOnly", projectID, folderID).readOnly = true
}

// LockItem makes POST versions for the item answer 423 Locked.
func (s *Server) LockItem(projectID, itemID string) {
	s.setLocked("LockItem", projectID, itemID, true)
}

// UnlockItem undoes LockItem.
func (s *Server) UnlockItem(projectID, itemID string) {
	s.setLocked("UnlockItem", projectID, itemID, false)
}

func (s *Server) setLocked(op, projectID, itemID string, locked bool) {
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	st.mustItem(op, projectID, itemID).locked = locked
}

// Child is one entry of a folder as Children reports it.
type Child struct {
	ID   string
	Name string // an item's display name (its name before deletion if deleted)
	// Type is "folders" or "items".
	Type   string
	Hidden bool
	// VersionCount is the number of versions of an item (0 for folders).
	VersionCount int
}

// Children lists a folder's subfolders and then its items, hidden ones
// included, in creation order.
func (s *Server) Children(projectID, folderID string) []Child {
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	f := st.mustFolder("Children", projectID, folderID)
	out := make([]Child, 0, len(f.folders)+len(f.items))
	for _, c := range f.folders {
		out = append(out, Child{ID: c.id, Name: c.name, Type: "folders", Hidden: c.hidden})
	}
	for _, it := range f.items {
		out = append(out, Child{ID: it.id, Name: it.displayName(), Type: "items", Hidden: it.hidden, VersionCount: len(it.versions)})
	}
	return out
}

// VersionInfo describes one version of an item.
type VersionInfo struct {
	ID     string
	Number int
	Name   string
	Size   int64 // 0 for a Deleted version
	// Deleted marks a versions:autodesk.core:Deleted version (no storage).
	Deleted bool
}

// ItemVersions lists an item's versions, oldest first.
func (s *Server) ItemVersions(projectID, itemID string) []VersionInfo {
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	it := st.mustItem("ItemVersions", projectID, itemID)
	out := make([]VersionInfo, len(it.versions))
	for i, v := range it.versions {
		out[i] = VersionInfo{ID: v.id, Number: v.number, Name: v.name, Deleted: v.object == nil}
		if v.object != nil {
			out[i].Size = v.object.content.Size()
		}
	}
	return out
}

// TipContent returns the content of the item's tip version, or nil when
// the tip is a Deleted version.
func (s *Server) TipContent(projectID, itemID string) Content {
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	o := st.mustItem("TipContent", projectID, itemID).tip().object
	if o == nil {
		return nil
	}
	return o.content
}

// maxReadTip bounds ReadTip; larger contents are read with TipContent.
const maxReadTip = 256 << 20

// ReadTip returns the bytes of the item's tip version. It fails for a
// deleted item and for contents over 256 MiB.
func (s *Server) ReadTip(projectID, itemID string) ([]byte, error) {
	c := s.TipContent(projectID, itemID)
	if c == nil {
		return nil, errors.New("emulator: ReadTip: the item's tip is a Deleted version")
	}
	n := c.Size()
	if n > maxReadTip {
		return nil, fmt.Errorf("emulator: ReadTip: %d bytes is too large; use TipContent", n)
	}
	b := make([]byte, n)
	if m, err := c.ReadAt(b, 0); int64(m) < n {
		return nil, fmt.Errorf("emulator: ReadTip: short read: %w", err)
	}
	return b, nil
}

// FindChild returns the ID of the visible folder or item named name in the
// folder, or "" if there is none.
func (s *Server) FindChild(projectID, folderID, name string) string {
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	f := st.mustFolder("FindChild", projectID, folderID)
	if c := f.visibleFolder(name, nil); c != nil {
		return c.id
	}
	if it := f.visibleItem(name, nil); it != nil {
		return it.id
	}
	return ""
}

// UploadStats reports open upload sessions and the bytes held by uploaded
// parts (in memory or under PartDir) that no stored object owns yet or
// that belong to stored objects made by uploads.
func (s *Server) UploadStats() (sessions int, partBytes int64) {
	s.st.mu.RLock()
	sessions = len(s.st.uploads)
	s.st.mu.RUnlock()
	s.parts.mu.Lock()
	partBytes = s.parts.bytes
	s.parts.mu.Unlock()
	return sessions, partBytes
}

// Hubs returns the IDs of all hubs in creation order.
func (s *Server) Hubs() []string {
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	out := make([]string, 0, len(st.hubs))
	for _, h := range st.hubs {
		out = append(out, h.id)
	}
	return out
}

// Projects returns the IDs of all projects, hub by hub, in creation order.
func (s *Server) Projects() []string {
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	var out []string
	for _, h := range st.hubs {
		for _, p := range h.projects {
			out = append(out, p.id)
		}
	}
	return out
}

// ProjectByName returns the ID of the first project named name, or "".
func (s *Server) ProjectByName(name string) string {
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	for _, h := range st.hubs {
		for _, p := range h.projects {
			if p.name == name {
				return p.id
			}
		}
	}
	return ""
}

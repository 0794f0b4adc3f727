package remotetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/bimfs/bimfs/remote"
)

// Writer method names as counted by Memory.Calls and passed to fault hooks.
// The hook's ID is the object the call is about: the parent for Mkdir, the
// existing file (or else the parent) for Upload, the source for Rename.
const (
	OpMkdir  = "Mkdir"
	OpUpload = "Upload"
	OpRename = "Rename"
	OpRemove = "Remove"
)

var _ remote.Writer = (*Memory)(nil)

// uploadChunk is how much Upload reads from the content at a time; Progress
// is reported after each chunk, as a chunked upload to a service would.
const uploadChunk = 256 << 10

// SetWritable sets whether Features reports Writable. The Writer methods
// work either way; a filesystem only calls them on a writable backend.
func (m *Memory) SetWritable(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writable = on
}

// SetSpace makes folder id the root of a namespace of its own, like a BIM
// 360 project: SameSpace is false for objects on either side of its
// boundary and Rename refuses to move between them.
func (m *Memory) SetSpace(id remote.ID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.spaces[id] = true
}

// SetReadOnly sets the ReadOnly flag of id's entry. The Writer methods then
// refuse with Permission to change id itself or the children of folder id.
func (m *Memory) SetReadOnly(id remote.ID, ro bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[id]
	if !ok {
		panic(fmt.Sprintf("remotetest: SetReadOnly of unknown %q", id))
	}
	n.entry.ReadOnly = ro
}

// SetNameRule installs a service name rule: rule returns why a name is not
// allowed, or "" to accept it. Mkdir, Upload and Rename reject refused
// names with an Invalid error whose message gives the reason. Names that
// are empty, "." or "..", or contain '/' or NUL, are always refused.
func (m *Memory) SetNameRule(rule func(name string) string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nameRule = rule
}

// CheckName implements remote.NameChecker: it refuses what Mkdir, Upload
// and Rename would (see SetNameRule), so a filesystem refuses names when
// they are given.
func (m *Memory) CheckName(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.checkNameLocked("CheckName", name)
}

var _ remote.NameChecker = (*Memory)(nil)

// Versions returns every version file id ever had, oldest first.
func (m *Memory) Versions(id remote.ID) []remote.Version {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n, ok := m.nodes[id]; ok {
		return slices.Clone(n.history)
	}
	return nil
}

// Content returns the tip content of the file at path.
func (m *Memory) Content(path string) ([]byte, bool) {
	id, ok := m.Lookup(path)
	if !ok {
		return nil, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.nodes[id]
	if n.entry.Dir {
		return nil, false
	}
	return slices.Clone(m.versions[n.entry.Version.ID]), true
}

// Names returns the names of the children of the folder at path, in
// insertion order.
func (m *Memory) Names(path string) []string {
	id, ok := m.Lookup(path)
	if !ok {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, c := range m.nodes[id].children {
		out = append(out, m.nodes[c].entry.Name)
	}
	return out
}

// Entry returns the entry of the object at path.
func (m *Memory) Entry(path string) (remote.Entry, bool) {
	id, ok := m.Lookup(path)
	if !ok {
		return remote.Entry{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.nodes[id].entry, true
}

// checkNameLocked applies the name rules. Called with m.mu held.
func (m *Memory) checkNameLocked(op, name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return remote.Errorf(remote.Invalid, "memory."+op, "the name %q is not allowed", name)
	case strings.ContainsAny(name, "/\x00"):
		return remote.Errorf(remote.Invalid, "memory."+op, "names may not contain '/' or NUL: %q", name)
	}
	if m.nameRule != nil {
		if why := m.nameRule(name); why != "" {
			return remote.Errorf(remote.Invalid, "memory."+op, "the name %q is not allowed: %s", name, why)
		}
	}
	return nil
}

// folderLocked returns folder id for a write into it. Called with m.mu held.
func (m *Memory) folderLocked(op string, id remote.ID) (*memNode, error) {
	n, ok := m.nodes[id]
	switch {
	case !ok:
		return nil, notFound(op, id)
	case !n.entry.Dir:
		return nil, remote.Errorf(remote.Invalid, "memory."+op, "%q is not a folder", id)
	case n.entry.ReadOnly:
		return nil, remote.Errorf(remote.Permission, "memory."+op, "folder %q is read-only", n.entry.Name)
	}
	return n, nil
}

// Mkdir implements remote.Writer.
func (m *Memory) Mkdir(ctx context.Context, parent remote.ID, name string) (remote.Entry, error) {
	if err := m.enter(ctx, OpMkdir, parent); err != nil {
		return remote.Entry{}, err
	}
	m.mu.Lock()
	p, err := m.folderLocked(OpMkdir, parent)
	if err == nil {
		err = m.checkNameLocked(OpMkdir, name)
	}
	if err == nil {
		if _, taken := m.child(parent, name); taken {
			err = remote.Errorf(remote.Exists, "memory.Mkdir", "%q already exists", name)
		}
	}
	if err != nil {
		m.mu.Unlock()
		return remote.Entry{}, err
	}
	e := m.addLocked(p, parent, name, true)
	m.mu.Unlock()
	m.publish(remote.Change{Dir: parent, ID: e.ID})
	return e, nil
}

// addLocked creates an empty child. Called with m.mu held.
func (m *Memory) addLocked(p *memNode, parent remote.ID, name string, dir bool) remote.Entry {
	seq := m.newSeq()
	id := remote.ID(fmt.Sprintf("id-%d-%04x", seq, (seq*40503)&0xffff))
	e := remote.Entry{ID: id, Name: name, Dir: dir, ModTime: m.now()}
	m.nodes[id] = &memNode{entry: e, parent: parent}
	p.children = append(p.children, id)
	return e
}

// Upload implements remote.Writer. The content is read in chunks before
// anything changes, so a failed read leaves the tree as it was.
func (m *Memory) Upload(ctx context.Context, req remote.UploadRequest) (remote.Entry, error) {
	hookID := req.Existing
	if hookID == "" {
		hookID = req.Parent
	}
	if err := m.enter(ctx, OpUpload, hookID); err != nil {
		return remote.Entry{}, err
	}
	if err := m.checkUpload(req); err != nil {
		return remote.Entry{}, err
	}
	if req.Size < 0 {
		return remote.Entry{}, remote.Errorf(remote.Invalid, "memory.Upload", "negative size %d", req.Size)
	}
	data := make([]byte, req.Size)
	for off := int64(0); off < req.Size; {
		if err := ctx.Err(); err != nil {
			return remote.Entry{}, &remote.Error{Kind: remote.Canceled, Op: "memory.Upload", Err: err}
		}
		end := min(off+uploadChunk, req.Size)
		n, err := req.Content.ReadAt(data[off:end], off)
		if int64(n) < end-off {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return remote.Entry{}, fmt.Errorf("memory.Upload: reading content at %d: %w", off, err)
		}
		off = end
		if req.Progress != nil {
			req.Progress(off)
		}
	}
	m.mu.Lock()
	// Checked again: the tree may have changed while the content was read.
	if err := m.checkUploadLocked(req); err != nil {
		m.mu.Unlock()
		return remote.Entry{}, err
	}
	id := req.Existing
	if id == "" {
		id = m.addLocked(m.nodes[req.Parent], req.Parent, req.Name, false).ID
	} else if n := m.nodes[id]; n.entry.Name != req.Name {
		// A new version carries its name; the item takes it unless a
		// sibling already has it.
		if _, taken := m.child(n.parent, req.Name); !taken {
			n.entry.Name = req.Name
		}
	}
	e := m.setContentLocked(id, data)
	parent := m.nodes[id].parent
	m.mu.Unlock()
	m.publish(remote.Change{Dir: parent, ID: id})
	return e, nil
}

func (m *Memory) checkUpload(req remote.UploadRequest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.checkUploadLocked(req)
}

func (m *Memory) checkUploadLocked(req remote.UploadRequest) error {
	if req.Existing != "" {
		n, ok := m.nodes[req.Existing]
		switch {
		case !ok:
			return notFound(OpUpload, req.Existing)
		case n.entry.Dir:
			return remote.Errorf(remote.Invalid, "memory.Upload", "%q is a folder", req.Existing)
		case n.entry.ReadOnly:
			return remote.Errorf(remote.Permission, "memory.Upload", "file %q is read-only", n.entry.Name)
		}
		if p := m.nodes[n.parent]; p.entry.ReadOnly {
			return remote.Errorf(remote.Permission, "memory.Upload", "folder %q is read-only", p.entry.Name)
		}
		return m.checkNameLocked(OpUpload, req.Name)
	}
	if _, err := m.folderLocked(OpUpload, req.Parent); err != nil {
		return err
	}
	if err := m.checkNameLocked(OpUpload, req.Name); err != nil {
		return err
	}
	if _, taken := m.child(req.Parent, req.Name); taken {
		return remote.Errorf(remote.Exists, "memory.Upload", "%q already exists; upload a new version of it instead", req.Name)
	}
	return nil
}

// Rename implements remote.Writer. With replace, the source's tip content
// becomes a new version of replace and the source item disappears.
func (m *Memory) Rename(ctx context.Context, id, newParent remote.ID, newName string, replace remote.ID) (remote.Entry, error) {
	if err := m.enter(ctx, OpRename, id); err != nil {
		return remote.Entry{}, err
	}
	m.mu.Lock()
	e, oldParent, err := m.renameLocked(id, newParent, newName, replace)
	m.mu.Unlock()
	if err != nil {
		return remote.Entry{}, err
	}
	m.publish(remote.Change{Dir: oldParent, ID: id, Deleted: replace != ""})
	m.publish(remote.Change{Dir: newParent, ID: e.ID})
	return e, nil
}

func (m *Memory) renameLocked(id, newParent remote.ID, newName string, replace remote.ID) (remote.Entry, remote.ID, error) {
	const op = OpRename
	n, ok := m.nodes[id]
	if !ok || id == RootID {
		return remote.Entry{}, "", notFound(op, id)
	}
	if n.entry.ReadOnly {
		return remote.Entry{}, "", remote.Errorf(remote.Permission, "memory.Rename", "%q is read-only", n.entry.Name)
	}
	if _, err := m.folderLocked(op, n.parent); err != nil {
		return remote.Entry{}, "", err
	}
	np, err := m.folderLocked(op, newParent)
	if err != nil {
		return remote.Entry{}, "", err
	}
	if !m.sameSpaceLocked(n.parent, newParent) {
		return remote.Entry{}, "", remote.Errorf(remote.Unsupported, "memory.Rename", "cannot move %q to another project", n.entry.Name)
	}
	if err := m.checkNameLocked(op, newName); err != nil {
		return remote.Entry{}, "", err
	}
	for a := newParent; a != ""; a = m.nodes[a].parent {
		if a == id {
			return remote.Entry{}, "", remote.Errorf(remote.Invalid, "memory.Rename", "cannot move %q into itself", n.entry.Name)
		}
		if a == RootID {
			break
		}
	}
	target, taken := m.child(newParent, newName)
	if taken && target == id {
		taken = false
	}
	switch {
	case taken && replace == "":
		return remote.Entry{}, "", remote.Errorf(remote.Exists, "memory.Rename", "%q already exists", newName)
	case replace != "" && (!taken || target != replace):
		return remote.Entry{}, "", remote.Errorf(remote.Conflict, "memory.Rename", "%q is not the object named %q", replace, newName)
	}
	oldParent := n.parent
	if replace != "" {
		t := m.nodes[replace]
		if t.entry.Dir || n.entry.Dir {
			return remote.Entry{}, "", remote.Errorf(remote.Invalid, "memory.Rename", "only a file can replace a file")
		}
		if t.entry.ReadOnly {
			return remote.Entry{}, "", remote.Errorf(remote.Permission, "memory.Rename", "%q is read-only", t.entry.Name)
		}
		e := m.setContentLocked(replace, m.versions[n.entry.Version.ID])
		m.unlinkLocked(id)
		return e, oldParent, nil
	}
	op0 := m.nodes[oldParent]
	op0.children = slices.DeleteFunc(op0.children, func(c remote.ID) bool { return c == id })
	np.children = append(np.children, id)
	n.parent = newParent
	n.entry.Name = newName
	return n.entry, oldParent, nil
}

// unlinkLocked removes id and everything below it. Called with m.mu held.
func (m *Memory) unlinkLocked(id remote.ID) {
	n := m.nodes[id]
	p := m.nodes[n.parent]
	p.children = slices.DeleteFunc(p.children, func(c remote.ID) bool { return c == id })
	var drop func(remote.ID)
	drop = func(id remote.ID) {
		for _, c := range m.nodes[id].children {
			drop(c)
		}
		delete(m.nodes, id)
	}
	drop(id)
}

// Remove implements remote.Writer: files and empty folders only.
func (m *Memory) Remove(ctx context.Context, id remote.ID) error {
	if err := m.enter(ctx, OpRemove, id); err != nil {
		return err
	}
	m.mu.Lock()
	n, ok := m.nodes[id]
	var err error
	switch {
	case !ok || id == RootID:
		err = notFound(OpRemove, id)
	case n.entry.ReadOnly:
		err = remote.Errorf(remote.Permission, "memory.Remove", "%q is read-only", n.entry.Name)
	case n.entry.Dir && len(n.children) > 0:
		err = remote.Errorf(remote.NotEmpty, "memory.Remove", "folder %q has %d children", n.entry.Name, len(n.children))
	}
	if err == nil {
		_, err = m.folderLocked(OpRemove, n.parent)
	}
	if err != nil {
		m.mu.Unlock()
		return err
	}
	parent := n.parent
	m.unlinkLocked(id)
	m.mu.Unlock()
	m.publish(remote.Change{Dir: parent, ID: id, Deleted: true})
	return nil
}

// SameSpace implements remote.Writer: a and b are in one space when the
// nearest folder marked by SetSpace above each (or the root) is the same.
// Unknown IDs are in no space.
func (m *Memory) SameSpace(a, b remote.ID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sameSpaceLocked(a, b)
}

func (m *Memory) sameSpaceLocked(a, b remote.ID) bool {
	sa, oka := m.spaceLocked(a)
	sb, okb := m.spaceLocked(b)
	return oka && okb && sa == sb
}

func (m *Memory) spaceLocked(id remote.ID) (remote.ID, bool) {
	for {
		n, ok := m.nodes[id]
		if !ok {
			return "", false
		}
		if id == RootID || m.spaces[id] {
			return id, true
		}
		id = n.parent
	}
}

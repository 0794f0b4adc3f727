package emulator

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Fixed identifiers of the two trees.
const (
	// RootID is the literal ID of the project tree's root.
	RootID = "projectRoot"
	// RootName is the root's name and the first element of every $path.
	// The real server may translate it.
	RootName = "Project Root"

	serverRootID   = "serverRoot"
	serverRootName = "Server Root"

	typeGroup       = "resourceGroup"
	typeBlob        = "blob"
	typeModelServer = "modelServer"
)

// namePattern is the Resource.name pattern of the spec: no < > : ; , ? " * | / \.
var namePattern = regexp.MustCompile(`^[^<>:;,?"*|/\\]+$`)

// node is one resource: a folder (resourceGroup), a file (blob), or a model
// server in the separate "Server Root" tree.
//
// A blob's id is the manager's final ID. When uploads are emulated,
// commit-upload's temporary IDs stay in the upload session and never enter
// the tree; commit-batch-upload adds a node with a fresh ID for a new path,
// or bumps contentRev (and records an update) for an existing one.
type node struct {
	id       string
	typ      string
	name     string
	parent   *node
	children map[string]*node // by ID; folders and the two roots only
	modified time.Time

	// Blobs: hosting model server, current content and its revision number
	// (1 for the first upload). Folders: an explicit default blob server for
	// uploads below, "" to inherit.
	modelServerID string
	content       Content
	contentRev    int
	rev           int64 // change-feed revision of the blob's latest change
	created       time.Time
	createdBy     string // user IDs, for blob metadata
	modifiedBy    string

	// Model servers only.
	connectionURLs []string
}

func (n *node) isFolder() bool { return n.typ == typeGroup }

// path is the $path: names from the root down, joined by "/".
func (n *node) path() string {
	if n.parent == nil {
		return n.name
	}
	return n.parent.path() + "/" + n.name
}

// ancestors lists the nodes from the root down to n's parent.
func (n *node) ancestors() []*node {
	var out []*node
	for p := n.parent; p != nil; p = p.parent {
		out = append(out, p)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func (n *node) childNamed(name string) *node {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

type changeKind int

const (
	changeCreated changeKind = iota
	changeUpdated
	changeDeleted
)

// change is one entry of the blob change feed.
type change struct {
	rev  int64
	kind changeKind
	id   string
	path string // $path at the time of the change
	at   time.Time
}

// store is the resource tree and the blob change feed. The Server's mutex
// protects it.
type store struct {
	newID      func() string
	nodes      map[string]*node
	root       *node
	serverRoot *node

	// head is the newest revision handed out. Revisions at or below
	// obsoleteBelow-1 belong to a "previous database" (ObsoleteRevisions)
	// and are refused with error 9.
	head          int64
	obsoleteBelow int64
	changes       []change
}

func newStore(newID func() string) *store {
	now := time.Now()
	st := &store{newID: newID, nodes: map[string]*node{}}
	st.root = &node{id: RootID, typ: typeGroup, name: RootName, children: map[string]*node{}, modified: now}
	st.serverRoot = &node{id: serverRootID, typ: "serverRoot", name: serverRootName, children: map[string]*node{}, modified: now}
	st.nodes[RootID] = st.root
	st.nodes[serverRootID] = st.serverRoot
	return st
}

func (st *store) record(kind changeKind, n *node) {
	st.head++
	n.rev = st.head
	st.changes = append(st.changes, change{rev: st.head, kind: kind, id: n.id, path: n.path(), at: time.Now()})
}

// add links a new child under parent. It panics on misuse, since the callers
// are test set-up code.
func (st *store) add(parent *node, n *node) {
	if parent == nil || parent.children == nil {
		panic(fmt.Sprintf("emulator: parent of %q is not a folder", n.name))
	}
	if !namePattern.MatchString(n.name) {
		panic(fmt.Sprintf("emulator: name %q is not a valid BIMcloud resource name", n.name))
	}
	if parent.childNamed(n.name) != nil {
		panic(fmt.Sprintf("emulator: %q already exists in %q", n.name, parent.path()))
	}
	n.parent = parent
	parent.children[n.id] = n
	st.nodes[n.id] = n
	if n.typ == typeBlob {
		st.record(changeCreated, n)
	}
}

// remove unlinks n and its subtree, recording a deletion for every blob.
func (st *store) remove(n *node) {
	for _, c := range n.children {
		st.remove(c)
	}
	if n.typ == typeBlob {
		st.record(changeDeleted, n)
	}
	delete(n.parent.children, n.id)
	delete(st.nodes, n.id)
}

// byPath finds a resource by its exact $path in either tree.
func (st *store) byPath(p string) *node {
	var cur *node
	switch {
	case p == RootName || strings.HasPrefix(p, RootName+"/"):
		cur, p = st.root, strings.TrimPrefix(p[len(RootName):], "/")
	case p == serverRootName || strings.HasPrefix(p, serverRootName+"/"):
		cur, p = st.serverRoot, strings.TrimPrefix(p[len(serverRootName):], "/")
	default:
		return nil
	}
	if p == "" {
		return cur
	}
	for _, name := range strings.Split(p, "/") {
		if cur = cur.childNamed(name); cur == nil {
			return nil
		}
	}
	return cur
}

// ancestorJSON is one element of Resource.$ancestors.
type ancestorJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// resourceJSON is the spec's Resource schema, plus connectionUrls on model
// servers (read by the vendor demo; absent from the schema).
type resourceJSON struct {
	ID              string         `json:"id"`
	Type            string         `json:"type"`
	Name            string         `json:"name"`
	Path            string         `json:"$path"`
	LoweredPath     string         `json:"$loweredPath"`
	Ancestors       []ancestorJSON `json:"$ancestors"`
	ParentID        string         `json:"$parentId,omitempty"`
	ParentName      string         `json:"$parentName,omitempty"`
	ModelServerName string         `json:"$modelServerName,omitempty"`
	ModelServerPath string         `json:"$modelServerPath,omitempty"`
	ModelServerID   string         `json:"modelServerId,omitempty"`
	ModifiedDate    int64          `json:"$modifiedDate"`
	// Size is set for blobs only; a pointer because a 0-byte blob still
	// carries "$size": 0 while folders carry none.
	Size           *int64   `json:"$size,omitempty"`
	ConnectionURLs []string `json:"connectionUrls,omitempty"`
}

func (st *store) resource(n *node) resourceJSON {
	p := n.path()
	r := resourceJSON{
		ID:           n.id,
		Type:         n.typ,
		Name:         n.name,
		Path:         p,
		LoweredPath:  strings.ToLower(p),
		Ancestors:    []ancestorJSON{},
		ModifiedDate: n.modified.UnixMilli(),
	}
	for _, a := range n.ancestors() {
		r.Ancestors = append(r.Ancestors, ancestorJSON{ID: a.id, Name: a.name})
	}
	if n.parent != nil {
		r.ParentID, r.ParentName = n.parent.id, n.parent.name
	}
	if n.typ == typeBlob {
		size := n.content.Size()
		r.Size = &size
		r.ModelServerID = n.modelServerID
		if ms := st.nodes[n.modelServerID]; ms != nil {
			r.ModelServerName, r.ModelServerPath = ms.name, ms.path()
		}
	}
	if n.typ == typeModelServer {
		r.ConnectionURLs = append([]string(nil), n.connectionURLs...)
	}
	return r
}

// touch sets a new modification time that is strictly later than the
// previous one, so ($modifiedDate, id) identifies a content revision even
// when two updates fall in the same millisecond.
func touch(n *node) {
	now := time.Now()
	if !now.Truncate(time.Millisecond).After(n.modified.Truncate(time.Millisecond)) {
		now = n.modified.Truncate(time.Millisecond).Add(time.Millisecond)
	}
	n.modified = now
}

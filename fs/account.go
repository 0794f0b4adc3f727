package fs

import (
	"context"
	"sync"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"

	"github.com/bimfs/bimfs/cache"
	"github.com/bimfs/bimfs/remote"
)

// account is the state of one backend in the mount.
type account struct {
	fsys    *filesystem
	name    string
	backend remote.Backend
	meta    *cache.Meta
	// rangeReads is read once: the cache picks a read strategy per file
	// and a backend's capabilities do not change while mounted.
	rangeReads bool
	top        *dirNode
	// writer is the backend's write side; nil when the account is
	// read-only. Set before the mount serves requests.
	writer remote.Writer

	// topMu serializes resolving the top folder so a burst of first
	// lookups makes one Root call.
	topMu sync.Mutex

	// mu protects the following fields.
	mu sync.Mutex
	// topEntry is the resolved top folder; zero until first needed.
	topEntry remote.Entry
	// tables caches the named, sorted form of each live folder's current
	// listing, keyed by folder ID; it is rebuilt when cache.Meta returns
	// a listing fetched at another time.
	tables map[remote.ID]*dirTable
	// nodes holds the live node of each remote object the kernel knows,
	// so a second lookup updates the node the kernel already has and
	// change notifications can find it. Nodes remove themselves on forget.
	nodes map[remote.ID]fusefs.InodeEmbedder
	// inos holds the inode number of live file nodes that got a new
	// remote ID (a new file once uploaded, a file that replaced another by
	// rename), so readdir and lookups keep giving the number the kernel
	// knows.
	inos map[remote.ID]uint64
	// lastLoginHint is when the user was last told to log in again.
	lastLoginHint time.Time
}

func newAccount(fsys *filesystem, a Account) *account {
	acct := &account{
		fsys:       fsys,
		name:       a.Name,
		backend:    a.Backend,
		meta:       cache.NewMeta(a.Backend, fsys.opts.MetadataTTL),
		rangeReads: a.Backend.Features().RangeReads,
		tables:     map[remote.ID]*dirTable{},
		nodes:      map[remote.ID]fusefs.InodeEmbedder{},
		inos:       map[remote.ID]uint64{},
	}
	acct.top = &dirNode{acct: acct, isTop: true}
	return acct
}

// topFolder returns the account's top folder, asking the backend once.
func (a *account) topFolder(ctx context.Context) (remote.Entry, error) {
	a.mu.Lock()
	e := a.topEntry
	a.mu.Unlock()
	if e.ID != "" {
		return e, nil
	}
	a.topMu.Lock()
	defer a.topMu.Unlock()
	a.mu.Lock()
	e = a.topEntry
	a.mu.Unlock()
	if e.ID != "" {
		return e, nil
	}
	e, err := a.backend.Root(ctx)
	if err != nil {
		return remote.Entry{}, err
	}
	a.mu.Lock()
	a.topEntry = e
	a.mu.Unlock()
	return e, nil
}

// knownTop returns the top folder's ID if it has been resolved.
func (a *account) knownTop() remote.ID {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.topEntry.ID
}

// listing returns folder dir's table, listing it again through cache.Meta
// if the cached listing is older than MetadataTTL.
func (a *account) listing(ctx context.Context, dir remote.ID) (*dirTable, error) {
	entries, at, err := a.meta.List(ctx, dir)
	if err != nil {
		return nil, err
	}
	return a.table(dir, entries, at), nil
}

// cachedListing returns folder dir's table from whatever cache.Meta holds,
// without calling the backend; nil if nothing is cached.
func (a *account) cachedListing(dir remote.ID) *dirTable {
	entries, at, ok := a.meta.Cached(dir)
	if !ok {
		return nil
	}
	return a.table(dir, entries, at)
}

func (a *account) table(dir remote.ID, entries []remote.Entry, at time.Time) *dirTable {
	staged, sig := a.stagedEntries(dir)
	a.mu.Lock()
	t := a.tables[dir]
	a.mu.Unlock()
	if t != nil && t.at.Equal(at) && t.sameSource(entries, sig) {
		return t
	}
	all := entries
	if len(staged) > 0 {
		// A staged new file claims its name: a remote entry of that
		// name is either this file being uploaded right now or one the
		// upload will collide with (and fail on, visibly).
		claimed := make(map[string]bool, len(staged))
		for _, e := range staged {
			claimed[e.Name] = true
		}
		all = make([]remote.Entry, 0, len(entries)+len(staged))
		for _, e := range entries {
			if !claimed[e.Name] || e.Dir {
				all = append(all, e)
			}
		}
		all = append(all, staged...)
	}
	t = newDirTable(all, at)
	t.setSource(entries, sig)
	a.mu.Lock()
	if old := a.tables[dir]; old == nil || !old.at.After(at) {
		a.tables[dir] = t
	}
	a.mu.Unlock()
	return t
}

// lastTable returns the table last built for dir, if any.
func (a *account) lastTable(dir remote.ID) *dirTable {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tables[dir]
}

// dirNode returns the live node for folder e, or a new one.
func (a *account) dirNode(e remote.Entry) *dirNode {
	a.mu.Lock()
	n, ok := a.nodes[e.ID].(*dirNode)
	if !ok {
		n = &dirNode{acct: a, id: e.ID}
		a.nodes[e.ID] = n
	}
	a.mu.Unlock()
	n.mu.Lock()
	n.entry = e
	n.mu.Unlock()
	return n
}

// fileNode returns the live node for file e in folder parent, or a new one,
// and records e as the file's newest known state.
func (a *account) fileNode(parent remote.ID, e remote.Entry) *fileNode {
	a.mu.Lock()
	n, ok := a.nodes[e.ID].(*fileNode)
	if !ok {
		n = &fileNode{acct: a, id: e.ID, ino: a.inoLocked(e.ID)}
		a.nodes[e.ID] = n
	}
	a.mu.Unlock()
	n.update(parent, e)
	return n
}

// inoLocked is the inode number of object id. Called with a.mu held.
func (a *account) inoLocked(id remote.ID) uint64 {
	if ino, ok := a.inos[id]; ok {
		return ino
	}
	return objectIno(a.name, id)
}

// rekey registers file node n under its new remote ID, keeping its inode
// number: the kernel knows the node by that number.
func (a *account) rekey(n *fileNode, id remote.ID) {
	old := n.remoteID()
	if old == id {
		return
	}
	a.mu.Lock()
	if a.nodes[old] == fusefs.InodeEmbedder(n) {
		delete(a.nodes, old)
	}
	if a.inos[old] == n.ino {
		delete(a.inos, old)
	}
	a.nodes[id] = n
	if n.ino != objectIno(a.name, id) {
		a.inos[id] = n.ino
	}
	a.mu.Unlock()
	n.mu.Lock()
	n.id = id
	n.mu.Unlock()
}

// node returns the live node of id, if any.
func (a *account) node(id remote.ID) fusefs.InodeEmbedder {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.nodes[id]
}

// forget drops n from the registry (and a folder's table) if it is still
// the registered node of id.
func (a *account) forget(id remote.ID, n fusefs.InodeEmbedder) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.nodes[id] == n {
		delete(a.nodes, id)
		if _, ok := n.(*dirNode); ok {
			delete(a.tables, id)
		}
		if f, ok := n.(*fileNode); ok && a.inos[id] == f.ino {
			delete(a.inos, id)
		}
	}
}

// liveDir returns the node of folder id if the kernel knows it.
func (a *account) liveDir(id remote.ID) *dirNode {
	a.mu.Lock()
	defer a.mu.Unlock()
	if id != "" && id == a.topEntry.ID {
		return a.top
	}
	d, _ := a.nodes[id].(*dirNode)
	return d
}

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
	a.mu.Lock()
	t := a.tables[dir]
	a.mu.Unlock()
	if t != nil && t.at.Equal(at) && len(t.entries) == len(entries) {
		return t
	}
	t = newDirTable(entries, at)
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
		n = &fileNode{acct: a, id: e.ID}
		a.nodes[e.ID] = n
	}
	a.mu.Unlock()
	n.update(parent, e)
	return n
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

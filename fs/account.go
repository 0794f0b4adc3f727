package fs

import (
	"context"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bimfs/bimfs/cache"
	"github.com/bimfs/bimfs/remote"
)

// account is the state of one backend in the filesystem.
type account struct {
	fsys    *FS
	name    string
	ident   string // the account's identity (Account.Identity)
	backend remote.Backend
	// source reads the backend's bytes for the cache under keys that
	// include the account's identity.
	source cache.Source
	meta   *cache.Meta
	// rangeReads is read once: the cache picks a read strategy per file
	// and a backend's capabilities do not change while running.
	rangeReads bool
	top        *Dir
	// writer is the backend's write side; nil when the account is
	// read-only. Set before any request is served.
	writer remote.Writer

	// topMu serializes resolving the top folder so a burst of first
	// lookups makes one Root call.
	topMu sync.Mutex

	// mu protects the following fields. It is a leaf lock.
	mu sync.Mutex
	// topEntry is the resolved top folder; zero until first needed.
	topEntry remote.Entry
	// tables caches the named, sorted form of each folder's current
	// listing, keyed by folder ID; rebuilt when cache.Meta returns a
	// listing fetched at another time.
	tables map[remote.ID]*dirTable
	// nodes holds the node of each object a front end knows, so a second
	// lookup finds the same node and change notifications can reach it.
	// Front ends drop nodes with Forget.
	nodes map[remote.ID]any
	// inos holds the inode number of files that got a new remote ID (a
	// new file once uploaded, a file that replaced another by rename), so
	// the number stays the one front ends know.
	inos map[remote.ID]uint64
	// lastLoginHint is when the user was last told to log in again.
	lastLoginHint time.Time

	// hist is the version-history state (versions.go).
	hist *history
}

func newAccount(fsys *FS, a Account) *account {
	ident := a.Identity
	if ident == "" {
		ident = "account " + a.Name
	}
	acct := &account{
		fsys:       fsys,
		name:       a.Name,
		ident:      ident,
		backend:    a.Backend,
		source:     namespacedSource{b: a.Backend, ns: ident},
		meta:       cache.NewMeta(a.Backend, fsys.opts.MetadataTTL),
		rangeReads: a.Backend.Features().RangeReads,
		tables:     map[remote.ID]*dirTable{},
		nodes:      map[remote.ID]any{},
		inos:       map[remote.ID]uint64{},
		hist:       newHistory(),
	}
	if fsys.opts.StatePath != "" {
		acct.meta.SetStore(fsys.state.Listings(ident))
	}
	acct.top = &Dir{fsys: fsys, acct: acct, kind: topDir, parent: fsys.root, name: a.Name}
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

// table builds (or reuses) the table of dir from a listing and the files
// staged there that the service does not have yet.
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
		// A staged new file claims its name: a remote file of that name
		// is this file arriving at the service right now, or one its
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

// stagedPrefix starts the IDs of files that exist only in the staging
// area. Services' IDs never contain NUL.
const stagedPrefix = "\x00staged:"

// stagedID is the ID of the never-uploaded file with staging key key.
func stagedID(key string) remote.ID { return remote.ID(stagedPrefix + key) }

// isStagedID reports whether id names a never-uploaded file.
func isStagedID(id remote.ID) bool { return strings.HasPrefix(string(id), stagedPrefix) }

// stagedKey is the staging key of a never-uploaded file's ID.
func stagedKey(id remote.ID) string { return strings.TrimPrefix(string(id), stagedPrefix) }

// stagedEntries returns entries for the new and recovered files staged in
// folder dir, and a signature that changes when that set or their names
// change.
func (a *account) stagedEntries(dir remote.ID) ([]remote.Entry, string) {
	if a.writer == nil || a.fsys.wb == nil {
		return nil, ""
	}
	files := a.fsys.wb.NewFiles(a.name, dir)
	if len(files) == 0 {
		return nil, ""
	}
	out := make([]remote.Entry, 0, len(files))
	for _, f := range files {
		r := f.Record()
		out = append(out, remote.Entry{ID: stagedID(r.Key), Name: r.Name, Size: r.Size, ModTime: r.Modified})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	var sig strings.Builder
	for _, e := range out {
		sig.WriteString(string(e.ID))
		sig.WriteByte(0)
		sig.WriteString(e.Name)
		sig.WriteByte(0)
	}
	return out, sig.String()
}

// lastTable returns the table last built for dir, if any.
func (a *account) lastTable(dir remote.ID) *dirTable {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tables[dir]
}

// dirNode returns the node for folder e in parent, or a new one.
func (a *account) dirNode(parent *Dir, name string, e remote.Entry) *Dir {
	a.mu.Lock()
	defer a.mu.Unlock()
	d, ok := a.nodes[e.ID].(*Dir)
	if !ok {
		d = &Dir{fsys: a.fsys, acct: a, kind: folderDir, id: e.ID}
		a.nodes[e.ID] = d
	}
	d.entry, d.parent, d.name = e, parent, name
	return d
}

// fileNode returns the node for file e shown as name in dir, or a new
// one, and records e as the file's newest known state.
func (a *account) fileNode(dir *Dir, name string, e remote.Entry) *File {
	a.mu.Lock()
	n, ok := a.nodes[e.ID].(*File)
	if !ok {
		n = &File{acct: a, id: e.ID, ino: a.inoLocked(e.ID)}
		a.nodes[e.ID] = n
	}
	a.mu.Unlock()
	n.update(dir, name, e)
	return n
}

// inoLocked is the inode number of object id: the one it was first given
// if it was created here (kept across restarts in the state store),
// otherwise derived from its ID. Called with a.mu held.
func (a *account) inoLocked(id remote.ID) uint64 {
	if ino, ok := a.inos[id]; ok {
		return ino
	}
	if !isStagedID(id) {
		if ino, ok := a.fsys.state.Ino(a.ident, string(id)); ok {
			a.inos[id] = ino
			return ino
		}
	}
	return objectIno(a.name, id)
}

// ino is the inode number of object id.
func (a *account) ino(id remote.ID) uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inoLocked(id)
}

// rekey registers file n under its new remote ID, keeping its inode
// number: front ends know the file by that number.
func (a *account) rekey(n *File, id remote.ID) {
	n.mu.Lock()
	old := n.id
	n.id = id
	n.mu.Unlock()
	if old == id {
		return
	}
	a.mu.Lock()
	if a.nodes[old] == any(n) {
		delete(a.nodes, old)
	}
	a.nodes[id] = n
	keep := n.ino != objectIno(a.name, id)
	if keep {
		a.inos[id] = n.ino
	}
	a.mu.Unlock()
	if keep && !isStagedID(id) {
		if err := a.fsys.state.SetIno(a.ident, string(id), n.ino); err != nil {
			a.fsys.log.Warn("cannot keep a file's inode number for the next start", "account", a.name, "err", err)
		}
	}
}

// node returns the live node of id, if any.
func (a *account) node(id remote.ID) any {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.nodes[id]
}

// forget drops n from the registry if it is still the node of id.
func (a *account) forget(id remote.ID, n any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.nodes[id] == n {
		delete(a.nodes, id)
		if _, ok := n.(*Dir); ok {
			delete(a.tables, id)
		}
	}
}

// liveDir returns the node of folder id if a front end knows it.
func (a *account) liveDir(id remote.ID) *Dir {
	a.mu.Lock()
	defer a.mu.Unlock()
	if id != "" && id == a.topEntry.ID {
		return a.top
	}
	d, _ := a.nodes[id].(*Dir)
	return d
}

// namespacedSource reads a backend's bytes for the cache, which keys
// blocks by version ID: the version IDs it hands the cache carry the
// account's identity, and are stripped again before the backend sees them.
type namespacedSource struct {
	b  remote.Backend
	ns string
}

// cacheVersion is v as the cache knows it.
func (s namespacedSource) cacheVersion(v remote.Version) remote.Version {
	if v.ID != "" {
		v.ID = s.ns + "\x00" + v.ID
	}
	return v
}

func (s namespacedSource) ReadRange(ctx context.Context, id remote.ID, v remote.Version, off, length int64) (io.ReadCloser, error) {
	if _, after, ok := strings.Cut(v.ID, "\x00"); ok {
		v.ID = after
	}
	return s.b.ReadRange(ctx, id, v, off, length)
}

package fs

import (
	"context"
	"errors"
	"io"
	"path"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/bimfs/bimfs/cache"
	"github.com/bimfs/bimfs/remote"
)

// VersionsDirName is the lookup-only directory every folder has for the
// older versions of its files.
//
// # Version history
//
// "<folder>/.versions" is never listed by readdir, so ls -a, find, du and
// rsync never descend into it; looking it up works. It lists the folder's
// files as directories; ".versions/<file>/" lists that file's versions as
// "v<N><ext>" (for "Site Plan.pdf": v1.pdf, v2.pdf, …; ext is the file's
// last extension, empty if none; N is the service's version number, or
// the position in the history where the service numbers none), each with
// its own size and time. Versions that mark a deletion are not listed.
//
// A file's history is asked of the service (remote.Historian) once per tip
// version: while the folder's listing shows the same tip, the answer is
// reused; a new version appears after the listing's MetadataTTL, like any
// other change. Backends without a history show the current version only.
//
// Versions are immutable: their bytes are cached in blocks under their
// version ID (with the account's identity, as every read), front ends let
// the kernel keep their pages, and every change (write, truncate, create,
// rename, unlink, xattrs) fails with ErrReadOnlyFS (EROFS).
const VersionsDirName = ".versions"

// history is an account's version-history state: the nodes front ends
// know (so a second lookup finds the same node) and each file's history
// per tip version.
type history struct {
	// mu protects the maps. It is a leaf lock.
	mu    sync.Mutex
	nodes map[string]Node
	lists map[remote.ID]historyList
	// calls joins concurrent requests for one file's history at one tip
	// (an ls -l looks every version up at once).
	calls singleflight.Group
}

// historyList is a file's history as fetched while tip was its tip.
type historyList struct {
	tip      string
	versions []remote.VersionInfo
}

func newHistory() *history {
	return &history{nodes: map[string]Node{}, lists: map[remote.ID]historyList{}}
}

// node returns the registered node under key, or registers mk().
func (h *history) node(key string, mk func() Node) Node {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n, ok := h.nodes[key]; ok {
		return n
	}
	n := mk()
	h.nodes[key] = n
	return n
}

// forget drops n if it is still registered under key.
func (h *history) forget(key string, n Node) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.nodes[key] == n {
		delete(h.nodes, key)
	}
}

// VersionsDir is the ".versions" directory of a folder.
type VersionsDir struct {
	folder *Dir
	key    string
}

// versionsDir returns the ".versions" directory of folder d.
func (d *Dir) versionsDir() *VersionsDir {
	id := string(d.id)
	if d.kind == topDir {
		id = "\x00top"
	}
	key := "d\x00" + id
	return d.acct.hist.node(key, func() Node { return &VersionsDir{folder: d, key: key} }).(*VersionsDir)
}

// Attr is a read-only directory with the folder's time.
func (v *VersionsDir) Attr() Attr {
	fa := v.folder.Attr()
	return Attr{Ino: hashIno(v.folder.acct.name, "versions", v.key), Dir: true, Nlink: 2, ModTime: fa.ModTime, Protected: true}
}

// Path is the directory's path from the root.
func (v *VersionsDir) Path() string { return v.folder.childPath(VersionsDirName) }

// Lookup finds the history directory of the folder's file name.
func (v *VersionsDir) Lookup(ctx context.Context, name string) (Node, error) {
	_, t, err := v.folder.listing(ctx, "lookup")
	if err != nil {
		return nil, err
	}
	e, ok := t.lookup(name)
	if !ok || e.Dir || isStagedID(e.ID) {
		return nil, errNotFound
	}
	// Keyed by folder too: a file moved elsewhere gets a history
	// directory there, found through its new folder's listing.
	key := v.key + "\x00f\x00" + string(e.ID)
	return v.folder.acct.hist.node(key, func() Node { return &FileVersions{parent: v, id: e.ID, key: key} }), nil
}

// historyIno is the inode number of the history directory of file id
// below this ".versions".
func (v *VersionsDir) historyIno(id remote.ID) uint64 {
	return hashIno(v.folder.acct.name, "history", v.key, string(id))
}

// ReadDir lists one directory per file of the folder that the service
// has (files never uploaded have no versions).
func (v *VersionsDir) ReadDir(ctx context.Context) ([]DirEntry, error) {
	_, t, err := v.folder.listing(ctx, "readdir")
	if err != nil {
		return nil, err
	}
	out := make([]DirEntry, 0, len(t.entries))
	for i, e := range t.entries {
		if e.Dir || isStagedID(e.ID) {
			continue
		}
		out = append(out, DirEntry{Name: t.names[i], Ino: v.historyIno(e.ID), Dir: true})
	}
	return out, nil
}

// Forget tells the core that the front end no longer holds the node.
func (v *VersionsDir) Forget() { v.folder.acct.hist.forget(v.key, v) }

// FileVersions is ".versions/<file>": the versions of one file.
type FileVersions struct {
	parent *VersionsDir
	id     remote.ID
	key    string
}

// current returns the file's entry and shown name from the folder's
// listing (revalidated per MetadataTTL).
func (fv *FileVersions) current(ctx context.Context, op string) (remote.Entry, string, error) {
	_, t, err := fv.parent.folder.listing(ctx, op)
	if err != nil {
		return remote.Entry{}, "", err
	}
	e, name, ok := t.find(fv.id)
	if !ok {
		return remote.Entry{}, "", fv.parent.folder.acct.fail(ctx, op, fv.Path(), &remote.Error{Kind: remote.NotFound, Op: "fs." + op, Message: "the file was deleted remotely"})
	}
	return e, name, nil
}

// name is the directory's name: the file's shown name, as last listed.
func (fv *FileVersions) name() string {
	// The folder was resolved when the history was looked up.
	id, _, _ := fv.parent.folder.folder(context.Background())
	if t := fv.parent.folder.acct.lastTable(id); t != nil {
		if _, name, ok := t.find(fv.id); ok {
			return name
		}
	}
	return string(fv.id)
}

// Attr is a read-only directory with the file's time.
func (fv *FileVersions) Attr() Attr {
	a := fv.parent.folder.acct
	at := Attr{Ino: fv.parent.historyIno(fv.id), Dir: true, Nlink: 2, Protected: true, ModTime: a.fsys.started}
	if f, ok := a.node(fv.id).(*File); ok {
		at.ModTime = f.Attr().ModTime
	}
	return at
}

// Path is the directory's path from the root.
func (fv *FileVersions) Path() string { return fv.parent.Path() + "/" + fv.name() }

// Forget tells the core that the front end no longer holds the node; the
// file's cached history goes with it.
func (fv *FileVersions) Forget() {
	h := fv.parent.folder.acct.hist
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.nodes[fv.key] == Node(fv) {
		delete(h.nodes, fv.key)
		delete(h.lists, fv.id)
	}
}

// versions returns the file's versions, oldest first, each with its
// shown name, asking the service only when the tip changed since the
// last answer.
func (fv *FileVersions) versions(ctx context.Context, op string) ([]remote.VersionInfo, []string, error) {
	e, shown, err := fv.current(ctx, op)
	if err != nil {
		return nil, nil, err
	}
	a := fv.parent.folder.acct
	list, err := a.history(ctx, e)
	if err != nil {
		return nil, nil, a.fail(ctx, op, fv.Path(), err)
	}
	ext := path.Ext(shown)
	if ext == shown {
		ext = "" // ".bashrc" has no extension
	}
	names := make([]string, len(list))
	for i, v := range list {
		n := v.Version.Number
		if n <= 0 {
			n = i + 1
		}
		names[i] = "v" + strconv.Itoa(n) + ext
	}
	return list, names, nil
}

// historyTimeout bounds one history request shared by several callers.
const historyTimeout = 2 * time.Minute

// history returns file e's versions for its current tip version.
func (a *account) history(ctx context.Context, e remote.Entry) ([]remote.VersionInfo, error) {
	tip := remote.VersionInfo{Version: e.Version, Name: e.Name, Size: e.Size, ModTime: e.ModTime}
	h, ok := a.backend.(remote.Historian)
	if !ok {
		return []remote.VersionInfo{tip}, nil
	}
	a.hist.mu.Lock()
	cached, hit := a.hist.lists[e.ID]
	a.hist.mu.Unlock()
	if hit && cached.tip == e.Version.ID {
		return cached.versions, nil
	}
	ch := a.hist.calls.DoChan(string(e.ID)+"\x00"+e.Version.ID, func() (any, error) {
		// Shared by every caller waiting, so not bound to the first
		// one's cancellation; bounded instead.
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), historyTimeout)
		defer cancel()
		return h.History(hctx, e.ID)
	})
	var res singleflight.Result
	select {
	case res = <-ch:
	case <-ctx.Done():
		return nil, &remote.Error{Kind: remote.Canceled, Op: "fs.history", Err: ctx.Err()}
	}
	if remote.IsKind(res.Err, remote.Unsupported) {
		return []remote.VersionInfo{tip}, nil // the service keeps no history
	}
	if res.Err != nil {
		return nil, res.Err
	}
	list := slices.Clone(res.Val.([]remote.VersionInfo))
	// A history may lag behind the listing that showed the tip (eventual
	// consistency): the tip is always a version.
	found := false
	for _, v := range list {
		if v.Version.ID == e.Version.ID {
			found = true
			break
		}
	}
	if !found && e.Version.ID != "" {
		list = append(list, tip)
	}
	a.hist.mu.Lock()
	a.hist.lists[e.ID] = historyList{tip: e.Version.ID, versions: list}
	a.hist.mu.Unlock()
	return list, nil
}

// ReadDir lists the versions as v<N><ext>, oldest first.
func (fv *FileVersions) ReadDir(ctx context.Context) ([]DirEntry, error) {
	list, names, err := fv.versions(ctx, "readdir")
	if err != nil {
		return nil, err
	}
	out := make([]DirEntry, len(list))
	for i, v := range list {
		out[i] = DirEntry{Name: names[i], Ino: versionIno(fv.parent.folder.acct.name, v.Version.ID)}
	}
	return out, nil
}

// Lookup finds the version shown as name.
func (fv *FileVersions) Lookup(ctx context.Context, name string) (Node, error) {
	if len(name) > maxNameLen {
		return nil, nameTooLong("fs.lookup", name)
	}
	list, names, err := fv.versions(ctx, "lookup")
	if err != nil {
		return nil, err
	}
	for i, v := range list {
		if names[i] == name {
			key := "v\x00" + v.Version.ID
			n := fv.parent.folder.acct.hist.node(key, func() Node {
				return &VersionFile{parent: fv, info: v, name: name, key: key}
			})
			return n, nil
		}
	}
	return nil, errNotFound
}

// versionIno is the inode number of one version shown as a file.
func versionIno(account, versionID string) uint64 { return hashIno(account, "version", versionID) }

// VersionFile is one immutable version of a file.
type VersionFile struct {
	parent *FileVersions
	info   remote.VersionInfo
	name   string
	key    string
}

// Attr is the version's size and time; never writable.
func (vf *VersionFile) Attr() Attr {
	a := vf.parent.parent.folder.acct
	at := Attr{Ino: versionIno(a.name, vf.info.Version.ID), Size: vf.info.Size, ModTime: vf.info.ModTime, Nlink: 1, Version: vf.info.Version.ID}
	if at.ModTime.IsZero() {
		at.ModTime = a.fsys.started
	}
	return at
}

// Path is the version's path from the root.
func (vf *VersionFile) Path() string { return vf.parent.Path() + "/" + vf.name }

// Info is the version as the service's history describes it.
func (vf *VersionFile) Info() remote.VersionInfo { return vf.info }

// Forget tells the core that the front end no longer holds the node.
func (vf *VersionFile) Forget() { vf.parent.parent.folder.acct.hist.forget(vf.key, vf) }

// Open opens the version for reading; any write access is ErrReadOnlyFS.
func (vf *VersionFile) Open(ctx context.Context, flags OpenFlags) (*VersionHandle, error) {
	if flags.Write || flags.Trunc || flags.Append {
		return nil, ErrReadOnlyFS
	}
	a := vf.parent.parent.folder.acct
	r := a.fsys.cache.Open(a.source, a.rangeReads, vf.parent.id, a.cacheVersion(vf.info.Version), vf.info.Size)
	return &VersionHandle{vf: vf, r: r}, nil
}

// VersionHandle is an open version.
type VersionHandle struct {
	vf *VersionFile
	r  *cache.Reader
}

// ReadAt reads at off. A short count means end of file.
func (h *VersionHandle) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if off >= h.vf.info.Size {
		return 0, nil
	}
	n, err := h.r.ReadAt(ctx, p, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, h.vf.parent.parent.folder.acct.fail(ctx, "read", h.vf.Path(), err)
	}
	return n, nil
}

// Release closes the handle.
func (h *VersionHandle) Release() {
	if err := h.r.Close(); err != nil {
		a := h.vf.parent.parent.folder.acct
		a.fsys.log.Warn("closing reader", "account", a.name, "path", h.vf.Path(), "err", err)
	}
}

package bimcloud

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// changeSet is the answer of get-blob-changes-for-sync.
type changeSet struct {
	EndRevision jsonInt         `json:"endRevision"`
	Created     []changedObject `json:"created"`
	Updated     []changedObject `json:"updated"`
	Deleted     []changedObject `json:"deleted"`
}

// changedObject is GetBlobChangesForSyncResponseCreatedOrUpdatedObject (or
// a deleted entry, which has only id and path).
type changedObject struct {
	ID   string `json:"id"`
	Path string `json:"path"`
}

// syncRequest is the body of get-blob-changes-for-sync.
type syncRequest struct {
	ResourceGroupID *string `json:"resourceGroupId"`
	Path            *string `json:"path"`
	FromRevision    int64   `json:"fromRevision"`
}

// BlobChanges is management/client/get-blob-changes-for-sync for the
// folder at path, from revision from.
//
// Spec vs demo: the spec declares PUT, which the client sends; managerapi.py
// sends POST, which the client falls back to when the Manager has no PUT
// route (withFallback). Like the demo it names the folder by path (the
// other field null); the spec allows either.
func (m *manager) BlobChanges(ctx context.Context, path string, from int64) (*changeSet, error) {
	const op = "bimcloud.GetBlobChangesForSync"
	req := syncRequest{Path: &path, FromRevision: from}
	u := m.cfg.apiURL("get-blob-changes-for-sync", nil)
	var cs changeSet
	send := func(method string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			cs = changeSet{}
			return m.c.JSON(ctx, op, method, u, "", nil, req, &cs)
		}
	}
	if err := m.withFallback(ctx, op, send(http.MethodPut), send(http.MethodPost)); err != nil {
		return nil, err
	}
	return &cs, nil
}

// Watch implements remote.Watcher by polling the Manager's blob change feed
// every Config.PollInterval. The feed starts at revision 0, whose answer
// lists every blob; Watch reports that first answer as one full
// invalidation (Change{Dir: ""}), because anything may have changed before
// the feed was read. Later answers become Changes for the folders that
// hold the created, updated or deleted blobs (and the folder a blob moved
// out of). When the Manager reports the revision obsolete (error 9, e.g.
// after a backup was restored) Watch starts again from revision 0 and
// again reports a full invalidation. Watch returns when ctx is done.
func (b *Backend) Watch(ctx context.Context, fn func([]remote.Change)) error {
	w := &watcher{b: b, parents: map[string]string{}}
	var rev int64
	var lastErr string
	for {
		if w.rootPath == "" {
			if root, err := b.mgr.GetResource(ctx, RootID); err == nil {
				w.rootPath = root.Path
			} else if ctx.Err() == nil {
				lastErr = w.report(lastErr, err)
			}
		}
		if w.rootPath != "" {
			cs, err := b.mgr.BlobChanges(ctx, w.rootPath, rev)
			switch {
			case err == nil:
				lastErr = ""
				if batch := w.apply(ctx, rev, cs); len(batch) > 0 {
					fn(batch)
				}
				rev = int64(cs.EndRevision)
			case managerCode(err) == ManagerRevisionObsoleted && w.baselined:
				b.log.Info("change feed revision obsoleted; resynchronising from revision 0", "revision", rev)
				rev = 0
				w.baselined = false
				continue
			case ctx.Err() == nil:
				lastErr = w.report(lastErr, err)
			}
		}
		t := time.NewTimer(b.cfg.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// watcher is the state of one Watch loop.
type watcher struct {
	b        *Backend
	rootPath string
	// baselined is set once a revision-0 answer has been reported.
	baselined bool
	// parents maps each known blob to the path of its folder, so a blob
	// that moves also invalidates the folder it left.
	parents map[string]string
}

// report logs a polling failure, loudly only when it is new.
func (w *watcher) report(last string, err error) string {
	if msg := err.Error(); msg != last {
		w.b.log.Warn("change feed failed; will retry", "err", err)
		return msg
	}
	return last
}

// pendingChange is a change whose folder is known by path only.
type pendingChange struct {
	dir     string // folder path
	id      string
	deleted bool
}

// apply records cs, the answer for fromRevision from, and returns the
// changes to report.
func (w *watcher) apply(ctx context.Context, from int64, cs *changeSet) []remote.Change {
	if !w.baselined {
		w.baselined = true
		clear(w.parents)
		for _, o := range slices.Concat(cs.Created, cs.Updated) {
			w.parents[o.ID] = parentPath(o.Path)
		}
		return []remote.Change{{}}
	}
	var ps []pendingChange
	if from == 0 {
		// The feed had no revision yet (endRevision 0), so this answer is
		// a full listing again: compare it with the previous one.
		ps = w.diffSnapshot(slices.Concat(cs.Created, cs.Updated))
	} else {
		for _, o := range slices.Concat(cs.Created, cs.Updated) {
			ps = w.moveTo(ps, o.ID, parentPath(o.Path))
		}
		for _, o := range cs.Deleted {
			dir := parentPath(o.Path)
			if old, ok := w.parents[o.ID]; ok && old != dir {
				ps = append(ps, pendingChange{dir: old, id: o.ID, deleted: true})
			}
			delete(w.parents, o.ID)
			ps = append(ps, pendingChange{dir: dir, id: o.ID, deleted: true})
		}
	}
	return w.resolveChanges(ctx, ps)
}

// moveTo records that blob id is (now) in folder dir.
func (w *watcher) moveTo(ps []pendingChange, id, dir string) []pendingChange {
	if old, ok := w.parents[id]; ok && old != dir {
		ps = append(ps, pendingChange{dir: old, id: id, deleted: true})
	}
	w.parents[id] = dir
	return append(ps, pendingChange{dir: dir, id: id})
}

// diffSnapshot turns a full listing into the changes since the previous one.
func (w *watcher) diffSnapshot(objs []changedObject) []pendingChange {
	var ps []pendingChange
	seen := make(map[string]bool, len(objs))
	for _, o := range objs {
		seen[o.ID] = true
		if dir := parentPath(o.Path); w.parents[o.ID] != dir {
			ps = w.moveTo(ps, o.ID, dir)
		}
	}
	for id, dir := range w.parents {
		if !seen[id] {
			delete(w.parents, id)
			ps = append(ps, pendingChange{dir: dir, id: id, deleted: true})
		}
	}
	return ps
}

// resolveChanges maps the folder paths of ps to IDs and merges repeats.
func (w *watcher) resolveChanges(ctx context.Context, ps []pendingChange) []remote.Change {
	if len(ps) == 0 {
		return nil
	}
	paths := make([]string, 0, len(ps))
	for _, p := range ps {
		paths = append(paths, p.dir)
	}
	ids := w.resolve(ctx, paths)
	out := make([]remote.Change, 0, len(ps))
	index := map[remote.Change]int{} // by Dir and ID
	for _, p := range ps {
		// A folder that cannot be found (deleted with its files) leaves
		// no narrower choice than invalidating everything.
		c := remote.Change{Dir: remote.ID(ids[p.dir]), ID: remote.ID(p.id)}
		if i, ok := index[c]; ok {
			out[i].Deleted = p.deleted
			continue
		}
		index[c] = len(out)
		c.Deleted = p.deleted
		out = append(out, c)
	}
	return out
}

// resolveBatch bounds the number of paths in one criterion query.
const resolveBatch = 50

// resolve maps folder paths to resource IDs with $path queries. Paths are
// looked up afresh for every batch: a cached path could by now name a
// different folder. Unknown paths are left out of the result.
func (w *watcher) resolve(ctx context.Context, paths []string) map[string]string {
	ids := map[string]string{w.rootPath: RootID}
	var todo []string
	for _, p := range paths {
		if _, ok := ids[p]; !ok {
			ids[p] = ""
			todo = append(todo, p)
		}
	}
	for len(todo) > 0 {
		n := min(len(todo), resolveBatch)
		cs := make([]Criterion, n)
		for i, p := range todo[:n] {
			cs[i] = Eq(FieldPath, p)
		}
		todo = todo[n:]
		rs, err := w.b.mgr.Resources(ctx, Or(cs...))
		if err != nil {
			w.b.log.Warn("change feed: resolving folder paths", "err", err)
			continue
		}
		for _, r := range rs {
			if r.Type == TypeResourceGroup {
				ids[r.Path] = r.ID
			}
		}
	}
	return ids
}

// parentPath returns the path of the folder holding the resource at p.
// Names cannot contain "/" (spec Resource.name pattern).
func parentPath(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

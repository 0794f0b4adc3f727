package cache

import (
	"slices"

	"github.com/bimfs/bimfs/remote"
)

// Upsert records that e is now a child of dir, replacing the child with the
// same ID, after the caller changed the folder itself (created, uploaded or
// renamed something). It changes a cached listing only; an uncached dir is
// left to the next List. The listing keeps its fetch time, so other remote
// changes still show after the TTL. A fetch of dir already running is not
// cached, since it may predate the change. Upsert reports whether a cached
// listing was changed.
func (m *Meta) Upsert(dir remote.ID, e remote.Entry) bool {
	m.mu.Lock()
	m.detachLocked(dir)
	old, ok := m.dirs[dir]
	if !ok {
		m.forgetSavedLocked(dir)
		m.mu.Unlock()
		return false
	}
	// Listings handed out are shared and immutable: build a new one.
	entries := slices.Clone(old.entries)
	if i := slices.IndexFunc(entries, func(x remote.Entry) bool { return x.ID == e.ID }); i >= 0 {
		entries[i] = e
	} else {
		entries = append(entries, e)
	}
	m.dirs[dir] = metaEntry{entries: entries, fetched: old.fetched, restored: old.restored}
	m.mu.Unlock()
	m.save(dir, entries, old.fetched)
	return true
}

// Remove records that id is no longer a child of dir (deleted or moved
// away by the caller). Like Upsert it only edits a cached listing and keeps
// its fetch time.
func (m *Meta) Remove(dir, id remote.ID) bool {
	m.mu.Lock()
	m.detachLocked(dir)
	old, ok := m.dirs[dir]
	i := -1
	if ok {
		i = slices.IndexFunc(old.entries, func(x remote.Entry) bool { return x.ID == id })
	}
	if !ok {
		m.forgetSavedLocked(dir)
	}
	if i < 0 {
		m.mu.Unlock()
		return false
	}
	entries := slices.Delete(slices.Clone(old.entries), i, i+1)
	m.dirs[dir] = metaEntry{entries: entries, fetched: old.fetched, restored: old.restored}
	m.mu.Unlock()
	m.save(dir, entries, old.fetched)
	return true
}

// forgetSavedLocked makes sure a listing saved before a change made here
// is never restored: the change is not in it. Called with m.mu held for a
// folder that has no listing in memory.
func (m *Meta) forgetSavedLocked(dir remote.ID) {
	if m.store == nil || m.restoredOnce[dir] {
		return
	}
	m.restoredOnce[dir] = true
	m.store.DropListing(dir)
}

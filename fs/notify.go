package fs

import (
	"context"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// Change notifications. A backend that implements remote.Watcher reports
// remote changes; the core then drops the affected listings from
// cache.Meta and tells the front end (Notifier) which names and files
// changed, so the change shows at once instead of after MetadataTTL.

const (
	// changeQueue bounds batches waiting to be applied; when it is full
	// the watcher falls back to invalidating everything once.
	changeQueue = 64
	// Watch is restarted after a failure with exponential backoff.
	watchBackoffMin = time.Second
	watchBackoffMax = time.Minute
	// relistTimeout bounds the List a notification triggers.
	relistTimeout = 30 * time.Second
)

// startWatching starts the account's watcher if its backend has one.
func (a *account) startWatching(ctx context.Context) {
	w, ok := a.backend.(remote.Watcher)
	if !ok {
		return
	}
	queue := make(chan []remote.Change, changeQueue)
	go a.applyChanges(ctx, queue)
	go a.watch(ctx, w, queue)
}

func (a *account) watch(ctx context.Context, w remote.Watcher, queue chan<- []remote.Change) {
	backoff := watchBackoffMin
	for {
		start := time.Now()
		err := w.Watch(ctx, func(cs []remote.Change) {
			select {
			case queue <- cs:
			default:
				// fn must not block; one "everything changed" is
				// as good as the batches it replaces.
				select {
				case queue <- []remote.Change{{}}:
				default:
				}
			}
		})
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > watchBackoffMax {
			backoff = watchBackoffMin
		}
		a.fsys.log.Warn("change feed stopped; restarting", "account", a.name, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, watchBackoffMax)
	}
}

func (a *account) applyChanges(ctx context.Context, queue <-chan []remote.Change) {
	for {
		select {
		case <-ctx.Done():
			return
		case cs := <-queue:
			dirs := map[remote.ID]bool{}
			all := false
			for _, c := range cs {
				if c.Dir == "" {
					all = true
				}
				dirs[c.Dir] = true
			}
			if all {
				// Listing every folder a front end knows could be
				// thousands of calls; front-end caches expire
				// within their own timeouts.
				a.meta.InvalidateAll()
				continue
			}
			for id := range dirs {
				a.meta.Invalidate(id)
				a.refreshDir(ctx, id)
			}
		}
	}
}

// refreshDir lists folder dir again if a front end knows it and notifies
// it of every name whose object was added, removed or changed.
func (a *account) refreshDir(ctx context.Context, dir remote.ID) {
	d := a.liveDir(dir)
	if d == nil {
		return
	}
	old := a.lastTable(dir)
	lctx, cancel := context.WithTimeout(ctx, relistTimeout)
	defer cancel()
	cur, err := a.listing(lctx, dir)
	if err != nil {
		a.fsys.log.Warn("listing after change notification failed", "account", a.name, "path", d.Path(), "err", err)
		return
	}
	changed := map[string]bool{}
	if old != nil {
		for i, name := range old.names {
			e, ok := cur.lookup(name)
			if !ok || e.ID != old.entries[i].ID || e.Version.ID != old.entries[i].Version.ID ||
				e.Size != old.entries[i].Size || !e.ModTime.Equal(old.entries[i].ModTime) {
				changed[name] = true
			}
		}
	}
	for _, name := range cur.names {
		if old == nil {
			changed[name] = true
		} else if _, ok := old.lookup(name); !ok {
			changed[name] = true // may be cached as a negative entry
		}
	}
	for name := range changed {
		a.fsys.notifyEntry(d, name)
	}
	for i, e := range cur.entries {
		if !changed[cur.names[i]] || e.Dir {
			continue
		}
		if f, ok := a.node(e.ID).(*File); ok {
			f.update(d, cur.names[i], e)
			a.fsys.notifyFile(f)
		}
	}
}

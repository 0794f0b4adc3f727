package cache

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// DefaultMetaTTL is how long a listing is used before it is fetched again,
// when NewMeta is given a zero TTL.
const DefaultMetaTTL = 30 * time.Second

// metaSweepAt is the number of cached listings above which expired ones are
// dropped, so browsing a huge tree does not grow the cache without bound.
const metaSweepAt = 1 << 16

// Lister is what Meta needs from a backend; remote.Backend satisfies it.
type Lister interface {
	List(ctx context.Context, dir remote.ID) ([]remote.Entry, error)
}

var _ Lister = remote.Backend(nil)

// Meta caches the directory listings of one backend for a TTL. Concurrent
// callers of List for one directory share one fetch. Its methods are safe
// for concurrent use.
//
// Returned slices are shared by all callers and must not be modified.
type Meta struct {
	l   Lister
	ttl time.Duration
	now func() time.Time // replaced in tests

	// store, if set, keeps listings across restarts (see SetStore).
	store ListingStore

	// mu protects the following.
	mu    sync.Mutex
	dirs  map[remote.ID]metaEntry
	calls map[remote.ID]*metaCall // fetches new callers may join
	gen   uint64                  // incremented by InvalidateAll
	// restoredOnce holds the folders already looked up in the store this
	// run: each is restored at most once, at its first use after a start.
	restoredOnce map[remote.ID]bool
}

type metaEntry struct {
	entries []remote.Entry
	fetched time.Time
	// stamp is the folder's stamp (remote.Stamper) taken just before the
	// listing was fetched; "" if none.
	stamp string
	// restored: read from the store at start and not yet fetched again.
	restored bool
}

// ListingStore keeps listings across restarts. Implementations must be
// safe for concurrent use and cheap (local disk); a load that fails or
// finds foreign data reports false.
type ListingStore interface {
	LoadListing(dir remote.ID) (entries []remote.Entry, fetched time.Time, stamp string, ok bool)
	SaveListing(dir remote.ID, entries []remote.Entry, fetched time.Time, stamp string)
	DropListing(dir remote.ID)
}

// SetStore makes listings outlive the process: every listing fetched or
// edited is saved, and after a restart a folder's saved listing is served
// at once on its first use, however old, while a fetch revalidates it in
// the background (stale while revalidate). From then on the usual TTL
// rules hold. Call it before the first List.
func (m *Meta) SetStore(s ListingStore) { m.store = s }

// metaCall is one List call to the backend. Its context is cancelled when
// every caller waiting for it has given up.
type metaCall struct {
	done    chan struct{}
	entries []remote.Entry
	fetched time.Time
	err     error

	// Guarded by Meta.mu.
	waiters int
	cancel  context.CancelFunc
	stale   bool // invalidated while running: its result is not cached
	gen     uint64
}

// NewMeta returns a listing cache over l. A zero ttl means DefaultMetaTTL;
// a negative ttl makes every List fetch (concurrent callers still share).
func NewMeta(l Lister, ttl time.Duration) *Meta {
	if ttl == 0 {
		ttl = DefaultMetaTTL
	}
	return &Meta{
		l:     l,
		ttl:   ttl,
		now:   time.Now,
		dirs:  make(map[remote.ID]metaEntry),
		calls: make(map[remote.ID]*metaCall),

		restoredOnce: make(map[remote.ID]bool),
	}
}

// List returns the listing of dir, fetching it if it is absent or older than
// the TTL. fetched is when the returned listing was requested from the
// backend. Errors are returned as the backend gave them and are not cached.
func (m *Meta) List(ctx context.Context, dir remote.ID) (entries []remote.Entry, fetched time.Time, err error) {
	m.mu.Lock()
	e, ok := m.dirs[dir]
	if !ok && m.store != nil && !m.restoredOnce[dir] {
		m.restoredOnce[dir] = true
		if entries, fetched, stamp, found := m.store.LoadListing(dir); found {
			e, ok = metaEntry{entries: entries, fetched: fetched, stamp: stamp, restored: true}, true
			m.dirs[dir] = e
		}
	}
	if ok && m.fresh(e) {
		m.mu.Unlock()
		return e.entries, e.fetched, nil
	}
	if ok && e.restored {
		// Served at once; the fetch that revalidates it runs for nobody.
		if m.calls[dir] == nil {
			m.startLocked(dir)
		}
		m.mu.Unlock()
		return e.entries, e.fetched, nil
	}
	call := m.calls[dir]
	if call == nil {
		call = m.startLocked(dir)
	}
	call.waiters++
	m.mu.Unlock()

	select {
	case <-call.done:
		return call.entries, call.fetched, call.err
	case <-ctx.Done():
		m.mu.Lock()
		call.waiters--
		if call.waiters == 0 {
			call.cancel()
			if m.calls[dir] == call {
				delete(m.calls, dir)
			}
		}
		m.mu.Unlock()
		return nil, time.Time{}, ctx.Err()
	}
}

func (m *Meta) fresh(e metaEntry) bool {
	return m.ttl > 0 && m.now().Sub(e.fetched) < m.ttl
}

func (m *Meta) startLocked(dir remote.ID) *metaCall {
	ctx, cancel := context.WithCancel(context.Background())
	call := &metaCall{done: make(chan struct{}), cancel: cancel, gen: m.gen}
	m.calls[dir] = call
	old, hadOld := m.dirs[dir]
	go func() {
		defer cancel()
		start := m.now()
		entries, stamp, err := m.fetch(ctx, dir, old, hadOld)
		m.mu.Lock()
		if m.calls[dir] == call {
			delete(m.calls, dir)
		}
		save := err == nil && !call.stale && call.gen == m.gen
		if save {
			m.storeLocked(dir, metaEntry{entries: slices.Clone(entries), fetched: start, stamp: stamp})
		}
		call.entries, call.fetched, call.err = entries, start, err
		close(call.done)
		m.mu.Unlock()
		if save && m.store != nil {
			m.store.SaveListing(dir, entries, start, stamp)
		}
	}()
	return call
}

// fetch lists dir. When the backend can stamp folders (remote.Stamper)
// and an expired listing old carries a stamp, one stamp call revalidates
// it: an unchanged stamp keeps old's entries and costs no page of the
// listing. The stamp is taken before the pages, so a change made while
// they are fetched moves it and shows at the next revalidation.
func (m *Meta) fetch(ctx context.Context, dir remote.ID, old metaEntry, hadOld bool) ([]remote.Entry, string, error) {
	st, stamps := m.l.(remote.Stamper)
	if !stamps || !hadOld {
		// A first listing needs its pages anyway; the stamp is taken at
		// its first revalidation.
		entries, err := m.l.List(ctx, dir)
		return entries, "", err
	}
	stamp, err := st.Stamp(ctx, dir)
	if err != nil {
		stamp = ""
	} else if old.stamp != "" && stamp == old.stamp {
		return old.entries, stamp, nil
	}
	entries, err := m.l.List(ctx, dir)
	return entries, stamp, err
}

func (m *Meta) storeLocked(dir remote.ID, e metaEntry) {
	if len(m.dirs) >= metaSweepAt {
		for d, old := range m.dirs {
			if !m.fresh(old) {
				delete(m.dirs, d)
			}
		}
	}
	m.dirs[dir] = e
}

// Cached returns the cached listing of dir, however old, without fetching.
func (m *Meta) Cached(dir remote.ID) ([]remote.Entry, time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.dirs[dir]
	return e.entries, e.fetched, ok
}

// Invalidate forgets the listing of dir. A fetch of it already running
// still answers its callers but is not cached; later callers fetch anew.
func (m *Meta) Invalidate(dir remote.ID) {
	m.mu.Lock()
	delete(m.dirs, dir)
	m.detachLocked(dir)
	m.restoredOnce[dir] = true // a saved copy is known to be old now
	m.mu.Unlock()
	if m.store != nil {
		m.store.DropListing(dir)
	}
}

// InvalidateAll forgets every listing.
func (m *Meta) InvalidateAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.dirs)
	m.gen++
	for dir := range m.calls {
		m.detachLocked(dir)
	}
}

// Put stores a listing the caller knows to be current (for example after
// creating a file in dir), fetched now.
func (m *Meta) Put(dir remote.ID, entries []remote.Entry) {
	m.mu.Lock()
	m.detachLocked(dir)
	now := m.now()
	m.storeLocked(dir, metaEntry{entries: slices.Clone(entries), fetched: now})
	m.mu.Unlock()
	m.save(dir, entries, now)
}

// save writes a listing edited here to the store, if there is one. It
// carries no stamp: the edit moved the folder's stamp, so the next
// revalidation lists it again.
func (m *Meta) save(dir remote.ID, entries []remote.Entry, fetched time.Time) {
	if m.store != nil {
		m.store.SaveListing(dir, entries, fetched, "")
	}
}

// detachLocked keeps a running fetch of dir from being joined or cached.
func (m *Meta) detachLocked(dir remote.ID) {
	if call := m.calls[dir]; call != nil {
		call.stale = true
		delete(m.calls, dir)
	}
}

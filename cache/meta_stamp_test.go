package cache

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// stampingLister is a fakeLister whose folders carry a stamp that moves
// with its version.
type stampingLister struct {
	*fakeLister
	stamps atomic.Int64
}

func (l *stampingLister) Stamp(ctx context.Context, dir remote.ID) (string, error) {
	l.stamps.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	return "v" + strconv.Itoa(l.version), nil
}

// TestMetaRevalidatesWithStamps: an expired listing whose folder stamp did
// not move is kept at the cost of one stamp call and no List; a moved
// stamp lists again.
func TestMetaRevalidatesWithStamps(t *testing.T) {
	l := &stampingLister{fakeLister: newFakeLister()}
	m, clk := newTestMeta(l, 10*time.Second)
	ctx := context.Background()
	list := func() []remote.Entry {
		t.Helper()
		e, _, err := m.List(ctx, "d")
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	list() // first listing: pages only, no stamp yet
	if l.count("d") != 1 || l.stamps.Load() != 0 {
		t.Fatalf("first listing: %d lists, %d stamps", l.count("d"), l.stamps.Load())
	}
	clk.add(11 * time.Second)
	list() // first revalidation: stamp taken, pages listed
	if l.count("d") != 2 || l.stamps.Load() != 1 {
		t.Fatalf("first revalidation: %d lists, %d stamps", l.count("d"), l.stamps.Load())
	}
	for i := range 3 {
		clk.add(11 * time.Second)
		if _, f, _ := m.List(ctx, "d"); !f.Equal(clk.now()) {
			t.Fatalf("an unchanged folder's listing was not counted as fetched now: %v", f)
		}
		if l.count("d") != 2 || l.stamps.Load() != int64(2+i) {
			t.Fatalf("unchanged folder, round %d: %d lists, %d stamps", i, l.count("d"), l.stamps.Load())
		}
	}
	l.set(func(l *fakeLister) { l.version = 9 })
	clk.add(11 * time.Second)
	if e := list(); e[0].Size != 9 || l.count("d") != 3 {
		t.Fatalf("a moved stamp did not list again: %v, %d lists", e, l.count("d"))
	}
	// A local edit drops the stamp: the next revalidation lists again.
	m.Upsert("d", remote.Entry{ID: "d/new", Name: "new"})
	clk.add(11 * time.Second)
	list()
	if l.count("d") != 4 {
		t.Fatalf("after a local edit: %d lists, want 4", l.count("d"))
	}
}

// memStore is an in-memory ListingStore.
type memStore struct {
	mu sync.Mutex
	m  map[remote.ID][]remote.Entry
}

func (s *memStore) LoadListing(dir remote.ID) ([]remote.Entry, time.Time, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[dir]
	return e, time.Now().Add(-time.Second), "", ok
}
func (s *memStore) SaveListing(dir remote.ID, e []remote.Entry, _ time.Time, _ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[dir] = e
}
func (s *memStore) DropListing(dir remote.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, dir)
}

// TestChangeBeforeFirstUseIsNotHiddenBySavedListing: a change made here to
// a folder not yet listed in this run (an upload resumed after a restart)
// must not be hidden by the listing saved before it.
func TestChangeBeforeFirstUseIsNotHiddenBySavedListing(t *testing.T) {
	l := newFakeLister()
	m, _ := newTestMeta(l, time.Hour)
	store := &memStore{m: map[remote.ID][]remote.Entry{"d": {}}} // saved before: empty
	m.SetStore(store)
	m.Upsert("d", remote.Entry{ID: "d/new", Name: "new"})
	e, _, err := m.List(context.Background(), "d")
	if err != nil {
		t.Fatal(err)
	}
	if len(e) == 0 || l.count("d") != 1 {
		t.Fatalf("the folder was served from a listing older than a change (%v, %d lists)", e, l.count("d"))
	}
}

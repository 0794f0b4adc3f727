package cache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// fakeLister counts List calls per directory; a gate holds them.
type fakeLister struct {
	mu       sync.Mutex
	calls    map[remote.ID]int
	gate     chan struct{}
	err      error
	version  int // changes the listing's content
	canceled atomic.Int64
	started  atomic.Int64
}

func newFakeLister() *fakeLister { return &fakeLister{calls: make(map[remote.ID]int)} }

func (l *fakeLister) List(ctx context.Context, dir remote.ID) ([]remote.Entry, error) {
	l.mu.Lock()
	l.calls[dir]++
	gate, err, ver := l.gate, l.err, l.version
	l.mu.Unlock()
	l.started.Add(1)
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			l.canceled.Add(1)
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	return []remote.Entry{{ID: dir + "/a", Name: "a", Size: int64(ver)}, {ID: dir + "/b", Name: "b", Dir: true}}, nil
}

func (l *fakeLister) count(dir remote.ID) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls[dir]
}

func (l *fakeLister) set(f func(l *fakeLister)) {
	l.mu.Lock()
	f(l)
	l.mu.Unlock()
}

// fakeClock is a settable clock for TTL tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestMeta(l Lister, ttl time.Duration) (*Meta, *fakeClock) {
	m := NewMeta(l, ttl)
	clk := &fakeClock{t: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
	m.now = clk.now
	return m, clk
}

func TestMetaTTL(t *testing.T) {
	l := newFakeLister()
	m, clk := newTestMeta(l, 10*time.Second)
	ctx := context.Background()
	e1, f1, err := m.List(ctx, "d")
	if err != nil || len(e1) != 2 || !f1.Equal(clk.now()) {
		t.Fatalf("List = %v, %v, %v", e1, f1, err)
	}
	clk.add(9 * time.Second)
	if _, f, _ := m.List(ctx, "d"); !f.Equal(f1) || l.count("d") != 1 {
		t.Fatalf("fresh listing refetched (calls %d)", l.count("d"))
	}
	clk.add(time.Second)
	l.set(func(l *fakeLister) { l.version = 7 })
	e2, f2, err := m.List(ctx, "d")
	if err != nil || l.count("d") != 2 || !f2.After(f1) || e2[0].Size != 7 {
		t.Fatalf("expired listing: calls %d, fetched %v, entries %v, err %v", l.count("d"), f2, e2, err)
	}
	if e, f, ok := m.Cached("d"); !ok || !f.Equal(f2) || e[0].Size != 7 {
		t.Fatalf("Cached = %v, %v, %v", e, f, ok)
	}
	if _, _, ok := m.Cached("other"); ok {
		t.Fatal("Cached reported an unlisted directory")
	}
	// Cached never fetches, however old.
	clk.add(time.Hour)
	if _, _, ok := m.Cached("d"); !ok || l.count("d") != 2 {
		t.Fatal("Cached fetched or dropped an old listing")
	}
}

func TestMetaNegativeTTLAlwaysFetches(t *testing.T) {
	l := newFakeLister()
	m, _ := newTestMeta(l, -1)
	for range 3 {
		if _, _, err := m.List(context.Background(), "d"); err != nil {
			t.Fatal(err)
		}
	}
	if n := l.count("d"); n != 3 {
		t.Fatalf("%d calls, want 3", n)
	}
}

func TestMetaSingleflight(t *testing.T) {
	const n = 10
	l := newFakeLister()
	l.gate = make(chan struct{})
	m, _ := newTestMeta(l, time.Minute)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if e, _, err := m.List(context.Background(), "d"); err != nil || len(e) != 2 {
				t.Errorf("List = %v, %v", e, err)
			}
		}()
	}
	eventually(t, "all callers to wait", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		c := m.calls["d"]
		return c != nil && c.waiters == n
	})
	close(l.gate)
	wg.Wait()
	if c := l.count("d"); c != 1 {
		t.Fatalf("%d calls for %d concurrent callers", c, n)
	}
}

func TestMetaErrorsNotCached(t *testing.T) {
	l := newFakeLister()
	denied := remote.Errorf(remote.Permission, "fake.List", "no")
	l.err = denied
	m, _ := newTestMeta(l, time.Minute)
	if _, _, err := m.List(context.Background(), "d"); err != denied {
		t.Fatalf("err = %v, want the lister's error", err)
	}
	if _, _, ok := m.Cached("d"); ok {
		t.Fatal("error cached")
	}
	l.set(func(l *fakeLister) { l.err = nil })
	if _, _, err := m.List(context.Background(), "d"); err != nil || l.count("d") != 2 {
		t.Fatalf("err %v, calls %d", err, l.count("d"))
	}
}

func TestMetaInvalidate(t *testing.T) {
	l := newFakeLister()
	m, _ := newTestMeta(l, time.Minute)
	ctx := context.Background()
	m.List(ctx, "a")
	m.List(ctx, "b")
	m.Invalidate("a")
	if _, _, ok := m.Cached("a"); ok {
		t.Fatal("invalidated listing still cached")
	}
	m.List(ctx, "a")
	m.List(ctx, "b")
	if l.count("a") != 2 || l.count("b") != 1 {
		t.Fatalf("calls a=%d b=%d, want 2 and 1", l.count("a"), l.count("b"))
	}
	m.InvalidateAll()
	m.List(ctx, "a")
	m.List(ctx, "b")
	if l.count("a") != 3 || l.count("b") != 2 {
		t.Fatalf("after InvalidateAll: calls a=%d b=%d, want 3 and 2", l.count("a"), l.count("b"))
	}
}

// TestMetaInvalidateDuringFetch: a listing fetched while it was invalidated
// is returned to its caller but not cached, and later callers fetch anew.
func TestMetaInvalidateDuringFetch(t *testing.T) {
	for _, all := range []bool{false, true} {
		l := newFakeLister()
		gate := make(chan struct{})
		l.gate = gate
		m, _ := newTestMeta(l, time.Minute)
		done := make(chan error)
		go func() {
			_, _, err := m.List(context.Background(), "d")
			done <- err
		}()
		eventually(t, "the fetch", func() bool { return l.started.Load() == 1 })
		if all {
			m.InvalidateAll()
		} else {
			m.Invalidate("d")
		}
		l.set(func(l *fakeLister) { l.gate = nil })
		close(gate)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if _, _, ok := m.Cached("d"); ok {
			t.Fatalf("all=%v: listing fetched across an invalidation was cached", all)
		}
		m.List(context.Background(), "d")
		if l.count("d") != 2 {
			t.Fatalf("all=%v: %d calls, want 2", all, l.count("d"))
		}
	}
}

func TestMetaPut(t *testing.T) {
	l := newFakeLister()
	m, clk := newTestMeta(l, time.Minute)
	entries := []remote.Entry{{ID: "x", Name: "x"}}
	m.Put("d", entries)
	entries[0].Name = "changed by caller"
	e, f, err := m.List(context.Background(), "d")
	if err != nil || l.count("d") != 0 || len(e) != 1 || e[0].Name != "x" || !f.Equal(clk.now()) {
		t.Fatalf("List after Put = %v, %v, %v (calls %d)", e, f, err, l.count("d"))
	}
}

// TestMetaCancel: a caller giving up returns at once; when the last caller
// gives up the fetch is cancelled.
func TestMetaCancel(t *testing.T) {
	l := newFakeLister()
	l.gate = make(chan struct{})
	defer close(l.gate)
	m, _ := newTestMeta(l, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, _, err := m.List(ctx, "d")
		done <- err
	}()
	eventually(t, "the fetch", func() bool { return l.started.Load() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	eventually(t, "the fetch to be cancelled", func() bool { return l.canceled.Load() == 1 })
}

package cache

import (
	"context"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote"
)

func TestMetaUpsertRemove(t *testing.T) {
	l := newFakeLister()
	m, clk := newTestMeta(l, time.Minute)
	ctx := context.Background()
	if m.Upsert("d", remote.Entry{ID: "d/x", Name: "x"}) {
		t.Fatal("Upsert changed an uncached listing")
	}
	before, fetched, _ := m.List(ctx, "d")
	clk.add(10 * time.Second)

	if !m.Upsert("d", remote.Entry{ID: "d/a", Name: "a2"}) || !m.Upsert("d", remote.Entry{ID: "d/c", Name: "c"}) {
		t.Fatal("Upsert did not change the cached listing")
	}
	e, f, _ := m.Cached("d")
	if len(e) != 3 || e[0].Name != "a2" || e[2].Name != "c" || !f.Equal(fetched) {
		t.Fatalf("after Upsert: %v fetched %v", e, f)
	}
	if before[0].Name != "a" || len(before) != 2 {
		t.Fatal("Upsert modified a listing already handed out")
	}
	if !m.Remove("d", "d/b") || m.Remove("d", "d/missing") || m.Remove("other", "x") {
		t.Fatal("Remove reported wrongly")
	}
	e, _, _ = m.Cached("d")
	if len(e) != 2 || e[0].ID != "d/a" || e[1].ID != "d/c" {
		t.Fatalf("after Remove: %v", e)
	}
	if l.count("d") != 1 {
		t.Fatalf("%d fetches, want 1", l.count("d"))
	}
}

// TestMetaUpsertDuringFetch: a listing fetched while the caller changed the
// folder is not cached over the change.
func TestMetaUpsertDuringFetch(t *testing.T) {
	l := newFakeLister()
	m, clk := newTestMeta(l, time.Minute)
	m.List(context.Background(), "d")
	clk.add(2 * time.Minute) // expired: the next List fetches
	gate := make(chan struct{})
	l.set(func(l *fakeLister) { l.gate = gate })
	done := make(chan struct{})
	go func() {
		m.List(context.Background(), "d")
		close(done)
	}()
	eventually(t, "the fetch", func() bool { return l.started.Load() == 2 })
	m.Upsert("d", remote.Entry{ID: "d/new", Name: "new"})
	close(gate)
	<-done
	e, _, _ := m.Cached("d")
	if len(e) != 3 || e[2].ID != "d/new" {
		t.Fatalf("cached listing lost the upserted entry: %v", e)
	}
}

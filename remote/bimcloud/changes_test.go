package bimcloud

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bimcloud/emulator"
)

// watch runs b.Watch until the test ends and hands out its batches.
func watch(t *testing.T, b *Backend) <-chan []remote.Change {
	t.Helper()
	ch := make(chan []remote.Change, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Watch(ctx, func(c []remote.Change) { ch <- c }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch returned %v", err)
		}
	})
	return ch
}

// next waits for the next batch; the bound only stops a broken test.
func next(t *testing.T, ch <-chan []remote.Change) []remote.Change {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no change batch")
		return nil
	}
}

func sameChanges(got, want []remote.Change) bool {
	key := func(a, b remote.Change) int {
		if a.Dir != b.Dir {
			return map[bool]int{true: -1, false: 1}[a.Dir < b.Dir]
		}
		if a.ID != b.ID {
			return map[bool]int{true: -1, false: 1}[a.ID < b.ID]
		}
		return 0
	}
	got, want = slices.Clone(got), slices.Clone(want)
	slices.SortFunc(got, key)
	slices.SortFunc(want, key)
	return slices.Equal(got, want)
}

func TestWatchBatches(t *testing.T) {
	s := newServer(t, emulator.Options{})
	a := s.AddFolder(emulator.RootID, "A")
	sub := s.AddFolder(a, "Sub")
	gone := s.AddFolder(emulator.RootID, "Gone")
	inGone := s.AddBlob(gone, "g.txt", emulator.Bytes([]byte("g")), "")
	f1 := s.AddBlob(a, "f1.txt", emulator.Bytes([]byte("1")), "")
	b, _ := loggedIn(t, s)
	ch := watch(t, b)

	// The first answer (revision 0) is a baseline: everything may be stale.
	if got := next(t, ch); !sameChanges(got, []remote.Change{{}}) {
		t.Fatalf("baseline batch %+v, want one full invalidation", got)
	}

	f2 := s.AddBlob(sub, "f2.txt", emulator.Bytes([]byte("2")), "")
	if got, want := next(t, ch), []remote.Change{{Dir: remote.ID(sub), ID: remote.ID(f2)}}; !sameChanges(got, want) {
		t.Fatalf("create: %+v, want %+v", got, want)
	}

	s.UpdateBlob(f1, emulator.Bytes([]byte("one")))
	top := s.AddBlob(emulator.RootID, "top.txt", emulator.Bytes(nil), "")
	got := next(t, ch)
	for len(got) < 2 { // the two changes may land in separate polls
		got = append(got, next(t, ch)...)
	}
	if want := []remote.Change{{Dir: remote.ID(a), ID: remote.ID(f1)}, {Dir: RootID, ID: remote.ID(top)}}; !sameChanges(got, want) {
		t.Fatalf("update+create: %+v, want %+v", got, want)
	}

	s.DeleteResource(f2)
	if got, want := next(t, ch), []remote.Change{{Dir: remote.ID(sub), ID: remote.ID(f2), Deleted: true}}; !sameChanges(got, want) {
		t.Fatalf("delete: %+v, want %+v", got, want)
	}

	// A blob deleted with its folder: the folder cannot be resolved any
	// more, so everything is invalidated.
	s.DeleteResource(gone)
	if got, want := next(t, ch), []remote.Change{{ID: remote.ID(inGone), Deleted: true}}; !sameChanges(got, want) {
		t.Fatalf("folder delete: %+v, want %+v", got, want)
	}
}

func TestWatchRevisionObsoleted(t *testing.T) {
	s := newServer(t, emulator.Options{})
	a := s.AddFolder(emulator.RootID, "A")
	b, _ := loggedIn(t, s)
	ch := watch(t, b)
	if got := next(t, ch); !sameChanges(got, []remote.Change{{}}) {
		t.Fatalf("baseline %+v", got)
	}
	f := s.AddBlob(a, "f.txt", emulator.Bytes(nil), "")
	if got := next(t, ch); !sameChanges(got, []remote.Change{{Dir: remote.ID(a), ID: remote.ID(f)}}) {
		t.Fatalf("create %+v", got)
	}
	s.ObsoleteRevisions()
	if got := next(t, ch); !sameChanges(got, []remote.Change{{}}) {
		t.Fatalf("after a restore: %+v, want a full invalidation", got)
	}
	// The feed continues from the new baseline.
	g := s.AddBlob(a, "g.txt", emulator.Bytes(nil), "")
	if got := next(t, ch); !sameChanges(got, []remote.Change{{Dir: remote.ID(a), ID: remote.ID(g)}}) {
		t.Fatalf("create after restore %+v", got)
	}
}

// A feed error other than 9 is logged and polling goes on.
func TestWatchSurvivesErrors(t *testing.T) {
	s := newServer(t, emulator.Options{})
	b, _ := loggedIn(t, s)
	s.InjectError("get-blob-changes-for-sync", ManagerAccessDenied, 3)
	ch := watch(t, b)
	if got := next(t, ch); !sameChanges(got, []remote.Change{{}}) {
		t.Fatalf("baseline %+v", got)
	}
	if n := s.Counters()["get-blob-changes-for-sync"]; n < 4 {
		t.Fatalf("%d feed calls, want the 3 failures and a success", n)
	}
}

// watcherOverTwoFolders returns a watcher fed by hand, over a server whose
// root holds the folders A and B, and the IDs of A and B.
func watcherOverTwoFolders(t *testing.T) (w *watcher, a, bdir string) {
	t.Helper()
	s := newServer(t, emulator.Options{})
	a = s.AddFolder(emulator.RootID, "A")
	bdir = s.AddFolder(emulator.RootID, "B")
	b, _ := loggedIn(t, s)
	return &watcher{b: b, rootPath: emulator.RootName, parents: map[string]string{}}, a, bdir
}

// A blob that moves invalidates the folder it left as well as the one it
// entered (the feed gives only the new path).
func TestWatchMoveInvalidatesOldFolder(t *testing.T) {
	w, a, bdir := watcherOverTwoFolders(t)
	w.apply(t.Context(), 0, &changeSet{Created: []changedObject{{ID: "x", Path: "Project Root/A/x.txt"}}})
	got := w.apply(t.Context(), 1, &changeSet{Updated: []changedObject{{ID: "x", Path: "Project Root/B/x.txt"}}})
	want := []remote.Change{{Dir: remote.ID(a), ID: "x", Deleted: true}, {Dir: remote.ID(bdir), ID: "x"}}
	if !sameChanges(got, want) || !got[0].Deleted && !got[1].Deleted {
		t.Fatalf("move: %+v, want %+v", got, want)
	}
}

// While the feed has no revision yet every answer is a full listing; the
// watcher reports the difference.
func TestWatchSnapshotDiff(t *testing.T) {
	w, a, bdir := watcherOverTwoFolders(t)
	w.apply(t.Context(), 0, &changeSet{Created: []changedObject{{ID: "x", Path: "Project Root/A/x"}, {ID: "y", Path: "Project Root/B/y"}}})
	got := w.apply(t.Context(), 0, &changeSet{Created: []changedObject{{ID: "x", Path: "Project Root/B/x"}, {ID: "z", Path: "Project Root/z"}}})
	want := []remote.Change{
		{Dir: remote.ID(a), ID: "x", Deleted: true}, {Dir: remote.ID(bdir), ID: "x"},
		{Dir: remote.ID(bdir), ID: "y", Deleted: true}, {Dir: RootID, ID: "z"},
	}
	if !sameChanges(got, want) {
		t.Fatalf("diff: %+v, want %+v", got, want)
	}
	for _, c := range got {
		if c.Deleted != (c.ID == "y" || (c.ID == "x" && c.Dir == remote.ID(a))) {
			t.Fatalf("wrong Deleted flag in %+v", got)
		}
	}
	if got := w.apply(t.Context(), 0, &changeSet{Created: []changedObject{{ID: "x", Path: "Project Root/B/x"}, {ID: "z", Path: "Project Root/z"}}}); len(got) != 0 {
		t.Fatalf("unchanged listing reported %+v", got)
	}
}

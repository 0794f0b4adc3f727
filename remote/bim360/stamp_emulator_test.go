package bim360

import (
	"context"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bim360/emulator"
)

// TestStampMovesWithEveryChange confirms on the emulator the assumption
// cheap revalidation rests on: a folder's stamp (lastModifiedTimeRollup and
// objectCount) changes exactly when a child is added, changed, renamed or
// deleted, also deeper down, and not otherwise.
func TestStampMovesWithEveryChange(t *testing.T) {
	e, hub, proj, top := treeEnv(t, 77)
	ctx := context.Background()
	dir := mustFolderID(proj, top)
	sub := e.s.AddFolder(proj, top, "sub")
	item := e.s.AddFile(proj, top, "a.txt", emulator.Bytes([]byte("a")))
	stamp := func() string {
		t.Helper()
		s, err := e.b.Stamp(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	last := stamp()
	if again := stamp(); again != last {
		t.Fatalf("an unchanged folder's stamp moved: %q -> %q", last, again)
	}
	for _, change := range []struct {
		what string
		do   func()
	}{
		{"file added", func() { e.s.AddFile(proj, top, "b.txt", emulator.Bytes([]byte("b"))) }},
		{"new version", func() { e.s.AddVersion(proj, item, "a.txt", emulator.Bytes([]byte("a2"))) }},
		{"file renamed", func() {
			if _, err := e.b.Rename(ctx, mustItemID(proj, item), dir, "renamed.txt", ""); err != nil {
				t.Fatal(err)
			}
		}},
		{"file deleted", func() {
			if err := e.b.Remove(ctx, mustItemID(proj, item)); err != nil {
				t.Fatal(err)
			}
		}},
		{"folder added", func() { e.s.AddFolder(proj, top, "new folder") }},
		{"folder renamed", func() {
			if _, err := e.b.Rename(ctx, mustFolderID(proj, sub), dir, "sub renamed", ""); err != nil {
				t.Fatal(err)
			}
		}},
		{"change deeper down", func() { e.s.AddFile(proj, sub, "deep.txt", emulator.Bytes([]byte("d"))) }},
	} {
		time.Sleep(2 * time.Millisecond) // distinct modification times
		change.do()
		now := stamp()
		if now == last {
			t.Errorf("%s: the folder's stamp did not move (%q)", change.what, now)
		}
		last = now
		if again := stamp(); again != last {
			t.Errorf("after %s the stamp moved without a change", change.what)
		}
	}
	// Hubs and projects have no stamp: they are listed again as usual.
	pid, _ := projectID(hub, proj)
	if _, err := e.b.Stamp(ctx, pid); !remote.IsKind(err, remote.Unsupported) {
		t.Errorf("project stamp: %v, want Unsupported", err)
	}
}

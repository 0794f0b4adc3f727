package bimcloud

import (
	"io"
	"testing"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bimcloud/emulator"
)

// The sample tree of `bimfs mount --demo`: the big folder pages, and the
// file on the second model server (two dead URLs first) reads.
func TestDemoTree(t *testing.T) {
	s := newServer(t, emulator.Options{})
	s.Demo()
	b, _ := loggedIn(t, s)
	root, err := b.List(t.Context(), RootID)
	if err != nil {
		t.Fatal(err)
	}
	top := byName(root)
	for _, name := range []string{"Projects", "Big Folder", "Large Files", "Remote Site", "Empty Folder"} {
		if !top[name].Dir {
			t.Fatalf("root lacks folder %q: %+v", name, root)
		}
	}
	big, err := b.List(t.Context(), top["Big Folder"].ID)
	if err != nil || len(big) != emulator.DemoBigFolderFiles {
		t.Fatalf("Big Folder: %d entries, %v", len(big), err)
	}
	empty, err := b.List(t.Context(), top["Empty Folder"].ID)
	if err != nil || len(empty) != 0 {
		t.Fatalf("Empty Folder: %+v, %v", empty, err)
	}
	site, err := b.List(t.Context(), top["Remote Site"].ID)
	if err != nil || len(site) != 1 {
		t.Fatalf("Remote Site: %+v, %v", site, err)
	}
	las := site[0]
	rc, err := b.ReadRange(t.Context(), las.ID, las.Version, 0, las.Size)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc)
	if err != nil {
		t.Fatal(err)
	}
	if n != las.Size {
		t.Fatalf("read %d of %d bytes", n, las.Size)
	}
	var _ remote.Watcher = b
}

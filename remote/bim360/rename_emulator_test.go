package bim360

import (
	"context"
	"testing"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bim360/emulator"
)

func tipBytes(t *testing.T, s *emulator.Server, proj, item string) string {
	t.Helper()
	b, err := s.ReadTip(proj, item)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEmulatorRenameFolder(t *testing.T) {
	e, _, proj, top := treeEnv(t, 41)
	ctx := context.Background()
	a := e.s.AddFolder(proj, top, "a")
	other := e.s.AddFolder(proj, top, "other")
	e.s.AddFile(proj, a, "inside.txt", emulator.Bytes([]byte("i")))
	id := mustFolderID(proj, a)

	ent, err := e.b.Rename(ctx, id, mustFolderID(proj, top), "renamed", "")
	if err != nil {
		t.Fatal(err)
	}
	if ent.ID != id || ent.Name != "renamed" || child(t, e.s, proj, top, "renamed").ID != a {
		t.Errorf("rename: %+v", ent)
	}
	if ent, err = e.b.Rename(ctx, id, mustFolderID(proj, other), "moved", ""); err != nil {
		t.Fatal(err)
	}
	if ent.ID != id || child(t, e.s, proj, other, "moved").ID != a || e.s.FindChild(proj, top, "renamed") != "" {
		t.Errorf("move: %+v; children of other %+v", ent, e.s.Children(proj, other))
	}
	wantCounts(t, e.s, map[string]int64{emulator.OpPatchFolder: 2})

	// Over an empty folder: it is replaced. Over a non-empty one: NotEmpty.
	empty := e.s.AddFolder(proj, top, "empty")
	if _, err := e.b.Rename(ctx, id, mustFolderID(proj, top), "empty", mustFolderID(proj, empty)); err != nil {
		t.Fatal(err)
	}
	if c := child(t, e.s, proj, top, "empty"); c.ID != a {
		t.Errorf("\"empty\" is %s, want the moved folder %s", c.ID, a)
	}
	full := e.s.AddFolder(proj, top, "full")
	e.s.AddFile(proj, full, "x", emulator.Bytes([]byte("x")))
	_, err = e.b.Rename(ctx, id, mustFolderID(proj, top), "full", mustFolderID(proj, full))
	wantKind(t, "over a non-empty folder", err, remote.NotEmpty)

	_, err = e.b.Rename(ctx, mustFolderID(proj, top), mustFolderID(proj, top), "x", "")
	wantKind(t, "top folder", err, remote.Permission)
	_, err = e.b.Rename(ctx, id, mustFolderID(proj, top), "other", "")
	wantKind(t, "taken name", err, remote.Exists)
	_, err = e.b.Rename(ctx, id, mustFolderID(proj, top), "a*b", "")
	wantKind(t, "bad name", err, remote.Invalid)
	_, err = e.b.Rename(ctx, id, id, "x", "")
	wantKind(t, "into itself", err, remote.Invalid)
}

// TestEmulatorRenameFileInPlace: a rename is a new version of the same
// item with the new name; ID, content and history stay.
func TestEmulatorRenameFileInPlace(t *testing.T) {
	e, _, proj, top := treeEnv(t, 42)
	item := e.s.AddFile(proj, top, "a.txt", emulator.Bytes([]byte("content")))
	id := mustItemID(proj, item)
	ent, err := e.b.Rename(context.Background(), id, mustFolderID(proj, top), "b.txt", "")
	if err != nil {
		t.Fatal(err)
	}
	vs := e.s.ItemVersions(proj, item)
	if ent.ID != id || ent.Name != "b.txt" || ent.Size != 7 || len(vs) != 2 || vs[1].Name != "b.txt" || ent.Version.ID != vs[1].ID {
		t.Errorf("entry %+v, versions %+v", ent, vs)
	}
	if got := tipBytes(t, e.s, proj, item); got != "content" {
		t.Errorf("content after rename %q", got)
	}
	wantCounts(t, e.s, map[string]int64{emulator.OpCreateVersion: 1, emulator.OpCreateStorage: 0, emulator.OpS3Put: 0, emulator.OpCreateItem: 0})
	if got, err := readRange(e.b, ent, 0, 100); err != nil || string(got) != "content" {
		t.Errorf("read through the new entry: %q, %v", got, err)
	}
	// Same name: nothing to do.
	e.s.ResetCounters()
	if _, err := e.b.Rename(context.Background(), id, mustFolderID(proj, top), "b.txt", ""); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, e.s, map[string]int64{emulator.OpCreateVersion: 0})
}

// TestEmulatorMoveFile: a move is a copy into the target folder and a
// delete of the source; the file gets a new ID.
func TestEmulatorMoveFile(t *testing.T) {
	e, _, proj, top := treeEnv(t, 43)
	dst := e.s.AddFolder(proj, top, "dst")
	item := e.s.AddFile(proj, top, "a.txt", emulator.Bytes([]byte("moving")))
	ent, err := e.b.Rename(context.Background(), mustItemID(proj, item), mustFolderID(proj, dst), "b.txt", "")
	if err != nil {
		t.Fatal(err)
	}
	c := child(t, e.s, proj, dst, "b.txt")
	if ent.ID != mustItemID(proj, c.ID) || ent.Name != "b.txt" || tipBytes(t, e.s, proj, c.ID) != "moving" {
		t.Errorf("entry %+v, target %+v", ent, c)
	}
	if vs := e.s.ItemVersions(proj, item); !vs[len(vs)-1].Deleted || e.s.FindChild(proj, top, "a.txt") != "" {
		t.Errorf("source still listed: %+v", vs)
	}
	wantCounts(t, e.s, map[string]int64{emulator.OpCreateItem: 1, emulator.OpCreateVersion: 1, emulator.OpS3Put: 0})

	// A taken name in the target: Exists, and the source stays.
	other := e.s.AddFile(proj, top, "c.txt", emulator.Bytes([]byte("c")))
	_, err = e.b.Rename(context.Background(), mustItemID(proj, other), mustFolderID(proj, dst), "b.txt", "")
	wantKind(t, "taken name", err, remote.Exists)
	child(t, e.s, proj, top, "c.txt")
}

// TestEmulatorRenameReplace: the editor pattern, write a temporary file
// and rename it over the original. The original keeps its ID and gains a
// version with the new content; the temporary item is deleted.
func TestEmulatorRenameReplace(t *testing.T) {
	e, _, proj, top := treeEnv(t, 44)
	orig := e.s.AddFile(proj, top, "doc.txt", emulator.Bytes([]byte("old")))
	tmp, err := upload(t, e, proj, top, ".doc.txt.swp", "", []byte("new content"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.s.ResetCounters()
	ent, err := e.b.Rename(context.Background(), tmp.ID, mustFolderID(proj, top), "doc.txt", mustItemID(proj, orig))
	if err != nil {
		t.Fatal(err)
	}
	vs := e.s.ItemVersions(proj, orig)
	if ent.ID != mustItemID(proj, orig) || len(vs) != 2 || vs[1].Name != "doc.txt" || ent.Version.ID != vs[1].ID || ent.Size != 11 {
		t.Errorf("entry %+v, versions %+v", ent, vs)
	}
	if got := tipBytes(t, e.s, proj, orig); got != "new content" {
		t.Errorf("content %q", got)
	}
	if e.s.FindChild(proj, top, ".doc.txt.swp") != "" {
		t.Error("temporary file still listed")
	}
	wantCounts(t, e.s, map[string]int64{emulator.OpCreateVersion: 2, emulator.OpCreateItem: 0, emulator.OpS3Put: 0})
	list, err := e.b.List(context.Background(), mustFolderID(proj, top))
	if err != nil || len(list) != 1 || list[0].ID != ent.ID || list[0].Version.ID != ent.Version.ID {
		t.Errorf("listing after replace: %+v, %v", list, err)
	}

	// Over a locked file: Conflict, and the source stays.
	e.s.LockItem(proj, orig)
	tmp2 := e.s.AddFile(proj, top, "tmp2", emulator.Bytes([]byte("x")))
	_, err = e.b.Rename(context.Background(), mustItemID(proj, tmp2), mustFolderID(proj, top), "doc.txt", mustItemID(proj, orig))
	wantKind(t, "locked target", err, remote.Conflict)
	child(t, e.s, proj, top, "tmp2")
}

func TestEmulatorRenameAcrossProjects(t *testing.T) {
	e, hub, proj, top := treeEnv(t, 45)
	proj2 := e.s.AddProject(hub, "P2")
	top2 := e.s.TopFolder(proj2, "Project Files")
	item := e.s.AddFile(proj, top, "a.txt", emulator.Bytes([]byte("a")))
	src, dst := mustItemID(proj, item), mustFolderID(proj2, top2)
	if e.b.SameSpace(src, dst) || !e.b.SameSpace(src, mustFolderID(proj, top)) {
		t.Error("SameSpace does not follow projects")
	}
	pid, _ := projectID(hub, proj)
	if e.b.SameSpace(pid, mustFolderID(proj, top)) {
		t.Error("SameSpace(project, its folder) = true; projects hold no movable entries")
	}
	_, err := e.b.Rename(context.Background(), src, dst, "a.txt", "")
	wantKind(t, "across projects", err, remote.Unsupported)
	_, err = e.b.Rename(context.Background(), src, pid, "a.txt", "")
	wantKind(t, "into the project root", err, remote.Permission)
}

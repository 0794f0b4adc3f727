package bim360

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bim360/emulator"
)

// treeEnv is fileEnv with the project listed, as the filesystem lists it
// on the way down, so the backend knows the top folders.
func treeEnv(t *testing.T, seed int64) (*env, string, string, string) {
	e := newEnv(t, emulator.Options{Seed: seed})
	hub := e.s.AddHub("H")
	proj := e.s.AddProject(hub, "P")
	top := e.s.TopFolder(proj, "Project Files")
	pid, _ := projectID(hub, proj)
	if _, err := e.b.List(context.Background(), pid); err != nil {
		t.Fatal(err)
	}
	e.s.ResetCounters()
	return e, hub, proj, top
}

func wantKind(t *testing.T, what string, err error, k remote.Kind) {
	t.Helper()
	if !remote.IsKind(err, k) {
		t.Errorf("%s: err %v (kind %v), want %v", what, err, remote.KindOf(err), k)
	}
}

func child(t *testing.T, s *emulator.Server, proj, folder, name string) emulator.Child {
	t.Helper()
	for _, c := range s.Children(proj, folder) {
		if c.Name == name && !c.Hidden {
			return c
		}
	}
	t.Fatalf("no visible %q in the folder", name)
	return emulator.Child{}
}

// TestEmulatorMkdirPostFolders: folders are made with POST folders, the
// form the spec documents for BIM 360.
func TestEmulatorMkdirPostFolders(t *testing.T) {
	e, _, proj, top := treeEnv(t, 31)
	ctx := context.Background()
	for _, name := range []string{"A", "B"} {
		ent, err := e.b.Mkdir(ctx, mustFolderID(proj, top), name)
		if err != nil {
			t.Fatal(err)
		}
		if !ent.Dir || ent.Name != name || ent.ID != mustFolderID(proj, child(t, e.s, proj, top, name).ID) {
			t.Errorf("entry %+v", ent)
		}
	}
	wantCounts(t, e.s, map[string]int64{emulator.OpCommand: 0, emulator.OpCreateFolder: 2})
	_, err := e.b.Mkdir(ctx, mustFolderID(proj, top), "A")
	wantKind(t, "existing name", err, remote.Exists)
}

// TestEmulatorMkdirFallback: a project that refuses POST folders gets the
// CreateFolder command, and the backend remembers it.
func TestEmulatorMkdirFallback(t *testing.T) {
	e, _, proj, top := treeEnv(t, 32)
	e.s.SetProjectPostFolders(proj, false)
	ctx := context.Background()
	a, err := e.b.Mkdir(ctx, mustFolderID(proj, top), "A")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.Mkdir(ctx, a.ID, "B"); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, e.s, map[string]int64{emulator.OpCommand: 2, emulator.OpCreateFolder: 1})
	child(t, e.s, proj, child(t, e.s, proj, top, "A").ID, "B")
	_, err = e.b.Mkdir(ctx, a.ID, "B")
	wantKind(t, "existing name", err, remote.Exists)
}

// TestEmulatorCreateFoldersBatch: one command creates several folders.
func TestEmulatorCreateFoldersBatch(t *testing.T) {
	e, _, proj, top := treeEnv(t, 33)
	sub := e.s.AddFolder(proj, top, "sub")
	fs, err := e.b.API().Commands.CreateFolders(context.Background(), proj, []NewFolder{
		{ParentID: top, Name: "one"}, {ParentID: sub, Name: "two"}, {ParentID: top, Name: "three"},
	})
	if err != nil {
		t.Fatal(err)
	}
	wantCounts(t, e.s, map[string]int64{emulator.OpCommand: 1})
	want := []struct{ parent, name string }{{top, "one"}, {sub, "two"}, {top, "three"}}
	for i, w := range want {
		if c := child(t, e.s, proj, w.parent, w.name); fs[i].ID != c.ID || fs[i].Attributes.Name != w.name {
			t.Errorf("folder %d: %+v, want %s %q", i, fs[i], c.ID, w.name)
		}
	}
}

func TestEmulatorMkdirRefused(t *testing.T) {
	e, hub, proj, top := treeEnv(t, 34)
	ro := e.s.AddFolder(proj, top, "ro")
	e.s.SetFolderReadOnly(proj, ro)
	ctx := context.Background()
	pid, _ := projectID(hub, proj)
	hid, _ := hubID(hub)
	if _, err := e.b.Mkdir(ctx, mustFolderID(proj, ro), "x"); !remote.IsKind(err, remote.Permission) || !strings.Contains(err.Error(), "permission") {
		t.Errorf("read-only folder: %v", err)
	}
	wantKind(t, "project root", func() error { _, err := e.b.Mkdir(ctx, pid, "x"); return err }(), remote.Permission)
	wantKind(t, "hub", func() error { _, err := e.b.Mkdir(ctx, hid, "x"); return err }(), remote.Permission)
	wantKind(t, "account", func() error { _, err := e.b.Mkdir(ctx, rootID, "x"); return err }(), remote.Permission)
	e.s.ResetCounters()
	for _, name := range []string{"", "a<b", "a>b", "a:b", `a"b`, "a/b", `a\b`, "a|b", "a?b", "a*b", "a`b",
		"a\nb", "a\rb", "a\tb", "a\x00b", "a\fb", strings.Repeat("é", 256)} {
		_, err := e.b.Mkdir(ctx, mustFolderID(proj, top), name)
		wantKind(t, "name "+name, err, remote.Invalid)
		if e.b.CheckName(name) == nil {
			t.Errorf("CheckName(%q) accepts what Mkdir refuses", name)
		}
	}
	// Characters the spec says to avoid but the service accepts: real names
	// carry them ("Owner's Manual.pdf").
	for _, name := range []string{strings.Repeat("é", 255), "Owner's Manual", "Budget $", "a¢b™c®"} {
		if _, err := e.b.Mkdir(ctx, mustFolderID(proj, top), name); err != nil {
			t.Errorf("%q: %v", name, err)
		}
	}
	wantCounts(t, e.s, map[string]int64{emulator.OpCreateFolder: 4}) // only the valid names were sent
}

// TestEmulatorMkdirDepth: folders nest 25 levels (top folders are level
// 1); the 26th is refused without a request once the levels are known.
func TestEmulatorMkdirDepth(t *testing.T) {
	e, _, proj, top := treeEnv(t, 35)
	ctx := context.Background()
	parent := mustFolderID(proj, top)
	for level := 2; level <= MaxFolderDepth; level++ {
		ent, err := e.b.Mkdir(ctx, parent, "d")
		if err != nil {
			t.Fatalf("level %d: %v", level, err)
		}
		parent = ent.ID
	}
	e.s.ResetCounters()
	_, err := e.b.Mkdir(ctx, parent, "d")
	wantKind(t, "level 26", err, remote.Invalid)
	wantCounts(t, e.s, map[string]int64{emulator.OpCommand: 0})
	// Without known levels the service refuses it the same way.
	e.b.tree.forgetDepths()
	_, err = e.b.Mkdir(ctx, parent, "d")
	wantKind(t, "level 26, unknown levels", err, remote.Invalid)
}

func TestEmulatorRemove(t *testing.T) {
	e, hub, proj, top := treeEnv(t, 36)
	ctx := context.Background()
	item := e.s.AddFile(proj, top, "a.txt", emulator.Bytes([]byte("a")))
	empty := e.s.AddFolder(proj, top, "empty")
	full := e.s.AddFolder(proj, top, "full")
	e.s.AddFile(proj, full, "b.txt", emulator.Bytes([]byte("b")))
	hidden := e.s.AddFolder(proj, full, "was here")
	e.s.HideFolder(proj, hidden)
	gone := e.s.AddFolder(proj, top, "only deleted files")
	e.s.DeleteItem(proj, e.s.AddFile(proj, gone, "c.txt", emulator.Bytes([]byte("c"))))
	locked := e.s.AddFile(proj, top, "locked.txt", emulator.Bytes([]byte("l")))
	e.s.LockItem(proj, locked)

	if err := e.b.Remove(ctx, mustItemID(proj, item)); err != nil {
		t.Fatal(err)
	}
	if vs := e.s.ItemVersions(proj, item); len(vs) != 2 || !vs[1].Deleted {
		t.Errorf("versions after delete: %+v", vs)
	}
	wantKind(t, "deleted twice", e.b.Remove(ctx, mustItemID(proj, item)), remote.NotFound)
	for _, f := range []string{empty, gone} {
		if err := e.b.Remove(ctx, mustFolderID(proj, f)); err != nil {
			t.Fatal(err)
		}
	}
	e.s.ResetCounters()
	wantKind(t, "non-empty folder", e.b.Remove(ctx, mustFolderID(proj, full)), remote.NotEmpty)
	wantCounts(t, e.s, map[string]int64{emulator.OpPatchFolder: 0})
	wantKind(t, "top folder", e.b.Remove(ctx, mustFolderID(proj, top)), remote.Permission)
	pid, _ := projectID(hub, proj)
	wantKind(t, "project", e.b.Remove(ctx, pid), remote.Permission)
	wantKind(t, "locked file", e.b.Remove(ctx, mustItemID(proj, locked)), remote.Conflict)

	var visible []string
	for _, c := range e.s.Children(proj, top) {
		if !c.Hidden {
			visible = append(visible, c.Name)
		}
	}
	if strings.Join(visible, ",") != "full,locked.txt" {
		t.Errorf("visible after removes: %q", visible)
	}
}

// TestEmulatorRemoveTopFolderUnlisted: a top folder the backend has not
// seen listed is recognised through its parent (the project root).
func TestEmulatorRemoveTopFolderUnlisted(t *testing.T) {
	e, _, proj, top := treeEnv(t, 37)
	e.b.tree.forgetDepths()
	wantKind(t, "top folder", e.b.Remove(context.Background(), mustFolderID(proj, top)), remote.Permission)
	wantCounts(t, e.s, map[string]int64{emulator.OpPatchFolder: 0, emulator.OpFolder: 2})
	// The root is remembered now: the next refusal costs no call.
	e.b.tree.forgetDepths()
	e.s.ResetCounters()
	wantKind(t, "top folder again", e.b.Remove(context.Background(), mustFolderID(proj, top)), remote.Permission)
	wantCounts(t, e.s, map[string]int64{emulator.OpPatchFolder: 0, emulator.OpFolder: 1})
}

// TestRemoveSendsNameInEveryMode: rm works against a spec-strict service
// (which refuses a Deleted version without attributes.name) and against one
// that also takes the tutorial's form; the Deleted version carries the
// file's name either way.
func TestRemoveSendsNameInEveryMode(t *testing.T) {
	for _, demo := range []bool{false, true} {
		e, proj, top := fileEnv(t, emulator.Options{AcceptDemoForms: demo})
		item := e.s.AddFile(proj, top, "Owner's Manual.pdf", emulator.Bytes([]byte("m")))
		if err := e.b.Remove(context.Background(), mustItemID(proj, item)); err != nil {
			t.Fatalf("demo forms %v: %v", demo, err)
		}
		vs := e.s.ItemVersions(proj, item)
		if len(vs) != 2 || !vs[1].Deleted {
			t.Fatalf("demo forms %v: versions after delete: %+v", demo, vs)
		}
	}
}

// TestRefusedVersionExplained: a new version the service refuses because
// the file is locked fails the upload with Conflict and a log line that
// says why.
func TestRefusedVersionExplained(t *testing.T) {
	e, proj, top := fileEnv(t, emulator.Options{})
	item := e.s.AddFile(proj, top, "a.txt", emulator.Bytes([]byte("a")))
	e.s.LockItem(proj, item)
	data := []byte("edited")
	_, err := e.b.Upload(context.Background(), remote.UploadRequest{Parent: mustFolderID(proj, top), Name: "a.txt",
		Existing: mustItemID(proj, item), Size: int64(len(data)), Content: bytes.NewReader(data)})
	if !remote.IsKind(err, remote.Conflict) {
		t.Fatalf("err %v, want Conflict", err)
	}
	if !strings.Contains(e.logs.String(), "the service refused the new version") {
		t.Fatalf("no explanation in the log:\n%s", e.logs.String())
	}
}

package remotetest

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/bimfs/bimfs/remote"
)

func upload(t *testing.T, m *Memory, parent, existing remote.ID, name, data string) (remote.Entry, error) {
	t.Helper()
	var progress []int64
	e, err := m.Upload(context.Background(), remote.UploadRequest{
		Parent: parent, Name: name, Existing: existing, Size: int64(len(data)),
		Content:  strings.NewReader(data),
		Progress: func(done int64) { progress = append(progress, done) },
	})
	if err == nil && len(data) > 0 && (len(progress) == 0 || progress[len(progress)-1] != int64(len(data))) {
		t.Errorf("progress %v does not end at %d", progress, len(data))
	}
	return e, err
}

func TestMemoryUploadVersions(t *testing.T) {
	m := NewMemory()
	dir := m.MkdirAll("p/f")
	e1, err := upload(t, m, dir, "", "a.txt", "one")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := upload(t, m, dir, "", "a.txt", "again"); !remote.IsKind(err, remote.Exists) {
		t.Fatalf("second new file of one name: %v, want Exists", err)
	}
	e2, err := upload(t, m, dir, e1.ID, "a.txt", "two!")
	if err != nil {
		t.Fatal(err)
	}
	if e2.ID != e1.ID || e2.Version.ID == e1.Version.ID || e2.Version.Number != 2 || e2.Size != 4 {
		t.Fatalf("new version %+v after %+v", e2, e1)
	}
	if got, _ := m.Content("p/f/a.txt"); string(got) != "two!" {
		t.Fatalf("content %q", got)
	}
	if vs := m.Versions(e1.ID); len(vs) != 2 {
		t.Fatalf("versions %v", vs)
	}
	// The old version stays readable.
	rc, err := m.ReadRange(context.Background(), e1.ID, e1.Version, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(rc)
	if b.String() != "one" {
		t.Fatalf("old version reads %q", b.String())
	}
	if n := m.Calls(OpUpload); n != 3 {
		t.Fatalf("%d upload calls counted", n)
	}
	if _, err := upload(t, m, dir, "nope", "a.txt", "x"); !remote.IsKind(err, remote.NotFound) {
		t.Fatalf("upload to a missing file: %v", err)
	}
}

func TestMemoryMkdirRemoveRules(t *testing.T) {
	m := NewMemory()
	dir := m.MkdirAll("p")
	m.SetNameRule(func(name string) string {
		if strings.ContainsAny(name, ":*?") {
			return `names may not contain : * ?`
		}
		return ""
	})
	ctx := context.Background()
	d, err := m.Mkdir(ctx, dir, "sub")
	if err != nil || !d.Dir {
		t.Fatalf("mkdir: %+v %v", d, err)
	}
	if _, err := m.Mkdir(ctx, dir, "sub"); !remote.IsKind(err, remote.Exists) {
		t.Fatalf("mkdir twice: %v", err)
	}
	if _, err := m.Mkdir(ctx, dir, "a:b"); !remote.IsKind(err, remote.Invalid) || !strings.Contains(err.Error(), "may not contain") {
		t.Fatalf("mkdir bad name: %v", err)
	}
	if _, err := upload(t, m, d.ID, "", "f", "x"); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove(ctx, d.ID); !remote.IsKind(err, remote.NotEmpty) {
		t.Fatalf("remove non-empty folder: %v", err)
	}
	f, _ := m.Lookup("p/sub/f")
	if err := m.Remove(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if names := m.Names("p"); len(names) != 0 {
		t.Fatalf("left %v", names)
	}
	m.SetReadOnly(dir, true)
	if _, err := m.Mkdir(ctx, dir, "x"); !remote.IsKind(err, remote.Permission) {
		t.Fatalf("mkdir in read-only folder: %v", err)
	}
}

func TestMemoryRenameReplaceAndSpaces(t *testing.T) {
	m := NewMemory()
	ctx := context.Background()
	p1 := m.MkdirAll("hub/p1")
	p2 := m.MkdirAll("hub/p2")
	m.SetSpace(p1)
	m.SetSpace(p2)
	orig := m.AddFile("hub/p1/doc.txt", []byte("v1"))
	tmp := m.AddFile("hub/p1/.doc.txt.tmp", []byte("v2"))
	if !m.SameSpace(orig.ID, p1) || m.SameSpace(p1, p2) {
		t.Fatal("SameSpace does not follow SetSpace")
	}
	if _, err := m.Rename(ctx, tmp.ID, p1, "doc.txt", ""); !remote.IsKind(err, remote.Exists) {
		t.Fatalf("rename onto a taken name without replace: %v", err)
	}
	e, err := m.Rename(ctx, tmp.ID, p1, "doc.txt", orig.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != orig.ID || e.Version.Number != 2 {
		t.Fatalf("replace returned %+v", e)
	}
	if names := m.Names("hub/p1"); !slices.Equal(names, []string{"doc.txt"}) {
		t.Fatalf("names after replace %v", names)
	}
	if got, _ := m.Content("hub/p1/doc.txt"); string(got) != "v2" {
		t.Fatalf("content %q", got)
	}
	if _, err := m.Rename(ctx, orig.ID, p2, "doc.txt", ""); !remote.IsKind(err, remote.Unsupported) {
		t.Fatalf("move across spaces: %v", err)
	}
	sub := m.MkdirAll("hub/p1/sub")
	if _, err := m.Rename(ctx, p1, sub, "x", ""); !remote.IsKind(err, remote.Invalid) && !remote.IsKind(err, remote.Unsupported) {
		t.Fatalf("move into itself: %v", err)
	}
	moved, err := m.Rename(ctx, orig.ID, sub, "moved.txt", "")
	if err != nil || moved.ID != orig.ID || moved.Name != "moved.txt" {
		t.Fatalf("move: %+v %v", moved, err)
	}
	if _, ok := m.Lookup("hub/p1/sub/moved.txt"); !ok {
		t.Fatal("moved file not found")
	}
}

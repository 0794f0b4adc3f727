package bimcloud

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bimcloud/emulator"
	"github.com/bimfs/bimfs/remote/bimcloud/emulator/contract"
)

// writable logs in to s with every exchange checked against the spec.
// Against a spec-strict server every request must be in the spec's form;
// otherwise demo-style requests are rewritten to the spec's variant first.
func writable(t *testing.T, s *emulator.Server, edit func(*Config)) *Backend {
	t.Helper()
	cfg, _ := testConfig(t, s)
	checker := contract.New(t, s.URL)
	if o := s.Options(); !o.AcceptDemoForms && !o.RefuseSpecForms {
		checker.RequireSpecForms()
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	cfg.HTTP = &http.Client{Transport: checker.Transport(tr)}
	if edit != nil {
		edit(&cfg)
	}
	if err := LoginPassword(t.Context(), cfg, emulator.DefaultUser, emulator.DefaultPassword); err != nil {
		t.Fatalf("LoginPassword: %v", err)
	}
	b, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		b.Close()
		t.Logf("contract: %d exchanges validated", checker.Validated())
	})
	return b
}

func TestFeaturesWritable(t *testing.T) {
	s := newServer(t, emulator.Options{})
	b, _ := loggedIn(t, s)
	if !b.Features().Writable || !b.SameSpace("a", "b") {
		t.Fatalf("Features %+v", b.Features())
	}
}

func TestMkdir(t *testing.T) {
	s := newServer(t, emulator.Options{})
	b := writable(t, s, nil)
	ctx := t.Context()

	e, err := b.Mkdir(ctx, RootID, "folder2")
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := s.Lookup("Project Root/folder2"); e.ID != remote.ID(id) || !e.Dir || e.Name != "folder2" || e.ModTime.IsZero() {
		t.Fatalf("Mkdir = %+v (tree id %s)", e, id)
	}
	sub, err := b.Mkdir(ctx, e.ID, "Ünïcødé sub")
	if err != nil || stat(t, b, string(sub.ID)).Name != "Ünïcødé sub" {
		t.Fatalf("nested Mkdir = %+v, %v", sub, err)
	}
	s.AddBlob(string(e.ID), "file.txt", emulator.Bytes(nil), "")

	before := s.Counters()["insert-resource-group"]
	for _, tc := range []struct {
		name   string
		parent remote.ID
		dir    string
		kind   remote.Kind
	}{
		{"folder exists", RootID, "folder2", remote.Exists},
		{"file of that name", e.ID, "file.txt", remote.Exists},
		{"unknown parent", "00000000-0000-4000-8000-000000000000", "x", remote.NotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.Mkdir(ctx, tc.parent, tc.dir)
			mustKind(t, err, tc.kind)
		})
	}
	// Names the spec's pattern forbids never reach the Manager.
	for _, name := range []string{"a:b", "a/b", `q"`, "", ".."} {
		_, err := b.Mkdir(ctx, RootID, name)
		mustKind(t, err, remote.Invalid)
		if name != "" && name != ".." && !strings.Contains(err.Error(), "does not allow") {
			t.Fatalf("error %v does not name the rule", err)
		}
	}
	if n := s.Counters()["insert-resource-group"] - before; n != 3 {
		t.Fatalf("%d insert-resource-group calls, want 3", n)
	}
	// The Manager's own validation (error 7) is Invalid too.
	s.InjectError("insert-resource-group", 7, 1)
	_, err = b.Mkdir(ctx, RootID, "fine")
	mustKind(t, err, remote.Invalid)
}

func TestRenameAndMove(t *testing.T) {
	s := newServer(t, emulator.Options{})
	b := writable(t, s, nil)
	ctx := t.Context()
	a := s.AddFolder(emulator.RootID, "A")
	c := s.AddFolder(emulator.RootID, "C")
	f := s.AddBlob(a, "text1.txt", emulator.Bytes([]byte("one")), "")
	before := stat(t, b, f)

	// Rename in place: same ID and version.
	e, err := b.Rename(ctx, remote.ID(f), remote.ID(a), "text1_rename.txt", "")
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != remote.ID(f) || e.Name != "text1_rename.txt" || e.Version != before.Version {
		t.Fatalf("renamed entry %+v, before %+v", e, before)
	}
	// Move only.
	if e, err = b.Rename(ctx, remote.ID(f), remote.ID(c), "text1_rename.txt", ""); err != nil {
		t.Fatal(err)
	}
	if info, _ := s.Blob(f); info.ParentID != c || e.ID != remote.ID(f) {
		t.Fatalf("moved: %+v", info)
	}
	// Move and rename together.
	if _, err = b.Rename(ctx, remote.ID(f), remote.ID(a), "both.txt", ""); err != nil {
		t.Fatal(err)
	}
	if info, _ := s.Blob(f); info.Path != "Project Root/A/both.txt" {
		t.Fatalf("moved and renamed: %+v", info)
	}
	// The old name is taken in the target folder: rename runs first.
	s.AddBlob(c, "both.txt", emulator.Bytes(nil), "")
	if _, err = b.Rename(ctx, remote.ID(f), remote.ID(c), "third.txt", ""); err != nil {
		t.Fatal(err)
	}
	if info, _ := s.Blob(f); info.Path != "Project Root/C/third.txt" {
		t.Fatalf("rename-first move: %+v", info)
	}
	// The new name is taken and nothing is to be replaced.
	_, err = b.Rename(ctx, remote.ID(f), remote.ID(c), "both.txt", "")
	mustKind(t, err, remote.Exists)
	// A failed second step is undone.
	s.InjectError("update-blob", 3, 1)
	_, err = b.Rename(ctx, remote.ID(f), remote.ID(a), "fourth.txt", "")
	mustKind(t, err, remote.Permission)
	if info, _ := s.Blob(f); info.Path != "Project Root/C/third.txt" {
		t.Fatalf("after a failed move+rename: %+v", info)
	}
	_, err = b.Rename(ctx, remote.ID(f), remote.ID(c), "bad|name", "")
	mustKind(t, err, remote.Invalid)

	// Folders cannot be renamed or moved: the API has no call for it.
	_, err = b.Rename(ctx, remote.ID(a), RootID, "A2", "")
	mustKind(t, err, remote.Unsupported)
	_, err = b.Rename(ctx, remote.ID(a), remote.ID(c), "A", "")
	mustKind(t, err, remote.Unsupported)
	if e, err := b.Rename(ctx, remote.ID(a), RootID, "A", ""); err != nil || e.ID != remote.ID(a) {
		t.Fatalf("no-op folder rename: %+v, %v", e, err)
	}
}

func TestRenameReplace(t *testing.T) {
	s := newServer(t, emulator.Options{})
	b := writable(t, s, nil)
	ctx := t.Context()
	dir := s.AddFolder(emulator.RootID, "D")
	other := s.AddFolder(emulator.RootID, "O")
	src := s.AddBlob(other, "doc.tmp", emulator.Bytes([]byte("new content")), "")
	dst := s.AddBlob(dir, "doc.txt", emulator.Bytes([]byte("old")), "")

	e, err := b.Rename(ctx, remote.ID(src), remote.ID(dir), "doc.txt", remote.ID(dst))
	if err != nil {
		t.Fatal(err)
	}
	// The source keeps its identity; the replaced file is gone entirely.
	if e.ID != remote.ID(src) || e.Name != "doc.txt" || e.Size != int64(len("new content")) {
		t.Fatalf("entry %+v", e)
	}
	if _, ok := s.Blob(dst); ok {
		t.Fatal("replaced file still exists")
	}
	es, err := b.List(ctx, remote.ID(dir))
	if err != nil || len(es) != 1 || es[0].ID != remote.ID(src) {
		t.Fatalf("folder after replace: %+v, %v", es, err)
	}
	if got, err := readAll(t, b, src, e.Version, 0, 100); err != nil || string(got) != "new content" {
		t.Fatalf("read after replace: %q, %v", got, err)
	}

	// A failed move puts the file to be replaced back under its name.
	src2 := s.AddBlob(other, "doc2.tmp", emulator.Bytes([]byte("x")), "")
	s.InjectError("update-blob-parent", 3, 1)
	_, err = b.Rename(ctx, remote.ID(src2), remote.ID(dir), "doc.txt", remote.ID(src))
	mustKind(t, err, remote.Permission)
	if info, ok := s.Blob(src); !ok || info.Path != "Project Root/D/doc.txt" {
		t.Fatalf("file to be replaced after a failed rename: %+v %v", info, ok)
	}
	if info, _ := s.Blob(src2); info.Path != "Project Root/O/doc2.tmp" {
		t.Fatalf("source after a failed rename: %+v", info)
	}
	// replace must be what newName names.
	_, err = b.Rename(ctx, remote.ID(src2), remote.ID(dir), "other.txt", remote.ID(src))
	mustKind(t, err, remote.Conflict)
	// A replace target that vanished meanwhile: a plain rename.
	gone := s.AddBlob(dir, "gone.txt", emulator.Bytes(nil), "")
	s.DeleteResource(gone)
	if e, err = b.Rename(ctx, remote.ID(src2), remote.ID(dir), "gone.txt", remote.ID(gone)); err != nil || e.Name != "gone.txt" {
		t.Fatalf("rename over a vanished file: %+v, %v", e, err)
	}
}

func TestRemove(t *testing.T) {
	s := newServer(t, emulator.Options{})
	b := writable(t, s, nil)
	ctx := t.Context()
	full := s.AddFolder(emulator.RootID, "full")
	f := s.AddBlob(full, "a.txt", emulator.Bytes([]byte("a")), "")
	empty := s.AddFolder(emulator.RootID, "empty")

	mustKind(t, b.Remove(ctx, remote.ID(full)), remote.NotEmpty)
	// Whatever code the Manager picks for a non-empty folder, it is NotEmpty.
	s.InjectError("delete-resource-group", 7, 1)
	mustKind(t, b.Remove(ctx, remote.ID(full)), remote.NotEmpty)
	// Error 15 on a folder without children is a prohibition.
	s.InjectError("delete-resource-group", 15, 1)
	mustKind(t, b.Remove(ctx, remote.ID(empty)), remote.Permission)
	mustKind(t, b.Remove(ctx, RootID), remote.Permission)

	if err := b.Remove(ctx, remote.ID(f)); err != nil {
		t.Fatal(err)
	}
	if err := b.Remove(ctx, remote.ID(full)); err != nil {
		t.Fatal(err)
	}
	if err := b.Remove(ctx, remote.ID(empty)); err != nil {
		t.Fatal(err)
	}
	mustKind(t, b.Remove(ctx, remote.ID(f)), remote.NotFound)
	es, err := b.List(ctx, RootID)
	if err != nil || len(es) != 0 {
		t.Fatalf("root after removes: %+v, %v", es, err)
	}
}

func TestRemoveAll(t *testing.T) {
	s := newServer(t, emulator.Options{JobDuration: time.Hour})
	b := writable(t, s, func(c *Config) { c.JobPollInterval = time.Millisecond })
	ctx := t.Context()
	root := s.AddFolder(emulator.RootID, "example_root")
	sub := s.AddFolder(root, "example_sub1")
	s.AddFolder(sub, "example_sub1_sub1")
	s.AddBlob(sub, "f.bin", emulator.Synthetic(1, 100), "")

	if err := b.RemoveAll(ctx, remote.ID(root)); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Lookup("Project Root/example_root"); ok {
		t.Fatal("tree still there")
	}
	if n := s.Counters()["get-job"]; n != 2 {
		t.Fatalf("%d get-job polls, want 2 (running, completed)", n)
	}
	mustKind(t, b.RemoveAll(ctx, remote.ID(root)), remote.NotFound)
	mustKind(t, b.RemoveAll(ctx, RootID), remote.Permission)

	// A job that fails reports the job's error code.
	x := s.AddBlob(emulator.RootID, "x", emulator.Bytes(nil), "")
	s.InjectError("get-job", 6, 1) // the job "vanished", but x is still there
	err := b.RemoveAll(ctx, remote.ID(x))
	mustKind(t, err, remote.Unavailable)

	// Cancelling the caller aborts the job; nothing is deleted.
	keep := s.AddFolder(emulator.RootID, "keep")
	slow := writable(t, s, func(c *Config) { c.JobPollInterval = time.Hour })
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		for s.Counters()["delete-resources-by-id-list"] < 4 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	mustKind(t, slow.RemoveAll(cctx, remote.ID(keep)), remote.Canceled)
	if s.Counters()["abort-job"] != 1 {
		t.Fatalf("abort-job calls: %d", s.Counters()["abort-job"])
	}
	if _, ok := s.Lookup("Project Root/keep"); !ok {
		t.Fatal("aborted delete removed the folder")
	}
}

// bytesAt is an io.ReaderAt over b that calls hook before each read.
type bytesAt struct {
	r    *bytes.Reader
	hook func(off int64)
}

func (b *bytesAt) ReadAt(p []byte, off int64) (int, error) {
	if b.hook != nil {
		b.hook(off)
	}
	return b.r.ReadAt(p, off)
}

func content(data []byte) *bytesAt { return &bytesAt{r: bytes.NewReader(data)} }

// TestWritesUnder503 runs the write path while the emulator answers a
// share of all requests with 503: every call is retried and succeeds.
func TestWritesUnder503(t *testing.T) {
	s := newServer(t, emulator.Options{Rate503: 0.15, Seed: 7})
	b := writable(t, s, func(c *Config) { c.MaxAttempts = 12; c.PartSize = 64 })
	ctx := t.Context()
	dir, err := b.Mkdir(ctx, RootID, "faulty")
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789"), 100)
	e, err := b.Upload(ctx, remote.UploadRequest{Parent: dir.ID, Name: "f.txt", Size: int64(len(data)), Content: content(data)})
	if err != nil {
		t.Fatal(err)
	}
	if e, err = b.Rename(ctx, e.ID, RootID, "g.txt", ""); err != nil {
		t.Fatal(err)
	}
	if info, _ := s.Blob(string(e.ID)); info.Path != "Project Root/g.txt" {
		t.Fatalf("after rename %+v", info)
	}
	if err := b.Remove(ctx, dir.ID); err != nil {
		t.Fatal(err)
	}
	if s.Counters()["fault.503"] == 0 {
		t.Fatal("no 503 was injected; the test proves nothing")
	}
}

// TestWatchSeesWrites: the backend's own uploads, moves and deletes come
// back through the change feed as changes of the right folders.
func TestWatchSeesWrites(t *testing.T) {
	s := newServer(t, emulator.Options{})
	a := remote.ID(s.AddFolder(emulator.RootID, "A"))
	c := remote.ID(s.AddFolder(emulator.RootID, "C"))
	b, _ := loggedIn(t, s)
	ch := watch(t, b)
	if got := next(t, ch); !sameChanges(got, []remote.Change{{}}) {
		t.Fatalf("first batch %+v", got)
	}
	ctx := t.Context()
	e, err := b.Upload(ctx, remote.UploadRequest{Parent: a, Name: "f.txt", Size: 1, Content: content([]byte("x"))})
	if err != nil {
		t.Fatal(err)
	}
	if got := next(t, ch); !sameChanges(got, []remote.Change{{Dir: a, ID: e.ID}}) {
		t.Fatalf("after upload %+v", got)
	}
	if _, err := b.Rename(ctx, e.ID, c, "f.txt", ""); err != nil { // one feed entry
		t.Fatal(err)
	}
	if got := next(t, ch); !sameChanges(got, []remote.Change{{Dir: a, ID: e.ID, Deleted: true}, {Dir: c, ID: e.ID}}) {
		t.Fatalf("after move %+v", got)
	}
	if err := b.Remove(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
	if got := next(t, ch); !sameChanges(got, []remote.Change{{Dir: c, ID: e.ID, Deleted: true}}) {
		t.Fatalf("after remove %+v", got)
	}
}

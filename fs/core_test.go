package fs_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bimfs/bimfs/cache"
	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/remotetest"
)

// These tests drive the core the way front ends do, with no kernel and
// no root: the semantics live here, the FUSE tests only check translation.

const pf = "Hub/Project/Files"

func newCore(t *testing.T, async bool, accounts ...fs.Account) *fs.FS {
	t.Helper()
	c, err := cache.New(cache.Options{Dir: t.TempDir(), MemoryBytes: 16 << 20, DiskBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	core, err := fs.New(accounts, fs.Options{Cache: c, StagingDir: t.TempDir(), AsyncWriteback: async, UploadRetry: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(core.Close)
	return core
}

func newMem(files map[string]string) *remotetest.Memory {
	m := remotetest.NewMemory()
	m.MkdirAll(pf)
	for p, data := range files {
		m.AddFile(p, []byte(data))
	}
	m.SetWritable(true)
	return m
}

// walk resolves a slash-separated path from the root.
func walk(t *testing.T, core *fs.FS, path string) fs.Node {
	t.Helper()
	var n fs.Node = core.Root()
	for _, name := range strings.Split(path, "/") {
		d, ok := n.(*fs.Dir)
		if !ok {
			t.Fatalf("%s: %s is not a folder", path, n.Path())
		}
		c, err := d.Lookup(context.Background(), name)
		if err != nil {
			t.Fatalf("lookup %s in %s: %v", name, path, err)
		}
		n = c
	}
	return n
}

func dir(t *testing.T, core *fs.FS, path string) *fs.Dir { return walk(t, core, path).(*fs.Dir) }

var (
	wronly = fs.OpenFlags{Write: true}
	trunc  = fs.OpenFlags{Write: true, Trunc: true}
)

func write(t *testing.T, h *fs.Handle, data string, off int64) {
	t.Helper()
	if _, err := h.WriteAt(context.Background(), []byte(data), off); err != nil {
		t.Fatal(err)
	}
}

// eventually waits for cond, which checks the service.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func content(m *remotetest.Memory, path string) string {
	b, _ := m.Content(path)
	return string(b)
}

func versions(t *testing.T, m *remotetest.Memory, path string) int {
	t.Helper()
	id, ok := m.Lookup(path)
	if !ok {
		return 0
	}
	return len(m.Versions(id))
}

func TestOneVersionPerSave(t *testing.T) {
	ctx := context.Background()
	mem := newMem(map[string]string{pf + "/old.txt": "old"})
	core := newCore(t, false, fs.Account{Name: "a", Backend: mem})
	files := dir(t, core, "a/"+pf)

	// echo hi > new.txt: the shell closes a duplicate before writing.
	_, h, err := files.Create(ctx, "echo.txt", trunc, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Flush(ctx); err != nil { // close of the original descriptor
		t.Fatal(err)
	}
	write(t, h, "hi\n", 0)
	if err := h.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	h.Release(ctx)

	// cp: create, write, close.
	_, h, _ = files.Create(ctx, "cp.bin", wronly, true)
	write(t, h, "copied", 0)
	h.Flush(ctx)
	h.Release(ctx)

	// touch: create and close without a write; uploaded at release.
	_, h, _ = files.Create(ctx, "touched", wronly, false)
	h.Flush(ctx)
	h.Release(ctx)

	// An existing file rewritten with O_TRUNC, and opened without a write.
	f := walk(t, core, "a/"+pf+"/old.txt").(*fs.File)
	h, err = f.Open(ctx, trunc)
	if err != nil {
		t.Fatal(err)
	}
	write(t, h, "new", 0)
	h.Flush(ctx)
	h.Release(ctx)
	h, _ = f.Open(ctx, fs.OpenFlags{Write: true})
	h.Flush(ctx)
	h.Release(ctx)

	eventually(t, "touched is uploaded", func() bool { _, ok := mem.Content(pf + "/touched"); return ok })
	for path, want := range map[string]struct {
		data     string
		versions int
	}{
		"echo.txt": {"hi\n", 1}, "cp.bin": {"copied", 1}, "touched": {"", 1}, "old.txt": {"new", 2},
	} {
		if got := content(mem, pf+"/"+path); got != want.data {
			t.Errorf("%s holds %q, want %q", path, got, want.data)
		}
		if n := versions(t, mem, pf+"/"+path); n != want.versions {
			t.Errorf("%s has %d versions, want %d", path, n, want.versions)
		}
	}
}

// TestDuplicateNamesKeepTheirContent edits one of two items that share a
// name and renames the other, in both orders and both write-back modes:
// each item keeps its own content.
func TestDuplicateNamesKeepTheirContent(t *testing.T) {
	ctx := context.Background()
	for _, async := range []bool{false, true} {
		for _, renameFirst := range []bool{false, true} {
			mem := newMem(nil)
			folder, _ := mem.Lookup(pf)
			a := mem.Add(folder, "dup.txt", false, []byte("A"))
			b := mem.Add(folder, "dup.txt", false, []byte("B"))
			core := newCore(t, async, fs.Account{Name: "acct", Backend: mem})
			files := dir(t, core, "acct/"+pf)
			entries, err := files.ReadDir(ctx)
			if err != nil || len(entries) != 2 {
				t.Fatalf("listing: %+v %v", entries, err)
			}
			// Which shown name is which item: read them.
			names := map[string]string{}
			for _, e := range entries {
				f := walk(t, core, "acct/"+pf+"/"+e.Name).(*fs.File)
				h, _ := f.Open(ctx, fs.OpenFlags{})
				buf := make([]byte, 1)
				h.ReadAt(ctx, buf, 0)
				h.Release(ctx)
				names[string(buf)] = e.Name
			}
			// The node of A is held from before, as an open shell holds
			// the inode: once B is renamed, A is no longer a duplicate and
			// its shown name becomes plain dup.txt.
			fileA := walk(t, core, "acct/"+pf+"/"+names["A"]).(*fs.File)
			edit := func() {
				h, err := fileA.Open(ctx, trunc)
				if err != nil {
					t.Fatal(err)
				}
				write(t, h, "new A", 0)
				if err := h.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				h.Release(ctx)
			}
			rename := func() {
				if err := files.Rename(ctx, names["B"], files, "dup2.txt", fs.RenameFlags{}); err != nil {
					t.Fatal(err)
				}
			}
			if renameFirst {
				rename()
				edit()
			} else {
				edit()
				rename()
			}
			eventually(t, "the edit reaches item A", func() bool {
				return len(mem.Versions(a.ID)) == 2
			})
			time.Sleep(50 * time.Millisecond)
			if got := content(mem, pf+"/dup.txt"); got != "new A" {
				t.Errorf("async=%v renameFirst=%v: dup.txt holds %q", async, renameFirst, got)
			}
			if got := content(mem, pf+"/dup2.txt"); got != "B" {
				t.Errorf("async=%v renameFirst=%v: dup2.txt holds %q", async, renameFirst, got)
			}
			if n := len(mem.Versions(b.ID)); n != 1 && n != 2 {
				t.Errorf("item B has %d versions", n)
			}
			if id, _ := mem.Lookup(pf + "/dup.txt"); id != a.ID {
				t.Errorf("dup.txt is item %s, want %s", id, a.ID)
			}
		}
	}
}

// blockUploads makes uploads wait until released or cancelled and reports
// when one started.
func blockUploads(mem *remotetest.Memory) (started chan struct{}, release chan struct{}) {
	started, release = make(chan struct{}, 16), make(chan struct{})
	mem.SetFault(func(ctx context.Context, op string, id remote.ID) error {
		if op != remotetest.OpUpload {
			return nil
		}
		started <- struct{}{}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	return started, release
}

func TestUnlinkAndRenameDoNotWaitForUploads(t *testing.T) {
	ctx := context.Background()
	mem := newMem(nil)
	started, release := blockUploads(mem)
	core := newCore(t, true, fs.Account{Name: "a", Backend: mem})
	files := dir(t, core, "a/"+pf)

	for _, name := range []string{"gone.bin", "moved.bin"} {
		_, h, err := files.Create(ctx, name, wronly, false)
		if err != nil {
			t.Fatal(err)
		}
		write(t, h, "payload of "+name, 0)
		h.Flush(ctx)
		h.Release(ctx)
		<-started // its upload runs and hangs
		start := time.Now()
		if name == "gone.bin" {
			err = files.Unlink(ctx, name)
		} else {
			err = files.Rename(ctx, name, files, "renamed.bin", fs.RenameFlags{})
		}
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("%s waited %v for an upload", name, d)
		}
	}
	close(release)
	eventually(t, "the renamed file is uploaded", func() bool { return content(mem, pf+"/renamed.bin") == "payload of moved.bin" })
	time.Sleep(100 * time.Millisecond)
	if names := mem.Names(pf); len(names) != 1 || names[0] != "renamed.bin" {
		t.Fatalf("service holds %q, want only renamed.bin", names)
	}
}

func TestEditsSurviveFailedRenameAndUnlink(t *testing.T) {
	ctx := context.Background()
	mem := newMem(map[string]string{pf + "/target.txt": "old target", pf + "/src.txt": "source"})
	core := newCore(t, true, fs.Account{Name: "a", Backend: mem})
	files := dir(t, core, "a/"+pf)
	fail := errors.New("service refused")
	var failOp string
	started, release := blockUploads(mem)
	mem.SetFault(func(c context.Context, op string, id remote.ID) error {
		switch op {
		case failOp:
			return &remote.Error{Kind: remote.Unavailable, Op: op, Err: fail}
		case remotetest.OpUpload:
			started <- struct{}{}
			select {
			case <-release:
			case <-c.Done():
				return c.Err()
			}
		}
		return nil
	})
	// Unsent edits of target.txt (its upload hangs).
	f := walk(t, core, "a/"+pf+"/target.txt").(*fs.File)
	h, _ := f.Open(ctx, trunc)
	write(t, h, "unsent edits", 0)
	h.Flush(ctx)
	h.Release(ctx)
	<-started

	failOp = remotetest.OpRename
	if err := files.Rename(ctx, "src.txt", files, "target.txt", fs.RenameFlags{}); !remote.IsKind(err, remote.Unavailable) {
		t.Fatalf("rename over the edited file: %v", err)
	}
	failOp = remotetest.OpRemove
	if err := files.Unlink(ctx, "target.txt"); !remote.IsKind(err, remote.Unavailable) {
		t.Fatalf("unlink of the edited file: %v", err)
	}
	failOp = ""
	close(release)
	eventually(t, "the edits are uploaded", func() bool { return content(mem, pf+"/target.txt") == "unsent edits" })
	if got := content(mem, pf+"/src.txt"); got != "source" {
		t.Fatalf("src.txt holds %q", got)
	}
}

// TestCacheKeyedByAccountIdentity reads two accounts whose backends use the
// same IDs for different bytes through one cache.
func TestCacheKeyedByAccountIdentity(t *testing.T) {
	ctx := context.Background()
	one := newMem(map[string]string{pf + "/same.txt": "bytes of server one"})
	two := newMem(map[string]string{pf + "/same.txt": "bytes of server two"})
	id1, _ := one.Lookup(pf + "/same.txt")
	id2, _ := two.Lookup(pf + "/same.txt")
	e1, _ := one.Entry(pf + "/same.txt")
	e2, _ := two.Entry(pf + "/same.txt")
	if id1 != id2 || e1.Version.ID != e2.Version.ID {
		t.Fatalf("the test needs coinciding IDs: %s/%s %s/%s", id1, id2, e1.Version.ID, e2.Version.ID)
	}
	core := newCore(t, false,
		fs.Account{Name: "one", Backend: one, Identity: "svc https://one"},
		fs.Account{Name: "two", Backend: two, Identity: "svc https://two"})
	for _, acct := range []string{"one", "two", "one"} {
		f := walk(t, core, acct+"/"+pf+"/same.txt").(*fs.File)
		h, err := f.Open(ctx, fs.OpenFlags{})
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, _ := h.ReadAt(ctx, buf, 0)
		h.Release(ctx)
		if want := "bytes of server " + acct; string(buf[:n]) != want {
			t.Fatalf("%s reads %q, want %q", acct, buf[:n], want)
		}
	}
}

func TestNamesRefusedWhenGiven(t *testing.T) {
	ctx := context.Background()
	mem := newMem(map[string]string{pf + "/a.txt": "a"})
	mem.SetNameRule(func(name string) string {
		if strings.Contains(name, ":") {
			return "':' is not allowed"
		}
		return ""
	})
	core := newCore(t, false, fs.Account{Name: "a", Backend: mem})
	files := dir(t, core, "a/"+pf)
	long := strings.Repeat("x", 256)
	for _, tc := range []struct {
		name string
		kind remote.Kind
	}{
		{long, remote.NameTooLong},
		{"a:b.txt", remote.Invalid},
		{"rate%25.txt", remote.Invalid}, // would silently name "rate%.txt"
	} {
		if _, _, err := files.Create(ctx, tc.name, wronly, false); !remote.IsKind(err, tc.kind) {
			t.Errorf("create %.20q: %v, want %v", tc.name, err, tc.kind)
		}
		if _, err := files.Mkdir(ctx, tc.name); !remote.IsKind(err, tc.kind) {
			t.Errorf("mkdir %.20q: %v, want %v", tc.name, err, tc.kind)
		}
		if err := files.Rename(ctx, "a.txt", files, tc.name, fs.RenameFlags{}); !remote.IsKind(err, tc.kind) {
			t.Errorf("rename to %.20q: %v, want %v", tc.name, err, tc.kind)
		}
	}
	if _, err := files.Lookup(ctx, long); !remote.IsKind(err, remote.NameTooLong) {
		t.Errorf("lookup of a long name: %v", err)
	}
	// An escaped name that is canonical is taken as escaped: this one
	// names the remote "rate%25.txt", which is listed under it.
	_, h, err := files.Create(ctx, "rate%2525.txt", wronly, false)
	if err != nil {
		t.Fatal(err)
	}
	write(t, h, "slash", 0)
	h.Flush(ctx)
	h.Release(ctx)
	folder, _ := mem.Lookup(pf)
	found := false
	for _, e := range mustList(t, mem, folder) {
		found = found || e.Name == "rate%25.txt"
	}
	if !found {
		t.Fatal("rate%2525.txt did not create the remote name rate%25.txt")
	}
	if _, err := files.Lookup(ctx, "rate%2525.txt"); err != nil {
		t.Fatalf("the created name is not listed under itself: %v", err)
	}
}

func mustList(t *testing.T, m *remotetest.Memory, id remote.ID) []remote.Entry {
	t.Helper()
	es, err := m.List(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// TestTimesAndInodesSurviveRestart: a time set with utimes and the inode
// number of a file created here hold after the core is built again on the
// same state file (a remount).
func TestTimesAndInodesSurviveRestart(t *testing.T) {
	ctx := context.Background()
	mem := newMem(map[string]string{pf + "/old.txt": "old"})
	statePath := t.TempDir() + "/state.db"
	c, err := cache.New(cache.Options{MemoryBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := func() *fs.FS {
		core, err := fs.New([]fs.Account{{Name: "a", Backend: mem, Identity: "mem one"}},
			fs.Options{Cache: c, StagingDir: t.TempDir(), StatePath: statePath, MetadataTTL: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return core
	}
	core := start()
	files := dir(t, core, "a/"+pf)
	f, h, err := files.Create(ctx, "new.txt", wronly, false)
	if err != nil {
		t.Fatal(err)
	}
	ino := f.Attr().Ino
	write(t, h, "new", 0)
	h.Flush(ctx)
	h.Release(ctx)
	when := time.Date(2019, 5, 4, 3, 2, 1, 0, time.UTC)
	old := walk(t, core, "a/"+pf+"/old.txt").(*fs.File)
	if _, err := old.SetAttr(ctx, nil, nil, &when); err != nil {
		t.Fatal(err)
	}
	if got := f.Attr().Ino; got != ino {
		t.Fatalf("inode changed at commit: %d -> %d", ino, got)
	}
	core.Close()

	core = start()
	if got := walk(t, core, "a/"+pf+"/new.txt").Attr().Ino; got != ino {
		t.Errorf("inode after restart: %d, want %d", got, ino)
	}
	if got := walk(t, core, "a/"+pf+"/old.txt").Attr().ModTime; !got.Equal(when) {
		t.Errorf("time after restart: %v, want %v", got, when)
	}
	// A new version from elsewhere shows the service's time again.
	mem.SetFile(pf+"/old.txt", []byte("changed remotely"))
	core.Close()
	core = start()
	defer core.Close()
	// The saved listing is served first; once revalidated (TTL), the new
	// version shows the service's time.
	eventually(t, "the new version's own time", func() bool {
		return !walk(t, core, "a/"+pf+"/old.txt").Attr().ModTime.Equal(when)
	})
}

// TestRestartServesSavedListingsAtOnce: after a restart, folders listed
// before are served from the state file without waiting for the service
// (here every List blocks), and revalidated in the background.
func TestRestartServesSavedListingsAtOnce(t *testing.T) {
	ctx := context.Background()
	mem := newMem(map[string]string{pf + "/a.txt": "a", pf + "/b.txt": "b"})
	statePath := t.TempDir() + "/state.db"
	c, err := cache.New(cache.Options{MemoryBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := func() *fs.FS {
		core, err := fs.New([]fs.Account{{Name: "a", Backend: mem, Identity: "mem"}},
			fs.Options{Cache: c, StatePath: statePath, MetadataTTL: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return core
	}
	core := start()
	if _, err := dir(t, core, "a/"+pf).ReadDir(ctx); err != nil {
		t.Fatal(err)
	}
	core.Close()
	time.Sleep(200 * time.Millisecond) // the saved listings are older than the TTL now

	release := make(chan struct{})
	mem.SetFault(func(c context.Context, op string, id remote.ID) error {
		if op == remotetest.OpList {
			select {
			case <-release:
			case <-c.Done():
				return c.Err()
			}
		}
		return nil
	})
	mem.ResetCalls()
	core = start()
	defer core.Close()
	done := make(chan []fs.DirEntry)
	go func() {
		es, err := dir(t, core, "a/"+pf).ReadDir(ctx)
		if err != nil {
			t.Error(err)
		}
		done <- es
	}()
	select {
	case es := <-done:
		if len(es) != 2 || es[0].Name != "a.txt" || es[1].Name != "b.txt" {
			t.Fatalf("restored listing: %+v", es)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a listing saved before the restart waited for the service")
	}
	close(release)
	eventually(t, "a background revalidation", func() bool { return mem.Calls(remotetest.OpList) > 0 })
}

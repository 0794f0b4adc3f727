package fs_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bimfs/bimfs/cache"
	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/remotetest"
)

// newHistoryCore mounts b as account "a" with a short metadata TTL.
func newHistoryCore(t *testing.T, b remote.Backend, ttl time.Duration) *fs.FS {
	t.Helper()
	c, err := cache.New(cache.Options{Dir: t.TempDir(), MemoryBytes: 16 << 20, DiskBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	core, err := fs.New([]fs.Account{{Name: "a", Backend: b}}, fs.Options{Cache: c, StagingDir: t.TempDir(), MetadataTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(core.Close)
	return core
}

// historyDir is what both history directory kinds offer.
type historyDir interface {
	Lookup(ctx context.Context, name string) (fs.Node, error)
	ReadDir(ctx context.Context) ([]fs.DirEntry, error)
}

// hwalk resolves a path that may lead through the history tree.
func hwalk(t *testing.T, core *fs.FS, path string) fs.Node {
	t.Helper()
	var n fs.Node = core.Root()
	for _, name := range strings.Split(path, "/") {
		d, ok := n.(historyDir)
		if !ok {
			t.Fatalf("%s: %s is not a folder", path, n.Path())
		}
		n = lookupIn(t, d, name)
	}
	return n
}

func lookupIn(t *testing.T, d historyDir, name string) fs.Node {
	t.Helper()
	n, err := d.Lookup(context.Background(), name)
	if err != nil {
		t.Fatalf("lookup %s: %v", name, err)
	}
	return n
}

func readVersion(t *testing.T, v *fs.VersionFile) string {
	t.Helper()
	h, err := v.Open(context.Background(), fs.OpenFlags{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	buf := make([]byte, v.Attr().Size+10)
	n, err := h.ReadAt(context.Background(), buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func names(t *testing.T, d historyDir) []string {
	t.Helper()
	es, err := d.ReadDir(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name)
	}
	return out
}

func TestVersionsListsEveryVersionWithItsBytes(t *testing.T) {
	m := newMem(nil)
	contents := []string{"first", "second version", "3"}
	for _, c := range contents {
		m.SetFile(pf+"/Site Plan.pdf", []byte(c))
	}
	core := newHistoryCore(t, m, time.Hour)
	folder := dir(t, core, "a/"+pf)

	top, err := folder.ReadDir(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range top {
		if e.Name == fs.VersionsDirName {
			t.Fatalf("readdir shows %s: %v", fs.VersionsDirName, top)
		}
	}
	vd := lookupIn(t, folder, fs.VersionsDirName).(*fs.VersionsDir)
	if !vd.Attr().Dir || vd.Attr().Writable {
		t.Fatalf(".versions attr %+v", vd.Attr())
	}
	if got := names(t, vd); len(got) != 1 || got[0] != "Site Plan.pdf" {
		t.Fatalf(".versions lists %q", got)
	}
	fv := lookupIn(t, vd, "Site Plan.pdf").(*fs.FileVersions)
	got := names(t, fv)
	want := []string{"v1.pdf", "v2.pdf", "v3.pdf"}
	if len(got) != len(want) {
		t.Fatalf("versions %q, want %q", got, want)
	}
	for i, w := range want {
		if got[i] != w {
			t.Fatalf("versions %q, want %q", got, want)
		}
		v := lookupIn(t, fv, w).(*fs.VersionFile)
		if a := v.Attr(); a.Size != int64(len(contents[i])) || a.Writable || a.Dir {
			t.Errorf("%s attr %+v, want size %d, read-only", w, a, len(contents[i]))
		}
		if b := readVersion(t, v); b != contents[i] {
			t.Errorf("%s reads %q, want %q", w, b, contents[i])
		}
		if again := lookupIn(t, fv, w); again != fs.Node(v) {
			t.Errorf("second lookup of %s made a new node", w)
		}
	}
	if m.Calls(remotetest.OpHistory) != 1 {
		t.Errorf("history asked %d times for one tip, want 1", m.Calls(remotetest.OpHistory))
	}
	if _, err := fv.Lookup(context.Background(), "v4.pdf"); !remote.IsKind(err, remote.NotFound) {
		t.Errorf("lookup of a version that does not exist: %v", err)
	}
}

func TestVersionsAreReadOnlyAndCached(t *testing.T) {
	m := newMem(map[string]string{pf + "/notes": "one"})
	m.SetFile(pf+"/notes", []byte("two"))
	core := newHistoryCore(t, m, time.Hour)
	fv := hwalk(t, core, "a/"+pf+"/.versions/notes").(*fs.FileVersions)
	if got := names(t, fv); len(got) != 2 || got[0] != "v1" || got[1] != "v2" {
		t.Fatalf("a file without extension lists %q, want [v1 v2]", got)
	}
	v1 := lookupIn(t, fv, "v1").(*fs.VersionFile)
	for _, fl := range []fs.OpenFlags{{Write: true}, {Trunc: true}, {Append: true}} {
		if _, err := v1.Open(context.Background(), fl); !errors.Is(err, fs.ErrReadOnlyFS) {
			t.Errorf("open %+v: %v, want ErrReadOnlyFS", fl, err)
		}
	}
	readVersion(t, v1)
	reads := m.Calls(remotetest.OpReadRange)
	if b := readVersion(t, v1); b != "one" {
		t.Fatalf("v1 reads %q", b)
	}
	if m.Calls(remotetest.OpReadRange) != reads {
		t.Errorf("a second read of an immutable version went to the service")
	}
}

func TestVersionsFollowNewVersionsAfterTTL(t *testing.T) {
	m := newMem(map[string]string{pf + "/a.txt": "v1"})
	const ttl = 50 * time.Millisecond
	core := newHistoryCore(t, m, ttl)
	fv := hwalk(t, core, "a/"+pf+"/.versions/a.txt").(*fs.FileVersions)
	if got := names(t, fv); len(got) != 1 {
		t.Fatalf("versions %q", got)
	}
	m.SetFile(pf+"/a.txt", []byte("second"))
	time.Sleep(2 * ttl)
	got := names(t, fv)
	if len(got) != 2 || got[1] != "v2.txt" {
		t.Fatalf("after the TTL versions are %q, want [v1.txt v2.txt]", got)
	}
	if b := readVersion(t, lookupIn(t, fv, "v2.txt").(*fs.VersionFile)); b != "second" {
		t.Errorf("v2 reads %q", b)
	}
	if n := m.Calls(remotetest.OpHistory); n != 2 {
		t.Errorf("history asked %d times for two tips, want 2", n)
	}
	names(t, fv)
	if n := m.Calls(remotetest.OpHistory); n != 2 {
		t.Errorf("history asked again for an unchanged tip (%d calls)", n)
	}

	m.Delete(pf + "/a.txt")
	time.Sleep(2 * ttl)
	if _, err := fv.ReadDir(context.Background()); !remote.IsKind(err, remote.NotFound) {
		t.Errorf("history of a deleted file: %v, want NotFound", err)
	}
	vd := hwalk(t, core, "a/"+pf+"/.versions").(*fs.VersionsDir)
	if _, err := vd.Lookup(context.Background(), "a.txt"); !remote.IsKind(err, remote.NotFound) {
		t.Errorf("lookup of a deleted file's history: %v", err)
	}
}

// plainBackend hides every optional interface of its backend.
type plainBackend struct{ remote.Backend }

func TestVersionsWithoutHistoryShowTheTip(t *testing.T) {
	m := newMem(map[string]string{pf + "/a.dwg": "old"})
	m.SetFile(pf+"/a.dwg", []byte("newest"))
	core := newHistoryCore(t, plainBackend{m}, time.Hour)
	fv := hwalk(t, core, "a/"+pf+"/.versions/a.dwg").(*fs.FileVersions)
	got := names(t, fv)
	if len(got) != 1 || got[0] != "v2.dwg" {
		t.Fatalf("versions %q, want [v2.dwg]", got)
	}
	if b := readVersion(t, lookupIn(t, fv, "v2.dwg").(*fs.VersionFile)); b != "newest" {
		t.Errorf("tip reads %q", b)
	}
}

func TestVersionXattrs(t *testing.T) {
	m := newMem(map[string]string{pf + "/x.ifc": "a"})
	e := m.SetFile(pf+"/x.ifc", []byte("bb"))
	core := newHistoryCore(t, m, time.Hour)
	f := walk(t, core, "a/"+pf+"/x.ifc").(*fs.File)
	want := []fs.Xattr{{fs.XattrID, string(e.ID)}, {fs.XattrVersion, "2"}, {fs.XattrVersionID, e.Version.ID}}
	if got := f.VersionXattrs(); !sameXattrs(got, want) {
		t.Errorf("file xattrs %v, want %v", got, want)
	}
	v1 := hwalk(t, core, "a/"+pf+"/.versions/x.ifc/v1.ifc").(*fs.VersionFile)
	first := m.Versions(e.ID)[0]
	want = []fs.Xattr{{fs.XattrID, string(e.ID)}, {fs.XattrVersion, "1"}, {fs.XattrVersionID, first.ID}}
	if got := v1.VersionXattrs(); !sameXattrs(got, want) {
		t.Errorf("v1 xattrs %v, want %v", got, want)
	}

	// A backend that locates its objects adds project and hub.
	core = newHistoryCore(t, locatingBackend{m}, time.Hour)
	f = walk(t, core, "a/"+pf+"/x.ifc").(*fs.File)
	want = []fs.Xattr{{fs.XattrID, "item-urn"}, {fs.XattrVersion, "2"}, {fs.XattrVersionID, e.Version.ID},
		{fs.XattrProjectID, "b.project"}, {fs.XattrHubID, "b.hub"}}
	if got := f.VersionXattrs(); !sameXattrs(got, want) {
		t.Errorf("located file xattrs %v, want %v", got, want)
	}
}

type locatingBackend struct{ *remotetest.Memory }

func (locatingBackend) Locate(id remote.ID) (remote.Location, bool) {
	return remote.Location{ObjectID: "item-urn", ProjectID: "b.project", HubID: "b.hub"}, true
}

func sameXattrs(a, b []fs.Xattr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestVersionsFollowAFileToAnotherFolder(t *testing.T) {
	m := newMem(map[string]string{pf + "/a.txt": "one"})
	m.MkdirAll(pf + "/Other")
	m.SetFile(pf+"/a.txt", []byte("two"))
	core := newHistoryCore(t, m, -1)
	old := hwalk(t, core, "a/"+pf+"/.versions/a.txt").(*fs.FileVersions)
	if got := names(t, old); len(got) != 2 {
		t.Fatalf("versions %q", got)
	}
	from, to := dir(t, core, "a/"+pf), dir(t, core, "a/"+pf+"/Other")
	if err := from.Rename(context.Background(), "a.txt", to, "b.txt", fs.RenameFlags{}); err != nil {
		t.Fatal(err)
	}
	moved := hwalk(t, core, "a/"+pf+"/Other/.versions/b.txt").(*fs.FileVersions)
	if moved == old || moved.Attr().Ino == old.Attr().Ino {
		t.Error("the moved file's history reuses the old folder's node")
	}
	got := names(t, moved)
	if len(got) == 0 || got[len(got)-1] != "v"+strconv.Itoa(len(got))+".txt" {
		t.Fatalf("history after the move: %q", got)
	}
	if b := readVersion(t, lookupIn(t, moved, got[len(got)-1]).(*fs.VersionFile)); b != "two" {
		t.Errorf("newest version after the move reads %q", b)
	}
	if _, err := old.ReadDir(context.Background()); !remote.IsKind(err, remote.NotFound) {
		t.Errorf("history in the old folder after the move: %v, want NotFound", err)
	}
}

func TestConcurrentHistoryLookupsShareOneCall(t *testing.T) {
	m := newMem(map[string]string{pf + "/a.txt": "one"})
	m.SetFile(pf+"/a.txt", []byte("two"))
	release := make(chan struct{})
	m.SetFault(func(ctx context.Context, op string, id remote.ID) error {
		if op == remotetest.OpHistory {
			<-release
		}
		return nil
	})
	core := newHistoryCore(t, m, time.Hour)
	fv := hwalk(t, core, "a/"+pf+"/.versions/a.txt").(*fs.FileVersions)

	// A caller that gives up gets Canceled without waiting for the call.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := fv.ReadDir(ctx); !remote.IsKind(err, remote.Canceled) {
		t.Errorf("cancelled caller: %v, want Canceled", err)
	}

	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := fv.Lookup(context.Background(), "v2.txt")
			errs <- err
		}()
	}
	time.Sleep(50 * time.Millisecond) // let them all wait on the call
	close(release)
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := m.Calls(remotetest.OpHistory); n != 1 {
		t.Errorf("%d history calls for concurrent lookups of one tip, want 1", n)
	}
}

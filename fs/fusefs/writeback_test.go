package fusefs_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fusefs"
	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/remotetest"
)

func TestFailedUploadIsEIOKeptShownAndRetried(t *testing.T) {
	mem := newWritableMemory()
	g := newGate()
	g.fail = remote.Errorf(remote.Unavailable, "memory.Upload", "service down for maintenance")
	g.release() // failures only, no waiting
	mem.SetFault(g.hook)
	logs := &logBuffer{}
	mnt := mountWritable(t, mem, fusefs.Options{Options: fs.Options{UploadRetry: 20 * time.Millisecond, Logger: newLogger(logs)}})
	dir := filepath.Join(mnt, pf)
	data := content(30, 200000)

	err := os.WriteFile(filepath.Join(dir, "report.pdf"), data, 0o644)
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("close with the service down: %v, want EIO", err)
	}
	edit, err := os.OpenFile(filepath.Join(dir, "readme.txt"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	edit.WriteString("appended while down\n")
	if err := edit.Close(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("close of an edit with the service down: %v, want EIO", err)
	}

	// Nothing vanished: listed, sized, readable, and the state says why.
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Contains(names, "report.pdf") {
		t.Fatalf("staged file not listed: %q", names)
	}
	if fi, err := os.Stat(filepath.Join(dir, "report.pdf")); err != nil || fi.Size() != int64(len(data)) {
		t.Fatalf("stat of staged file: %v %v", fi, err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "report.pdf")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read of staged file: %v", err)
	}
	wantReadme := string(projectTree[pf+"/readme.txt"]) + "appended while down\n"
	if got, _ := os.ReadFile(filepath.Join(dir, "readme.txt")); string(got) != wantReadme {
		t.Fatalf("edited file reads %q", got)
	}
	for _, name := range []string{"report.pdf", "readme.txt"} {
		// Between background retries the state is "failed: <reason>";
		// during one it is "uploading n%".
		var s string
		waitUntil(t, name+" failed state", func() bool {
			s = uploadState(t, filepath.Join(dir, name))
			if !strings.HasPrefix(s, "failed: ") && !strings.HasPrefix(s, "uploading ") {
				t.Fatalf("%s upload state %q, want failed or uploading", name, s)
			}
			return strings.HasPrefix(s, "failed: ")
		})
		if !strings.Contains(s, "maintenance") {
			t.Errorf("%s upload state %q does not give the reason", name, s)
		}
	}
	if _, ok := mem.Lookup(pf + "/report.pdf"); ok {
		t.Fatal("backend has the file although every upload failed")
	}

	// The service comes back: the uploader retries on its own.
	mem.SetFault(nil)
	waitUntil(t, "the retried uploads", func() bool {
		b, ok := mem.Content(pf + "/report.pdf")
		r, _ := mem.Content(pf + "/readme.txt")
		return ok && bytes.Equal(b, data) && string(r) == wantReadme
	})
	waitUntil(t, "committed state", func() bool {
		return uploadState(t, filepath.Join(dir, "report.pdf")) == "committed"
	})
	if n := versions(t, mem, pf+"/report.pdf"); n != 1 {
		t.Errorf("report.pdf has %d versions, want 1", n)
	}
	if n := versions(t, mem, pf+"/readme.txt"); n != 2 {
		t.Errorf("readme.txt has %d versions, want 2", n)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "report.pdf")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after upload: %v", err)
	}
	names = nil
	ents, _ = os.ReadDir(dir)
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if n := strings.Count(strings.Join(names, "\n"), "report"); n != 1 {
		t.Errorf("listing after upload shows report %d times: %q", n, names)
	}
}

// TestNamesRefusedWhenGiven: a name the service refuses, or one too long,
// fails at the call that gives it (create, mkdir, rename target), so shells
// and touch report it; nothing is staged under it.
func TestNamesRefusedWhenGiven(t *testing.T) {
	mem := newWritableMemory()
	mem.SetNameRule(func(name string) string {
		if strings.Contains(name, ":") {
			return "names may not contain ':'"
		}
		return ""
	})
	mnt := mountWritable(t, mem, fusefs.Options{})
	dir := filepath.Join(mnt, pf)
	long := strings.Repeat("n", 256)
	for name, want := range map[string]syscall.Errno{
		"a:b.txt":     syscall.EINVAL,
		long:          syscall.ENAMETOOLONG,
		"rate%25.txt": syscall.EINVAL, // would be listed as rate%.txt
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o644); !errors.Is(err, want) {
			t.Errorf("create %.12q: %v, want %v", name, err, want)
		}
		if err := os.Mkdir(p, 0o755); !errors.Is(err, want) {
			t.Errorf("mkdir %.12q: %v, want %v", name, err, want)
		}
		if err := os.Rename(filepath.Join(dir, "readme.txt"), p); !errors.Is(err, want) {
			t.Errorf("rename to %.12q: %v, want %v", name, err, want)
		}
		if err := os.Symlink("x", p); !errors.Is(err, want) && name == long {
			t.Errorf("symlink %.12q: %v, want %v", name, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, long)); !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("stat of a long name: %v", err)
	}
	// Tools see the refusal: touch and a shell redirection exit non-zero.
	for _, cmd := range [][]string{{"touch", filepath.Join(dir, "x:y.txt")}, {"sh", "-c", `echo x > "$1"`, "sh", filepath.Join(dir, "c:d.txt")}} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err == nil {
			t.Errorf("%q succeeded: %s", cmd, out)
		}
	}
	if names := mem.Names(pf); slices.ContainsFunc(names, func(n string) bool { return strings.ContainsAny(n, ":%") }) {
		t.Errorf("refused names reached the service: %q", names)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.ContainsAny(e.Name(), ":") {
			t.Errorf("refused name %q is listed", e.Name())
		}
	}
	// A canonical escape names the name it escapes: rate%2525.txt is the
	// remote rate%25.txt, and is listed under the name it was given.
	if err := os.WriteFile(filepath.Join(dir, "rate%2525.txt"), []byte("rate"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, ok := mem.Content(pf + "/rate%25.txt"); !ok || string(b) != "rate" {
		t.Fatalf("remote rate%%25.txt: %q %v", b, ok)
	}
	if _, err := os.Stat(filepath.Join(dir, "rate%2525.txt")); err != nil {
		t.Fatal(err)
	}
}

func TestAsyncCloseReturnsBeforeUpload(t *testing.T) {
	mem := newWritableMemory()
	g := newGate()
	mem.SetFault(g.hook)
	mnt := mountWritable(t, mem, fusefs.Options{Options: fs.Options{AsyncWriteback: true}})
	dir := filepath.Join(mnt, pf)
	data := content(31, 1<<20+3)
	if err := os.WriteFile(filepath.Join(dir, "later.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the background upload to start", func() bool { return g.blocked() == 1 })
	if s := uploadState(t, filepath.Join(dir, "later.bin")); !strings.HasPrefix(s, "uploading ") {
		t.Errorf("upload state %q, want uploading", s)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "later.bin")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read while uploading: %v", err)
	}
	// Deleting a staged file that was never uploaded leaves nothing.
	if err := os.WriteFile(filepath.Join(dir, "scratch.tmp"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "scratch.tmp")); err != nil {
		t.Fatal(err)
	}
	g.release()
	waitUntil(t, "the upload", func() bool {
		b, ok := mem.Content(pf + "/later.bin")
		return ok && bytes.Equal(b, data)
	})
	if _, ok := mem.Lookup(pf + "/scratch.tmp"); ok {
		// It may have been uploaded before the unlink; then the unlink
		// must have removed it again.
		t.Error("a file deleted before its upload reached the service and stayed")
	}
	if _, err := os.Stat(filepath.Join(dir, "scratch.tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("deleted staged file still visible: %v", err)
	}
	waitUntil(t, "committed state", func() bool { return uploadState(t, filepath.Join(dir, "later.bin")) == "committed" })
}

func TestRemoteChangeWhileEditingBecomesOlderVersion(t *testing.T) {
	mem := newWritableMemory()
	logs := &logBuffer{}
	mnt := mountWritable(t, mem, fusefs.Options{Options: fs.Options{Logger: newLogger(logs), MetadataTTL: -1}, EntryTimeout: -1, AttrTimeout: -1})
	path := filepath.Join(mnt, pf, "readme.txt")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("LOCAL"), 0); err != nil {
		t.Fatal(err)
	}
	theirs := mem.SetFile(pf+"/readme.txt", []byte("their change"))
	os.Stat(path) // a listing sees their version
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	vs := mem.Versions(theirs.ID)
	if len(vs) != 3 || vs[1].ID != theirs.Version.ID {
		t.Fatalf("versions %+v, want the original, theirs, ours", vs)
	}
	want := append([]byte("LOCAL"), projectTree[pf+"/readme.txt"][5:]...)
	if got := remoteContent(t, mem, pf+"/readme.txt"); !bytes.Equal(got, want) {
		t.Fatalf("tip is %q", got)
	}
	if logs.count("changed remotely while edited here") != 1 || logs.count(theirs.Version.ID) == 0 {
		t.Errorf("no warning naming their version:\n%s", logs)
	}
}

func TestSQLiteDatabaseOnMount(t *testing.T) {
	need(t, "sqlite3")
	mem := newWritableMemory()
	mnt := mountWritable(t, mem, fusefs.Options{})
	db := filepath.Join(mnt, pf, "survey.gpkg")
	run(t, "sqlite3", db, "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT, z REAL); "+
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 2000) INSERT INTO p(name, z) SELECT 'pt'||x, x*0.5 FROM c;")
	run(t, "sqlite3", db, "UPDATE p SET name = 'changed' WHERE id % 100 = 0; DELETE FROM p WHERE id > 1900; VACUUM;")
	got := run(t, "sqlite3", db, "SELECT count(*), sum(name = 'changed'), sum(z) FROM p; PRAGMA integrity_check;")
	if got != "1900|19|902975.0\nok\n" {
		t.Fatalf("query through the mount: %q", got)
	}
	// The service has the same database.
	local := filepath.Join(t.TempDir(), "copy.gpkg")
	if err := os.WriteFile(local, remoteContent(t, mem, pf+"/survey.gpkg"), 0o644); err != nil {
		t.Fatal(err)
	}
	if again := run(t, "sqlite3", local, "SELECT count(*), sum(name = 'changed'), sum(z) FROM p; PRAGMA integrity_check;"); again != got {
		t.Fatalf("backend copy answers %q, want %q", again, got)
	}
	for _, n := range mem.Names(pf) {
		if strings.Contains(n, "journal") || strings.Contains(n, "-wal") {
			t.Errorf("leftover %q", n)
		}
	}
}

// TestWritesSingleProc writes through the mount from the serving process
// with GOMAXPROCS=1, in parallel and with child processes.
func TestWritesSingleProc(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	mem := newWritableMemory()
	mnt := mountWritable(t, mem, fusefs.Options{})
	dir := filepath.Join(mnt, pf)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := filepath.Join(dir, "par", string(rune('a'+i))+".bin")
			os.MkdirAll(filepath.Dir(name), 0o755)
			if err := os.WriteFile(name, content(uint64(40+i), 300000), 0o644); err != nil {
				t.Errorf("write %s: %v", name, err)
			}
		}()
	}
	run(t, "cp", "-r", filepath.Join(dir, "Models"), filepath.Join(dir, "Models copy"))
	wg.Wait()
	for i := range 8 {
		p := pf + "/par/" + string(rune('a'+i)) + ".bin"
		if got := remoteContent(t, mem, p); !bytes.Equal(got, content(uint64(40+i), 300000)) {
			t.Errorf("%s differs", p)
		}
	}
	run(t, "cmp", filepath.Join(dir, "Models/big.rvt"), filepath.Join(dir, "Models copy/big.rvt"))
}

// TestReadOnlyBackendStaysEROFS checks that a backend without Writable is
// read-only even with a staging directory.
func TestReadOnlyBackendStaysEROFS(t *testing.T) {
	mem := newProjectMemory()
	mnt := mountWritable(t, mem, fusefs.Options{})
	if err := os.WriteFile(filepath.Join(mnt, pf, "x"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("create on a read-only backend: %v, want EROFS", err)
	}
	if n := mem.Calls(remotetest.OpUpload); n != 0 {
		t.Fatalf("%d uploads", n)
	}
}

package fusefs_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fusefs"
	"github.com/bimfs/bimfs/remote/remotetest"
)

const pf = "Hub A/Project 1/Project Files"

// localTree is what the copy tests copy into the mount.
var localTree = map[string][]byte{
	"a.txt":              []byte("alpha\n"),
	"empty.dat":          {},
	"sub/b.bin":          content(20, 3<<20+5),
	"sub/deeper/c.txt":   []byte("see\n"),
	"sub/Ünïcödé 文件.ifc": content(21, 70000),
}

func TestCopyToolsUploadOneVersionEach(t *testing.T) {
	need(t, "rsync", "tar")
	mem := newWritableMemory()
	mnt := mountWritable(t, mem, fusefs.Options{})
	src := t.TempDir()
	writeTree(t, src, localTree)

	t.Run("cp -a", func(t *testing.T) {
		run(t, "cp", "-a", src, filepath.Join(mnt, pf, "cp"))
		checkRemoteTree(t, mem, pf+"/cp", localTree, 1)
		run(t, "diff", "-r", src, filepath.Join(mnt, pf, "cp"))
	})
	t.Run("rsync -a", func(t *testing.T) {
		dst := filepath.Join(mnt, pf, "rs")
		run(t, "rsync", "-a", src+"/", dst+"/")
		checkRemoteTree(t, mem, pf+"/rs", localTree, 1)
		noStray(t, mem, pf+"/rs")
		noStray(t, mem, pf+"/rs/sub")
		// A changed file is written to a temporary name and renamed
		// over the original: it must end as a second version of it.
		changed := map[string][]byte{"a.txt": []byte("alpha, changed\n")}
		writeTree(t, src, changed)
		run(t, "rsync", "-a", src+"/", dst+"/")
		checkRemoteTree(t, mem, pf+"/rs", changed, 2)
		noStray(t, mem, pf+"/rs")
		localTree := maps2(localTree, changed)
		checkRemoteTree(t, mem, pf+"/rs", without(localTree, "a.txt"), 1)
		// In place: a new version of the same item, no temporary.
		changed = map[string][]byte{"sub/deeper/c.txt": []byte("see, in place\n")}
		writeTree(t, src, changed)
		run(t, "rsync", "-a", "--inplace", src+"/", dst+"/")
		checkRemoteTree(t, mem, pf+"/rs", changed, 2)
		run(t, "diff", "-r", src, dst)
	})
	t.Run("tar -x", func(t *testing.T) {
		archive := filepath.Join(t.TempDir(), "a.tar")
		run(t, "tar", "-cf", archive, "-C", src, ".")
		dst := filepath.Join(mnt, pf, "tar")
		if err := os.Mkdir(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		run(t, "tar", "-xf", archive, "-C", dst)
		tree, _ := readLocal(t, src)
		checkRemoteTree(t, mem, pf+"/tar", tree, 1)
	})
}

func maps2(a, b map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func without(m map[string][]byte, key string) map[string][]byte {
	out := maps2(m, nil)
	delete(out, key)
	return out
}

// readLocal reads every file below dir.
func readLocal(t *testing.T, dir string) (map[string][]byte, error) {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, nil
}

func TestShellEditsMakeVersions(t *testing.T) {
	mem := newWritableMemory()
	mnt := mountWritable(t, mem, fusefs.Options{})
	readme := filepath.Join(mnt, pf, "readme.txt")
	rpath := pf + "/readme.txt"
	orig := projectTree[rpath]

	run(t, "sh", "-c", `echo "one more line" >> "$1"`, "sh", readme)
	want := append(slices.Clone(orig), "one more line\n"...)
	if got := remoteContent(t, mem, rpath); !bytes.Equal(got, want) {
		t.Fatalf("after >>: %q", got)
	}
	if got, err := os.ReadFile(readme); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back after >>: %q %v", got, err)
	}

	run(t, "dd", "if=/dev/zero", "of="+readme, "bs=1", "count=3", "seek=2", "conv=notrunc", "status=none")
	copy(want[2:5], []byte{0, 0, 0})
	if got := remoteContent(t, mem, rpath); !bytes.Equal(got, want) {
		t.Fatalf("after dd conv=notrunc: %q", got)
	}

	run(t, "truncate", "-s", "4", readme)
	want = want[:4]
	if got := remoteContent(t, mem, rpath); !bytes.Equal(got, want) {
		t.Fatalf("after truncate: %q", got)
	}
	if fi, err := os.Stat(readme); err != nil || fi.Size() != 4 {
		t.Fatalf("stat after truncate: %v %v", fi, err)
	}
	run(t, "sh", "-c", `printf new > "$1"`, "sh", readme)
	if got := remoteContent(t, mem, rpath); string(got) != "new" {
		t.Fatalf("after >: %q", got)
	}
	if n := versions(t, mem, rpath); n != 5 {
		t.Errorf("%d versions after 4 edits, want 5", n)
	}

	// touch creates an empty file that reaches the service as one version
	// (right after its last close: a close without a write commits nothing).
	run(t, "touch", filepath.Join(mnt, pf, "touched"))
	if got := eventualContent(t, mem, pf+"/touched"); len(got) != 0 {
		t.Fatalf("touched file holds %q", got)
	}
	if n := versions(t, mem, pf+"/touched"); n != 1 {
		t.Errorf("touch made %d versions, want 1", n)
	}
	// Opening for writing and closing without a write uploads nothing.
	uploads := mem.Calls(remotetest.OpUpload)
	f, err := os.OpenFile(readme, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if mem.Calls(remotetest.OpUpload) != uploads {
		t.Error("an unchanged file was uploaded")
	}
	if s := uploadState(t, readme); s != "committed" {
		t.Errorf("upload state %q", s)
	}
}

func TestRandomWritesAndReadsThroughOneHandle(t *testing.T) {
	mem := newWritableMemory()
	mnt := mountWritable(t, mem, fusefs.Options{})
	path := filepath.Join(mnt, pf, "Models/big.rvt")
	want := slices.Clone(projectTree[pf+"/Models/big.rvt"])
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, off := range []int64{0, 4095, 1 << 20, int64(len(want)) - 3, int64(len(want)) + 100} {
		p := bytes.Repeat([]byte{byte('A' + i)}, 7)
		if _, err := f.WriteAt(p, off); err != nil {
			t.Fatal(err)
		}
		if end := off + int64(len(p)); end > int64(len(want)) {
			want = append(want, make([]byte, end-int64(len(want)))...)
		}
		copy(want[off:], p)
	}
	got := make([]byte, len(want))
	if _, err := f.ReadAt(got, 0); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("reading own writes: %v", err)
	}
	if fi, _ := f.Stat(); fi.Size() != int64(len(want)) {
		t.Fatalf("fstat size %d, want %d", fi.Size(), len(want))
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := remoteContent(t, mem, pf+"/Models/big.rvt"); !bytes.Equal(got, want) {
		t.Fatal("backend content differs")
	}
	// The new version was seeded into the cache: reading it back costs
	// no download.
	mem.ResetCalls()
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read after close: %v", err)
	}
	if n := mem.Calls(remotetest.OpReadRange); n != 0 {
		t.Errorf("%d ReadRange calls reading back what was just uploaded", n)
	}
}

func TestConcurrentWritersLastCloseUploads(t *testing.T) {
	mem := newWritableMemory()
	mnt := mountWritable(t, mem, fusefs.Options{})
	path := filepath.Join(mnt, pf, "shared.txt")
	a, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	a.WriteAt([]byte("aaaa"), 0)
	b.WriteAt([]byte("bbbb"), 4)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if n := mem.Calls(remotetest.OpUpload); n != 0 {
		t.Fatalf("%d uploads while another writer still has the file open", n)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got := remoteContent(t, mem, pf+"/shared.txt"); string(got) != "aaaabbbb" {
		t.Fatalf("backend has %q", got)
	}
	if n := versions(t, mem, pf+"/shared.txt"); n != 1 {
		t.Errorf("%d versions, want 1", n)
	}
}

func TestTempFileRenamedOverOriginal(t *testing.T) {
	for _, async := range []bool{false, true} {
		t.Run(map[bool]string{false: "sync", true: "async"}[async], func(t *testing.T) {
			mem := newWritableMemory()
			mnt := mountWritable(t, mem, fusefs.Options{Options: fs.Options{AsyncWriteback: async}})
			dir := filepath.Join(mnt, pf)
			orig, _ := mem.Lookup(pf + "/readme.txt")
			tmp := filepath.Join(dir, ".readme.txt.swp")
			if err := os.WriteFile(tmp, []byte("saved by an editor\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, filepath.Join(dir, "readme.txt")); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "the new version", func() bool {
				b, _ := mem.Content(pf + "/readme.txt")
				return string(b) == "saved by an editor\n"
			})
			if id, _ := mem.Lookup(pf + "/readme.txt"); id != orig {
				t.Errorf("readme.txt is a new item %s, want a new version of %s", id, orig)
			}
			if n := len(mem.Versions(orig)); n != 2 {
				t.Errorf("%d versions, want 2", n)
			}
			waitUntil(t, "no stray item", func() bool { return !slices.Contains(mem.Names(pf), ".readme.txt.swp") })
			noStray(t, mem, pf)
			if got, err := os.ReadFile(filepath.Join(dir, "readme.txt")); err != nil || string(got) != "saved by an editor\n" {
				t.Fatalf("read back %q %v", got, err)
			}
			if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("temporary still visible: %v", err)
			}
		})
	}
}

func TestTreeOperationsErrnos(t *testing.T) {
	mem := newWritableMemory()
	mem.SetNameRule(func(name string) string {
		if strings.ContainsAny(name, `\:*?"<>|`) {
			return `names may not contain \ : * ? " < > |`
		}
		return ""
	})
	logs := &logBuffer{}
	mnt := mountWritable(t, mem, fusefs.Options{Options: fs.Options{Logger: newLogger(logs)}})
	dir := filepath.Join(mnt, pf)

	run(t, "mkdir", "-p", filepath.Join(dir, "x/y/z"))
	if _, ok := mem.Lookup(pf + "/x/y/z"); !ok {
		t.Fatal("mkdir -p did not create x/y/z")
	}
	if err := os.Mkdir(filepath.Join(dir, "x"), 0o755); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("mkdir of an existing folder: %v, want EEXIST", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "a:b"), 0o755); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("mkdir of a name the service refuses: %v, want EINVAL", err)
	}
	if logs.count("may not contain") == 0 {
		t.Errorf("the service's name rule was not logged:\n%s", logs)
	}
	if err := os.WriteFile(filepath.Join(dir, "x/y/z/f.txt"), []byte("f"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Rmdir(filepath.Join(dir, "x/y")); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Errorf("rmdir of a non-empty folder: %v, want ENOTEMPTY", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "readme.txt"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if !errors.Is(err, syscall.EEXIST) {
		t.Errorf("O_CREAT|O_EXCL of an existing file: %v, want EEXIST", err)
	}
	if f != nil {
		f.Close()
	}
	run(t, "rm", "-r", filepath.Join(dir, "x"))
	if _, ok := mem.Lookup(pf + "/x"); ok {
		t.Fatal("rm -r left x")
	}
	if err := os.Remove(filepath.Join(dir, "one.bin")); err != nil {
		t.Fatal(err)
	}
	if _, ok := mem.Lookup(pf + "/one.bin"); ok {
		t.Fatal("unlink left the remote file")
	}
	if _, err := os.Stat(filepath.Join(dir, "one.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stat after unlink: %v", err)
	}
	// Renames and moves within the project.
	if err := os.Rename(filepath.Join(dir, "page.bin"), filepath.Join(dir, "Models/page moved.bin")); err != nil {
		t.Fatal(err)
	}
	if got := remoteContent(t, mem, pf+"/Models/page moved.bin"); !bytes.Equal(got, projectTree[pf+"/page.bin"]) {
		t.Fatal("moved file content differs")
	}
	if err := unixRenameNoReplace(filepath.Join(dir, "readme.txt"), filepath.Join(dir, "empty.dat")); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("RENAME_NOREPLACE onto an existing file: %v, want EEXIST", err)
	}
	if err := unixRenameExchange(filepath.Join(dir, "readme.txt"), filepath.Join(dir, "empty.dat")); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("RENAME_EXCHANGE: %v, want EINVAL", err)
	}
	// chmod, chown and utimes are accepted (and ignored).
	p := filepath.Join(dir, "readme.txt")
	if err := os.Chmod(p, 0o600); err != nil {
		t.Errorf("chmod: %v", err)
	}
	if err := os.Chown(p, os.Getuid(), os.Getgid()); err != nil {
		t.Errorf("chown: %v", err)
	}
	if err := os.Chtimes(p, timeZero, timeZero); err != nil {
		t.Errorf("utimes: %v", err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Errorf("file mode %v, want 0644", fi.Mode())
	}
}

func TestRenameAcrossSpacesAndAccountsIsEXDEV(t *testing.T) {
	mem := newWritableMemory()
	other := remotetest.NewMemory()
	other.SetWritable(true)
	other.MkdirAll("Hub Z/Project Z")
	root := fstestMountWritable(t, []fs.Account{{Name: "acme", Backend: mem}, {Name: "other", Backend: other}})
	src := filepath.Join(root, "acme", pf, "readme.txt")
	if err := os.Rename(src, filepath.Join(root, "other", "Hub Z/Project Z/readme.txt")); !errors.Is(err, syscall.EXDEV) {
		t.Errorf("rename across accounts: %v, want EXDEV", err)
	}
	if err := os.Rename(src, filepath.Join(root, "acme", "Hub B/Empty Project/Project Files/readme.txt")); !errors.Is(err, syscall.EXDEV) {
		t.Errorf("rename across projects: %v, want EXDEV", err)
	}
	// mv falls back to copy and delete.
	run(t, "mv", src, filepath.Join(root, "acme", "Hub B/Empty Project/Project Files/readme.txt"))
	if got := remoteContent(t, mem, "Hub B/Empty Project/Project Files/readme.txt"); !bytes.Equal(got, projectTree[pf+"/readme.txt"]) {
		t.Fatal("mv across projects lost the content")
	}
	if _, ok := mem.Lookup(pf + "/readme.txt"); ok {
		t.Fatal("mv across projects left the source")
	}
}

func TestReadOnlyEntriesRefuseWithEACCES(t *testing.T) {
	mem := newWritableMemory()
	for _, p := range []string{"Hub A", "Hub A/Project 1"} {
		id, _ := mem.Lookup(p)
		mem.SetReadOnly(id, true)
	}
	locked := mem.AddFile(pf+"/locked.pdf", []byte("x"))
	mem.SetReadOnly(locked.ID, true)
	mnt := mountWritable(t, mem, fusefs.Options{})
	for _, tc := range []struct {
		name string
		fn   func() error
	}{
		{"mkdir in a project root", func() error { return os.Mkdir(filepath.Join(mnt, "Hub A/Project 1/new"), 0o755) }},
		{"create in a hub", func() error { return os.WriteFile(filepath.Join(mnt, "Hub A/new.txt"), nil, 0o644) }},
		{"rename a project folder", func() error {
			return os.Rename(filepath.Join(mnt, pf), filepath.Join(mnt, "Hub A/Project 1/renamed"))
		}},
		{"write a read-only file", func() error { return os.WriteFile(filepath.Join(mnt, pf, "locked.pdf"), []byte("y"), 0o644) }},
		{"delete a read-only file", func() error { return os.Remove(filepath.Join(mnt, pf, "locked.pdf")) }},
	} {
		if err := tc.fn(); !errors.Is(err, syscall.EACCES) {
			t.Errorf("%s: %v, want EACCES", tc.name, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(mnt, "Hub A/Project 1")); err != nil || fi.Mode().Perm() != 0o555 {
		t.Errorf("read-only folder shows %v (%v), want 0555", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Join(mnt, pf, "locked.pdf")); err != nil || fi.Mode().Perm() != 0o444 {
		t.Errorf("read-only file shows %v (%v), want 0444", fi.Mode(), err)
	}
	// Below the read-only project root, Project Files is writable.
	if err := os.WriteFile(filepath.Join(mnt, pf, "ok.txt"), []byte("ok"), 0o644); err != nil {
		t.Fatal(err)
	}
}

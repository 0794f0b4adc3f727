package fusefs_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fstest"
	"github.com/bimfs/bimfs/fs/fusefs"
	"github.com/bimfs/bimfs/remote/remotetest"
)

func TestRootListsAccounts(t *testing.T) {
	mnt := fstest.Mount(t, []fs.Account{
		{Name: "zeta", Backend: remotetest.NewMemory()},
		{Name: "alpha", Backend: newProjectMemory()},
	}, fusefs.Options{})
	ents, err := os.ReadDir(mnt)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		if !e.IsDir() {
			t.Errorf("%s is not a directory", e.Name())
		}
	}
	if !slices.Equal(names, []string{"alpha", "zeta"}) {
		t.Fatalf("root lists %q", names)
	}
	got := run(t, "ls", filepath.Join(mnt, "alpha"))
	if got != "Hub A\nHub B\n" {
		t.Fatalf("ls alpha = %q", got)
	}
	if ents, err := os.ReadDir(filepath.Join(mnt, "zeta")); err != nil || len(ents) != 0 {
		t.Fatalf("empty account lists %v, %v", ents, err)
	}
}

func TestNewRootRejectsBadAccounts(t *testing.T) {
	for _, accts := range [][]fs.Account{
		{{Name: "a/b", Backend: remotetest.NewMemory()}},
		{{Name: "..", Backend: remotetest.NewMemory()}},
		{{Name: "", Backend: remotetest.NewMemory()}},
		{{Name: "x", Backend: remotetest.NewMemory()}, {Name: "x", Backend: remotetest.NewMemory()}},
		{{Name: "x"}},
	} {
		if _, err := fs.New(accts, fs.Options{Cache: nil}); err == nil {
			t.Errorf("New(%+v) succeeded without a cache", accts)
		}
	}
}

func TestFindAndReadWholeTree(t *testing.T) {
	mnt := mountOne(t, newProjectMemory(), fusefs.Options{})
	out := run(t, "find", mnt, "-type", "f")
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		got = append(got, strings.TrimPrefix(line, mnt+"/"))
	}
	sort.Strings(got)
	var want []string
	for p := range projectTree {
		want = append(want, p)
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("find lists\n%q\nwant\n%q", got, want)
	}
	for p, data := range projectTree {
		got, err := os.ReadFile(filepath.Join(mnt, p))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: read %d bytes, %v; want %d bytes", p, len(got), err, len(data))
		}
	}
}

func TestPOSIXFiles(t *testing.T) {
	mnt := mountOne(t, newProjectMemory(), fusefs.Options{})
	for p, data := range projectTree {
		t.Run(strings.ReplaceAll(p, "/", "_"), func(t *testing.T) {
			fstest.CheckFile(t, filepath.Join(mnt, p), data)
		})
	}
}

func TestPOSIXDirs(t *testing.T) {
	mnt := mountOne(t, newProjectMemory(), fusefs.Options{})
	files := filepath.Join(mnt, "Hub A/Project 1/Project Files")
	fstest.CheckReadOnlyDir(t, files, "readme.txt")
	fstest.CheckReadOnlyDir(t, filepath.Dir(mnt), "acme")
	fstest.CheckReadOnlyDir(t, mnt, "Hub A")

	if _, err := os.Stat(filepath.Join(files, "missing.txt")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("stat of a missing file: %v, want ENOENT", err)
	}
	if _, err := os.Stat(filepath.Join(files, "readme.txt", "child")); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("stat below a file: %v, want ENOTDIR", err)
	}
	d, err := os.Open(files)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Read(make([]byte, 10)); !errors.Is(err, syscall.EISDIR) {
		t.Errorf("read of a directory: %v, want EISDIR", err)
	}
	if _, err := os.OpenFile(files, os.O_WRONLY, 0); !errors.Is(err, syscall.EISDIR) {
		t.Errorf("open directory for writing: %v, want EISDIR", err)
	}

	fi, err := os.Stat(files)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o755 || st.Nlink < 2 || st.Uid != uint32(os.Getuid()) || st.Gid != uint32(os.Getgid()) {
		t.Errorf("directory stat: mode %v nlink %d uid %d gid %d", fi.Mode(), st.Nlink, st.Uid, st.Gid)
	}
	fi, err = os.Stat(filepath.Join(files, "page.bin"))
	if err != nil {
		t.Fatal(err)
	}
	st = fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o444 || st.Nlink != 1 || st.Blocks != 8 || st.Uid != uint32(os.Getuid()) {
		t.Errorf("file stat: mode %v nlink %d blocks %d uid %d", fi.Mode(), st.Nlink, st.Blocks, st.Uid)
	}
	if fi.ModTime().Year() != 2024 {
		t.Errorf("file mtime %v does not come from the listing", fi.ModTime())
	}
}

// TestReaddirSortedStableInodes checks that readdir is sorted and repeats
// itself, and that its inode numbers equal stat's, across remounts.
func TestReaddirSortedStableInodes(t *testing.T) {
	mem := remotetest.NewMemory()
	for _, name := range []string{"zz.txt", "b.txt", "A.txt", "a.txt", "m", "10.txt", "9.txt"} {
		if name == "m" {
			mem.MkdirAll("dir/m")
		} else {
			mem.AddFile("dir/"+name, []byte(name))
		}
	}
	inodes := func(dir string) map[string]uint64 {
		t.Helper()
		names := readdirnames(t, dir)
		if !sort.StringsAreSorted(names) {
			t.Errorf("readdir is not sorted: %q", names)
		}
		if again := readdirnames(t, dir); !slices.Equal(again, names) {
			t.Errorf("second readdir %q differs from %q", again, names)
		}
		out := map[string]uint64{}
		for name, ino := range readdirInodes(t, dir) {
			var st syscall.Stat_t
			err := syscall.Lstat(filepath.Join(dir, name), &st)
			for err == syscall.EINTR { // retry as package os does
				err = syscall.Lstat(filepath.Join(dir, name), &st)
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.Ino != ino {
				t.Errorf("%s: readdir inode %d, stat inode %d", name, ino, st.Ino)
			}
			out[name] = ino
		}
		return out
	}
	first := inodes(filepath.Join(mountOne(t, mem, fusefs.Options{}), "dir"))
	second := inodes(filepath.Join(mountOne(t, mem, fusefs.Options{}), "dir"))
	if len(first) != 7 {
		t.Fatalf("readdir found %d entries", len(first))
	}
	for name, ino := range first {
		if second[name] != ino {
			t.Errorf("%s: inode %d in one mount, %d in another", name, ino, second[name])
		}
	}
	seen := map[uint64]bool{}
	for _, ino := range first {
		if seen[ino] {
			t.Errorf("inode %d used twice", ino)
		}
		seen[ino] = true
	}
}

func readdirnames(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// readdirInodes reads raw dirents to get the inode numbers readdir reports.
func readdirInodes(t *testing.T, dir string) map[string]uint64 {
	t.Helper()
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	out := map[string]uint64{}
	buf := make([]byte, 8192)
	for {
		n, err := syscall.ReadDirent(fd, buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return out
		}
		for b := buf[:n]; len(b) > 0; {
			de := (*syscall.Dirent)(unsafePointer(&b[0]))
			name := direntName(de)
			if name != "." && name != ".." {
				out[name] = de.Ino
			}
			b = b[de.Reclen:]
		}
	}
}

func TestToolsCopyCompare(t *testing.T) {
	mnt := mountOne(t, newProjectMemory(), fusefs.Options{})
	dst := t.TempDir()
	run(t, "cp", "-r", filepath.Join(mnt, "Hub A"), dst)
	for p, data := range projectTree {
		if !strings.HasPrefix(p, "Hub A/") {
			continue
		}
		run(t, "cmp", filepath.Join(mnt, p), filepath.Join(dst, p))
		got, err := os.ReadFile(filepath.Join(dst, p))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("copy of %s: %d bytes, %v", p, len(got), err)
		}
	}
	big := "Hub A/Project 1/Project Files/Models/big.rvt"
	// dd with an odd block size and a skip reads from the middle.
	out := filepath.Join(dst, "part")
	run(t, "dd", "if="+filepath.Join(mnt, big), "of="+out, "bs=12345", "skip=100", "count=7", "status=none")
	got, err := os.ReadFile(out)
	want := projectTree[big][12345*100 : 12345*107]
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("dd read %d bytes, %v; want %d", len(got), err, len(want))
	}
	// stat answers from listings.
	line := run(t, "stat", "-c", "%s %a %F", filepath.Join(mnt, big))
	if line != strconv.Itoa(len(projectTree[big]))+" 444 regular file\n" {
		t.Errorf("stat printed %q", line)
	}
	ls := run(t, "ls", "-l", filepath.Join(mnt, "Hub A/Project 1/Project Files/Models"))
	if !strings.Contains(ls, "-r--r--r--") || !strings.Contains(ls, "Ünïcödé 文件.ifc") || !strings.Contains(ls, strconv.Itoa(len(projectTree[big]))) {
		t.Errorf("ls -l printed\n%s", ls)
	}
}

func TestStreamingBackend(t *testing.T) {
	mem := newProjectMemory()
	mem.SetRangeReads(false)
	mnt := mountOne(t, mem, fusefs.Options{})
	dst := t.TempDir()
	run(t, "cp", "-r", filepath.Join(mnt, "Hub A"), dst)
	big := "Hub A/Project 1/Project Files/Models/big.rvt"
	run(t, "cmp", filepath.Join(mnt, big), filepath.Join(dst, big))
	fstest.CheckFile(t, filepath.Join(mnt, big), projectTree[big])
}

func TestStatfs(t *testing.T) {
	mnt := mountOne(t, newProjectMemory(), fusefs.Options{})
	var st syscall.Statfs_t
	err := syscall.Statfs(filepath.Join(mnt, "Hub A"), &st)
	for err == syscall.EINTR { // a signal interrupted the first lookup; retry as package os does
		err = syscall.Statfs(filepath.Join(mnt, "Hub A"), &st)
	}
	if err != nil {
		t.Fatal(err)
	}
	if st.Bsize != 4096 || st.Namelen != 255 || st.Blocks == 0 || st.Bavail == 0 || st.Files == 0 {
		t.Errorf("statfs = %+v", st)
	}
	if out := run(t, "df", "-h", mnt); !strings.Contains(out, "bimfs") {
		t.Errorf("df does not show the filesystem:\n%s", out)
	}
}

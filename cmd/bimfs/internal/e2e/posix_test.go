package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/demo"
	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fusefs"
	bcemu "github.com/bimfs/bimfs/remote/bimcloud/emulator"
)

// service is one account of the demo as the POSIX tests see it: a
// writable folder and a count of uploads made on its emulator.
type service struct {
	name    string
	dir     string
	uploads func() int64
}

// services mounts both demo services with small trees and no kernel
// caching (each stat reaches the filesystem).
func services(t *testing.T) []service {
	var bt bimTree
	var ct bcTree
	m := startMount(t, mountConfig{fs: fsOptsNoKernelCache(), setup: func(d *demo.Demo) { setupBIM(&bt)(d); setupBC(&ct)(d) }})
	return []service{
		{"bim360", m.bim(bt.hub, bt.project, "Project Files"), func() int64 {
			c := m.demo.BIM360.Counters()
			return c["POST items"] + c["POST versions"]
		}},
		{"bimcloud", m.bc("Campus"), func() int64 {
			n := int64(0)
			for k, v := range m.demo.BIMcloud.Counters() {
				if strings.HasSuffix(k, "begin-upload") && !strings.Contains(k, "batch") {
					n += v
				}
			}
			return n
		}},
	}
}

func stat(t *testing.T, path string) *syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	err := syscall.Stat(path, &st)
	for err == syscall.EINTR { // a signal interrupted the call; retry as package os does
		err = syscall.Stat(path, &st)
	}
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return &st
}

// TestPOSIXErrnosAndIdentity checks, through the mount and real system
// calls on both services, the answers tools rely on at the moment of the
// call.
func TestPOSIXErrnosAndIdentity(t *testing.T) {
	for _, s := range services(t) {
		t.Run(s.name, func(t *testing.T) {
			dir := s.dir
			// A size the staging filesystem cannot hold is EFBIG, not EIO.
			f := filepath.Join(dir, "huge.bin")
			if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(f, 1<<50); !errors.Is(err, syscall.EFBIG) {
				t.Errorf("truncate to 1 PiB: %v, want EFBIG", err)
			}
			// A folder's link count is 2 + its subfolders.
			parent := filepath.Join(dir, "links")
			for _, d := range []string{parent, filepath.Join(parent, "a"), filepath.Join(parent, "b")} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			os.WriteFile(filepath.Join(parent, "file"), []byte("f"), 0o644)
			if n := stat(t, parent).Nlink; n != 4 {
				t.Errorf("nlink of a folder with 2 subfolders: %d, want 4", n)
			}
			// An open file that was deleted shows no links.
			g := filepath.Join(dir, "open-unlinked.txt")
			os.WriteFile(g, []byte("still readable"), 0o644)
			h, err := os.Open(g)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(g); err != nil {
				t.Fatal(err)
			}
			var st syscall.Stat_t
			err = syscall.Fstat(int(h.Fd()), &st)
			for err == syscall.EINTR {
				err = syscall.Fstat(int(h.Fd()), &st)
			}
			if err != nil || st.Nlink != 0 {
				t.Errorf("fstat of an unlinked open file: nlink %d, %v; want 0", st.Nlink, err)
			}
			h.Close()

			// A file keeps its inode number from create through commit,
			// rename and new versions.
			p := filepath.Join(dir, "ino.txt")
			w, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			ino := stat(t, p).Ino
			w.WriteString("one")
			w.Close()
			waitCommitted(t, p)
			if got := stat(t, p).Ino; got != ino {
				t.Errorf("inode after the first upload: %d, want %d", got, ino)
			}
			q := filepath.Join(dir, "ino-renamed.txt")
			if err := os.Rename(p, q); err != nil {
				t.Fatal(err)
			}
			if got := stat(t, q).Ino; got != ino {
				t.Errorf("inode after rename: %d, want %d", got, ino)
			}
			os.WriteFile(q, []byte("two"), 0o644)
			waitCommitted(t, q)
			if got := stat(t, q).Ino; got != ino {
				t.Errorf("inode after a new version: %d, want %d", got, ino)
			}

			// Names are refused when given.
			long := strings.Repeat("n", 256)
			for name, want := range map[string]syscall.Errno{"a:b.txt": syscall.EINVAL, "a|b": syscall.EINVAL, long: syscall.ENAMETOOLONG, "x%25y": syscall.EINVAL} {
				if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); !errors.Is(err, want) {
					t.Errorf("create %.12q: %v, want %v", name, err, want)
				}
				if err := os.Mkdir(filepath.Join(dir, name), 0o755); !errors.Is(err, want) {
					t.Errorf("mkdir %.12q: %v, want %v", name, err, want)
				}
				if err := os.Rename(q, filepath.Join(dir, name)); !errors.Is(err, want) {
					t.Errorf("rename to %.12q: %v, want %v", name, err, want)
				}
			}
		})
	}
}

// TestRsyncTwiceUploadsNothing: the times rsync -a sets are kept, so a
// second run over an unchanged tree finds every file unchanged.
func TestRsyncTwiceUploadsNothing(t *testing.T) {
	if _, err := exec.LookPath("rsync"); err != nil {
		t.Skip("rsync not installed")
	}
	src := t.TempDir()
	for name, data := range map[string]string{"a.txt": "alpha", "b.dwg": "bravo", "sub/c.pdf": "charlie"} {
		os.MkdirAll(filepath.Join(src, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(src, name), []byte(data), 0o644)
		// An old time: the service's own upload times can never match it
		// by chance (rsync compares whole seconds).
		old := time.Date(2019, 5, 4, 3, 2, 1, 0, time.UTC)
		os.Chtimes(filepath.Join(src, name), old, old)
	}
	for _, s := range services(t) {
		t.Run(s.name, func(t *testing.T) {
			dst := filepath.Join(s.dir, "rsynced")
			runCmd(t, "rsync", "-a", src+"/", dst+"/")
			for _, name := range []string{"a.txt", "b.dwg", "sub/c.pdf"} {
				waitCommitted(t, filepath.Join(dst, name))
			}
			before := s.uploads()
			out := runCmd(t, "rsync", "-a", "--itemize-changes", src+"/", dst+"/")
			if strings.Contains(out, ">f") {
				t.Errorf("the second rsync transferred files:\n%s", out)
			}
			if n := s.uploads() - before; n != 0 {
				t.Errorf("the second rsync -a made %d uploads, want 0", n)
			}
		})
	}
}

// TestBIMcloudFolderMoveIsCopied: BIMcloud has no call to rename or move a
// folder; the mount answers EXDEV so mv copies and deletes instead.
func TestBIMcloudFolderMoveIsCopied(t *testing.T) {
	var ct bcTree
	m := startMount(t, mountConfig{fs: fusefs.Options{Options: fs.Options{}}, setup: setupBC(&ct)})
	from, to := m.bc("Campus", "Library"), m.bc("Campus", "Library (moved)")
	err := syscall.Rename(from, to)
	for err == syscall.EINTR {
		err = syscall.Rename(from, to)
	}
	if !errors.Is(err, syscall.EXDEV) {
		t.Fatalf("rename of a BIMcloud folder: %v, want EXDEV", err)
	}
	if !strings.Contains(m.log.String(), "copies instead") {
		t.Error("the log does not say why the folder move was refused")
	}
	runCmd(t, "mv", from, to)
	if _, err := os.Stat(from); !os.IsNotExist(err) {
		t.Errorf("source after mv: %v", err)
	}
	if got := runCmd(t, "cmp", filepath.Join(to, "pointcloud.e57"), bcExpected(t, bcBigSeed, bcBigSize)); got != "" {
		t.Errorf("cmp: %s", got)
	}
}

// TestLockedItemIsEBUSY: a lock held at the service is the one conflict
// tools should read as "busy".
func TestLockedItemIsEBUSY(t *testing.T) {
	var bt bimTree
	m := startMount(t, mountConfig{fs: fsOptsNoKernelCache(), setup: setupBIM(&bt)})
	m.demo.BIM360.LockItem(bt.projectID, bt.itemSmall)
	err := os.WriteFile(m.bim(bt.hub, bt.project, "Project Files", "Site Plan.dwg"), []byte("edited"), 0o644)
	if !errors.Is(err, syscall.EBUSY) {
		t.Fatalf("saving a locked item: %v, want EBUSY", err)
	}
}

// TestVersionGoneUnderReaderIsESTALE: a BIMcloud blob replaced between the
// open and the first read cannot be read as the version the handle pinned;
// read(2) answers ESTALE (as network filesystems do), and a new open reads
// the new revision.
func TestVersionGoneUnderReaderIsESTALE(t *testing.T) {
	var ct bcTree
	m := startMount(t, mountConfig{fs: fsOptsNoKernelCache(), setup: setupBC(&ct)})
	p := m.bc("Campus", "Library.pln")
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m.demo.BIMcloud.UpdateBlob(ct.model, bcemu.Bytes([]byte("PLN model revision 2, longer")))
	buf := make([]byte, 64)
	_, err = f.Read(buf)
	if !errors.Is(err, syscall.ESTALE) {
		t.Fatalf("read of a replaced revision: %v, want ESTALE", err)
	}
	got, err := os.ReadFile(p)
	if err != nil || string(got) != "PLN model revision 2, longer" {
		t.Fatalf("a new open reads %q (%v)", got, err)
	}
}

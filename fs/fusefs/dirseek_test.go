package fusefs_test

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/posixtest"

	"github.com/bimfs/bimfs/fs/fusefs"
	"github.com/bimfs/bimfs/remote/remotetest"
)

type dirent struct {
	name string
	off  int64
}

func readDirents(t *testing.T, fd int) []dirent {
	t.Helper()
	var out []dirent
	buf := make([]byte, 4096) // small, so the folder takes many pages
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
			out = append(out, dirent{direntName(de), de.Off})
			b = b[de.Reclen:]
		}
	}
}

// TestDirSeek is the seek half of xfstests generic/257 (go-fuse's
// posixtest.DirSeek creates its files, which a read-only mount cannot):
// seeking to any offset readdir returned continues with the next entry.
func TestDirSeek(t *testing.T) {
	mem := remotetest.NewMemory()
	for i := range 500 {
		mem.AddFile(fmt.Sprintf("many/entry-%03d-%s", i, "padding-to-fill-pages"), nil)
	}
	dir := filepath.Join(mountOne(t, mem, fusefs.Options{}), "many")
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	all := readDirents(t, fd)
	if len(all) < 500 {
		t.Fatalf("readdir returned %d entries, want at least 500", len(all))
	}
	for i := len(all) - 2; i >= 0; i -= 37 {
		if _, err := syscall.Seek(fd, all[i].off, 0); err != nil {
			t.Fatal(err)
		}
		rest := readDirents(t, fd)
		if len(rest) == 0 || rest[0].name != all[i+1].name {
			t.Fatalf("after seeking to the offset of %q, readdir continued with %v, want %q", all[i].name, rest[:min(1, len(rest))], all[i+1].name)
		}
		if len(rest) != len(all)-i-1 {
			t.Fatalf("after seeking past entry %d, %d entries remain, want %d", i, len(rest), len(all)-i-1)
		}
	}
}

func TestPosixtestReadDirConsistency(t *testing.T) {
	mnt := mountOne(t, newProjectMemory(), fusefs.Options{})
	posixtest.ReadDirConsistency(t, filepath.Join(mnt, "Hub A/Project 1/Project Files"))
}

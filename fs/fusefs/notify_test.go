package fusefs_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fusefs"
	"github.com/bimfs/bimfs/remote/remotetest"
)

// eventually polls cond until it holds; the deadline only bounds a broken
// run, the test asserts nothing about time.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s never happened", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestChangeFeedInvalidates uses a backend with a change feed and a
// listing TTL far longer than the test: only notifications can make
// remote changes visible.
func TestChangeFeedInvalidates(t *testing.T) {
	mem := remotetest.NewMemory()
	e := mem.AddFile("p/a.txt", []byte("one"))
	mnt := fstestMountWatching(t, mem)
	dir := filepath.Join(mnt, "p")
	if names := readdirnames(t, dir); len(names) != 1 {
		t.Fatalf("names = %q", names)
	}
	// Cache a negative entry for b.txt in the kernel.
	if _, err := os.Stat(filepath.Join(dir, "b.txt")); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("stat b.txt: %v", err)
	}

	mem.AddFile("p/b.txt", []byte("two"))
	eventually(t, "new file visible", func() bool {
		got, err := os.ReadFile(filepath.Join(dir, "b.txt"))
		return err == nil && string(got) == "two"
	})

	mem.SetContent(e.ID, []byte("one, changed"))
	eventually(t, "new content visible", func() bool {
		got, err := os.ReadFile(filepath.Join(dir, "a.txt"))
		return err == nil && string(got) == "one, changed"
	})

	mem.Delete("p/a.txt")
	eventually(t, "deleted file gone", func() bool {
		_, err := os.Stat(filepath.Join(dir, "a.txt"))
		return errors.Is(err, syscall.ENOENT)
	})
	if names := readdirnames(t, dir); len(names) != 1 || names[0] != "b.txt" {
		t.Fatalf("names after delete = %q", names)
	}
}

func fstestMountWatching(t *testing.T, mem *remotetest.Memory) string {
	t.Helper()
	w := mem.Watching()
	mnt := mountWatching(t, w, fusefs.Options{Options: fs.Options{MetadataTTL: time.Hour}})
	eventually(t, "watcher started", func() bool { return w.Watchers() > 0 })
	return filepath.Join(mnt, "acme")
}

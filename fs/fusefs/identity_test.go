package fusefs_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/bimfs/bimfs/cache"
	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fstest"
	"github.com/bimfs/bimfs/fs/fusefs"
)

// TestEachSaveMakesOneVersion counts versions on the service for the ways
// tools save a new file: every one makes exactly one.
func TestEachSaveMakesOneVersion(t *testing.T) {
	need(t, "dd", "python3")
	for _, async := range []bool{false, true} {
		t.Run(map[bool]string{false: "sync", true: "async"}[async], func(t *testing.T) {
			mem := newWritableMemory()
			mnt := mountWritable(t, mem, fusefs.Options{Options: fs.Options{AsyncWriteback: async}})
			dir := filepath.Join(mnt, pf)
			src := filepath.Join(t.TempDir(), "src")
			os.WriteFile(src, content(7, 300000), 0o644)
			saves := map[string][]byte{
				"echo.txt":   []byte("hi\n"),
				"dd.bin":     content(7, 300000),
				"python.txt": []byte("written by python"),
			}
			run(t, "sh", "-c", `echo hi > "$1"`, "sh", filepath.Join(dir, "echo.txt"))
			run(t, "dd", "if="+src, "of="+filepath.Join(dir, "dd.bin"), "bs=65536", "status=none")
			run(t, "python3", "-c", `import sys
with open(sys.argv[1], "w") as f:
    f.write("written by python")`, filepath.Join(dir, "python.txt"))
			for name, want := range saves {
				waitUntil(t, name+" on the service", func() bool {
					b, ok := mem.Content(pf + "/" + name)
					return ok && bytes.Equal(b, want)
				})
				if n := versions(t, mem, pf+"/"+name); n != 1 {
					t.Errorf("%s: %d versions, want 1", name, n)
				}
			}
		})
	}
}

// TestDuplicateNamesThroughTools edits one of two same-named items with a
// shell redirection and renames the other with mv, in both orders: each
// item keeps its own content.
func TestDuplicateNamesThroughTools(t *testing.T) {
	for _, async := range []bool{false, true} {
		for _, mvFirst := range []bool{false, true} {
			name := map[bool]string{false: "sync", true: "async"}[async] + map[bool]string{false: "/edit-then-mv", true: "/mv-then-edit"}[mvFirst]
			t.Run(name, func(t *testing.T) {
				mem := newWritableMemory()
				folder, _ := mem.Lookup(pf)
				a := mem.Add(folder, "dup.txt", false, []byte("A\n"))
				b := mem.Add(folder, "dup.txt", false, []byte("B\n"))
				mnt := mountWritable(t, mem, fusefs.Options{Options: fs.Options{AsyncWriteback: async}})
				dir := filepath.Join(mnt, pf)
				shown := map[string]string{} // content -> shown name
				entries, _ := os.ReadDir(dir)
				for _, e := range entries {
					if data, _ := os.ReadFile(filepath.Join(dir, e.Name())); len(data) == 2 && data[1] == '\n' {
						shown[string(data[:1])] = e.Name()
					}
				}
				if shown["A"] == "" || shown["B"] == "" || shown["A"] == shown["B"] {
					t.Fatalf("duplicates shown as %q", shown)
				}
				edit := func() {
					run(t, "sh", "-c", `exec 3>"$1"; echo "new A" >&3; sleep 0.05; exec 3>&-`, "sh", filepath.Join(dir, shown["A"]))
				}
				mv := func() { run(t, "mv", filepath.Join(dir, shown["B"]), filepath.Join(dir, "dup2.txt")) }
				if mvFirst {
					// The shell keeps A's inode from the earlier lookup
					// by opening it before the rename.
					f, err := os.OpenFile(filepath.Join(dir, shown["A"]), os.O_WRONLY|os.O_TRUNC, 0)
					if err != nil {
						t.Fatal(err)
					}
					mv()
					f.WriteString("new A\n")
					if err := f.Close(); err != nil {
						t.Fatal(err)
					}
				} else {
					edit()
					mv()
				}
				waitUntil(t, "the edit of A", func() bool { return len(mem.Versions(a.ID)) == 2 })
				if got := mem.Versions(b.ID); len(got) > 2 {
					t.Errorf("item B got %d versions", len(got))
				}
				if got, _ := mem.Content(pf + "/dup2.txt"); string(got) != "B\n" {
					t.Errorf("dup2.txt holds %q, want item B's %q", got, "B\n")
				}
				if got, _ := mem.Content(pf + "/dup.txt"); string(got) != "new A\n" {
					t.Errorf("dup.txt holds %q, want %q", got, "new A\n")
				}
				if id, _ := mem.Lookup(pf + "/dup.txt"); id != a.ID {
					t.Errorf("dup.txt is %s, want item A %s", id, a.ID)
				}
			})
		}
	}
}

// TestStagingHasPriorityOverCachedBlocks fills a small disk with cached
// blocks and then writes a file that only fits once the cache gives room
// back: the write must succeed, and the file reach the service intact.
func TestStagingHasPriorityOverCachedBlocks(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	disk := t.TempDir()
	if err := syscall.Mount("tmpfs", disk, "tmpfs", 0, "size=48m"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(disk, syscall.MNT_DETACH) })
	mem := newWritableMemory()
	cached := content(11, 28<<20)
	mem.AddFile(pf+"/cached.bin", cached)
	c, err := cache.New(cache.Options{Dir: filepath.Join(disk, "cache"), MemoryBytes: -1, DiskBytes: 10 << 30})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	mnt := filepath.Join(fstest.Mount(t, []fs.Account{{Name: "acme", Backend: mem}},
		fusefs.Options{Options: fs.Options{Cache: c, StagingDir: filepath.Join(disk, "staging")}}), "acme")
	if got, err := os.ReadFile(filepath.Join(mnt, pf, "cached.bin")); err != nil || !bytes.Equal(got, cached) {
		t.Fatalf("read: %d bytes, %v", len(got), err)
	}
	if st := c.Stats(); st.DiskBytes < 20<<20 {
		t.Fatalf("the disk tier holds only %d bytes; the test needs it full", st.DiskBytes)
	}
	src := filepath.Join(t.TempDir(), "new.bin")
	data := content(12, 30<<20)
	os.WriteFile(src, data, 0o644)
	if out, err := exec.Command("cp", src, filepath.Join(mnt, pf, "new.bin")).CombinedOutput(); err != nil {
		t.Fatalf("cp onto a disk full of cached blocks: %v\n%s", err, out)
	}
	if got, _ := mem.Content(pf + "/new.bin"); !bytes.Equal(got, data) {
		t.Fatalf("service holds %d bytes of new.bin, want %d", len(got), len(data))
	}
}

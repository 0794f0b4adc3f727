package e2e

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
	"path/filepath"
	"testing"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/demo"
	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fusefs"
	bimemu "github.com/bimfs/bimfs/remote/bim360/emulator"
)

// TestDemoTwiceOnOneCacheDir runs the demo twice on one cache directory
// (as `bimfs mount --demo` does with its default cache), writing different
// bytes to the same paths each time: the second run must read its own
// bytes, never the first run's cached under a coinciding ID.
func TestDemoTwiceOnOneCacheDir(t *testing.T) {
	cacheDir, staging := t.TempDir(), t.TempDir()
	for _, run := range []string{"run 1", "run 2"} {
		t.Run(run, func(t *testing.T) {
			m := startMount(t, mountConfig{fullDemo: true, cacheAt: cacheDir,
				fs: fusefs.Options{Options: fs.Options{StagingDir: staging}}})
			for _, dir := range []string{
				filepath.Join(m.dir, "bim360-demo", "Demo Construction Co", "Tower A", "Project Files"),
				filepath.Join(m.dir, "bimcloud-demo"),
			} {
				entries, err := os.ReadDir(dir)
				if err != nil || len(entries) == 0 {
					t.Fatalf("demo folder %s: %v", dir, err)
				}
				if !entries[0].IsDir() && dir != filepath.Join(m.dir, "bimcloud-demo") {
					t.Fatalf("unexpected demo layout in %s", dir)
				}
				if filepath.Base(dir) == "bimcloud-demo" {
					dir = filepath.Join(dir, entries[0].Name())
				}
				notes := filepath.Join(dir, "notes.txt")
				if err := os.WriteFile(notes, []byte(run+", draft"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(notes, []byte(run+", final"), 0o644); err != nil {
					t.Fatal(err)
				}
				moved := filepath.Join(dir, "moved.txt")
				if err := os.Rename(notes, moved); err != nil {
					t.Fatal(err)
				}
				// Once the staged copy is gone, reads go through the
				// block cache (or the service): that is where a previous
				// run's bytes could come from.
				waitCommitted(t, moved)
				if got, err := os.ReadFile(moved); err != nil || string(got) != run+", final" {
					t.Fatalf("%s reads %q (%v), want %q", moved, got, err, run+", final")
				}
			}
		})
	}
}

// waitCommitted waits until path has no staged copy left.
func waitCommitted(t *testing.T, path string) {
	t.Helper()
	buf := make([]byte, 256)
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := unix.Getxattr(path, "user.bimfs.upload", buf)
		if err == nil && string(buf[:n]) == "committed" {
			time.Sleep(200 * time.Millisecond) // the last release retires the copy
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never committed: %q %v", path, buf[:max(n, 0)], err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCoincidingIDsNeverShareCache runs two servers that mint the same IDs
// (a pinned seed, as two tenants or a restored server might) on one cache
// directory: the cache keys include the account's identity (service,
// server URL, app), so the second never reads the first one's bytes.
func TestCoincidingIDsNeverShareCache(t *testing.T) {
	cacheDir := t.TempDir()
	var ids []string
	for _, run := range []string{"server 1", "server 2"} {
		t.Run(run, func(t *testing.T) {
			var project, folder string
			m := startMount(t, mountConfig{cacheAt: cacheDir,
				demo: demo.Options{BIM360: bimemu.Options{Seed: 42}},
				setup: func(d *demo.Demo) {
					hub := d.BIM360.AddHub("Hub")
					project = d.BIM360.AddProject(hub, "Project")
					folder = d.BIM360.TopFolder(project, "Project Files")
					d.BIM360.AddFile(project, folder, "plan.pdf", bimemu.Bytes([]byte("plan from the "+run)))
				}})
			ids = append(ids, m.demo.BIM360.FindChild(project, folder, "plan.pdf")+" "+
				m.demo.BIM360.TipVersion(project, m.demo.BIM360.FindChild(project, folder, "plan.pdf")))
			path := filepath.Join(m.dir, "bim360-demo", "Hub", "Project", "Project Files", "plan.pdf")
			if got, err := os.ReadFile(path); err != nil || string(got) != "plan from the "+run {
				t.Fatalf("read %q (%v), want the %s's bytes", got, err, run)
			}
		})
	}
	if len(ids) != 2 || ids[0] != ids[1] {
		t.Fatalf("the servers minted different IDs (%q); the test needs them to coincide", ids)
	}
}

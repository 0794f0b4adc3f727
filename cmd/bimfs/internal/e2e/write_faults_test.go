package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/demo"
	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fusefs"
	bimemu "github.com/bimfs/bimfs/remote/bim360/emulator"
)

// TestBIM360TokenExpiryMidUpload expires every access token while a
// multi-part upload is in flight: the client refreshes and the upload
// completes with the right bytes.
func TestBIM360TokenExpiryMidUpload(t *testing.T) {
	var tr bimTree
	m := startMount(t, mountConfig{demo: demo.Options{BIM360: bimemu.Options{BytesPerSecond: 8 << 20, MinPartSize: 1 << 20}}, setup: setupBIM(&tr)})
	s := m.demo.BIM360
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	local := filepath.Join(t.TempDir(), "big.ifc")
	os.WriteFile(local, data, 0o600)
	cp := exec.Command("cp", local, m.bim(tr.hub, tr.project, "Project Files", "big.ifc"))
	if err := cp.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the first part upload", func() bool { return s.Counters()[bimemu.OpS3Put] > 0 })
	s.ExpireTokens()
	if err := cp.Wait(); err != nil {
		t.Fatalf("cp across a token expiry: %v\n%s", err, m.log.String())
	}
	id := s.FindChild(tr.projectID, tr.files, "big.ifc")
	if got := tip(t, s, tr.projectID, id); !bytes.Equal(got, data) {
		t.Fatalf("uploaded %d bytes", len(got))
	}
	if s.Counters()[bimemu.OpToken] < 2 {
		t.Fatalf("no token refresh happened: %v", s.Counters())
	}
}

// TestStagingDiskFull stages writes on a 1 MiB filesystem: a larger write
// fails with ENOSPC and changes nothing remotely; what was staged is kept
// (it is the user's data) until the user removes it, after which writes
// work again.
func TestStagingDiskFull(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	staging := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", staging).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v %s", err, out)
	}
	var tr bimTree
	m := startMount(t, mountConfig{fs: fusefs.Options{Options: fs.Options{StagingDir: staging}}, setup: setupBIM(&tr)})
	t.Cleanup(func() {
		for i := 0; i < 50 && exec.Command("umount", staging).Run() != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	s := m.demo.BIM360
	big := m.bim(tr.hub, tr.project, "Project Files", "big.bin")
	out, err := exec.Command("dd", "if=/dev/urandom", "of="+big, "bs=1M", "count=4", "status=none").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "No space left on device") {
		t.Fatalf("dd onto a full staging disk: %v %s", err, out)
	}
	if id := s.FindChild(tr.projectID, tr.files, "big.bin"); id != "" {
		if got := tip(t, s, tr.projectID, id); len(got) >= 4<<20 {
			t.Fatalf("a write that failed reached the service whole: %d bytes", len(got))
		}
	}
	if got := tip(t, s, tr.projectID, tr.itemSmall); string(got) != "DWG site plan v1\n" {
		t.Fatalf("another file changed: %q", got)
	}
	if err := os.Remove(big); err != nil {
		t.Fatalf("removing the file that did not fit: %v", err)
	}
	small := m.bim(tr.hub, tr.project, "Project Files", "small.txt")
	if err := os.WriteFile(small, []byte("fits"), 0o644); err != nil {
		t.Fatalf("write after freeing the staging disk: %v", err)
	}
	if got := tip(t, s, tr.projectID, s.FindChild(tr.projectID, tr.files, "small.txt")); string(got) != "fits" {
		t.Fatalf("small file: %q", got)
	}
}

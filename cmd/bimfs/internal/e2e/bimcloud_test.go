package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/demo"
	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fusefs"
	bcemu "github.com/bimfs/bimfs/remote/bimcloud/emulator"
)

type bcTree struct {
	folder, nested, model, big string
}

const (
	bcBigSeed = 77
	bcBigSize = 9<<20 + 321
)

func setupBC(tr *bcTree) func(d *demo.Demo) {
	return func(d *demo.Demo) {
		s := d.BIMcloud
		// A model server whose first connection URLs are dead: the client
		// must skip to the one that answers.
		ms := s.AddModelServer("Model Server 2", 2)
		tr.folder = s.AddFolder("projectRoot", "Campus")
		tr.nested = s.AddFolder(tr.folder, "Library")
		tr.model = s.AddBlob(tr.folder, "Library.pln", bcemu.Bytes([]byte("PLN model revision 1")), "")
		tr.big = s.AddBlob(tr.nested, "pointcloud.e57", bcemu.Synthetic(bcBigSeed, bcBigSize), ms)
	}
}

func bcExpected(t *testing.T, seed, size int64) string {
	t.Helper()
	buf := make([]byte, size)
	for i := range buf {
		buf[i] = bcemu.SyntheticByte(seed, int64(i))
	}
	p := filepath.Join(t.TempDir(), "expected")
	os.WriteFile(p, buf, 0o600)
	return p
}

func TestBIMcloudToolsOnMount(t *testing.T) {
	var tr bcTree
	m := startMount(t, mountConfig{setup: setupBC(&tr), cacheDir: true})
	out := sh(t, "ls", "-l", m.bc("Campus"))
	if !strings.Contains(out, "Library.pln") || !strings.Contains(out, "Library") {
		t.Fatalf("ls -l:\n%s", out)
	}
	out = sh(t, "find", m.bc(), "-type", "f", "-name", "*.e57")
	if !strings.Contains(out, "Campus/Library/pointcloud.e57") {
		t.Fatalf("find:\n%s", out)
	}
	big := m.bc("Campus", "Library", "pointcloud.e57")
	if got := strings.TrimSpace(sh(t, "stat", "-c", "%s", big)); got != strconv.Itoa(bcBigSize) {
		t.Fatalf("stat size %s", got)
	}
	expected := bcExpected(t, bcBigSeed, bcBigSize)
	dst := filepath.Join(t.TempDir(), "copy")
	sh(t, "cp", big, dst)
	sh(t, "cmp", expected, dst)
	// A read in the middle (dd skip) on a fresh handle is served from the
	// streamed blocks.
	part := filepath.Join(t.TempDir(), "part")
	sh(t, "dd", "if="+big, "of="+part, "bs=65536", "skip=100", "count=3", "status=none")
	got, _ := os.ReadFile(part)
	for i, b := range got {
		if b != bcemu.SyntheticByte(bcBigSeed, int64(100*65536+i)) {
			t.Fatalf("dd: wrong byte at %d", i)
		}
	}
}

// TestBIMcloudRemoteChangeSeenThroughFeed keeps listings cached for an
// hour: only the change feed can make the new revision and the deletion
// visible.
func TestBIMcloudRemoteChangeSeenThroughFeed(t *testing.T) {
	var tr bcTree
	m := startMount(t, mountConfig{setup: setupBC(&tr), fs: fusefs.Options{Options: fs.Options{MetadataTTL: time.Hour}}})
	p := m.bc("Campus", "Library.pln")
	if got, err := os.ReadFile(p); err != nil || string(got) != "PLN model revision 1" {
		t.Fatalf("read %q %v", got, err)
	}
	m.demo.BIMcloud.UpdateBlob(tr.model, bcemu.Bytes([]byte("PLN model revision 2 (bigger)")))
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := os.ReadFile(p)
		if err == nil && string(got) == "PLN model revision 2 (bigger)" {
			break
		}
		if err == nil && string(got) != "PLN model revision 1" {
			t.Fatalf("mixed or wrong content: %q", got)
		}
		if time.Now().After(deadline) {
			t.Fatalf("new revision not visible: %q %v", got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.demo.BIMcloud.DeleteResource(tr.model)
	deadline = time.Now().Add(20 * time.Second)
	for {
		_, err := os.Stat(p)
		if errnoIs(err, syscall.ENOENT) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deleted blob still visible: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestBIMcloudExpiryAndErrors(t *testing.T) {
	var tr bcTree
	m := startMount(t, mountConfig{setup: setupBC(&tr), fs: fsOptsNoKernelCache()})
	big := m.bc("Campus", "Library", "pointcloud.e57")
	expected, _ := os.ReadFile(bcExpected(t, bcBigSeed, bcBigSize))

	// Ticket, session and token expiry between reads: the client gets new
	// ones and the bytes stay right.
	m.demo.BIMcloud.ExpireSessions()
	m.demo.BIMcloud.ExpireTickets()
	m.demo.BIMcloud.ExpireTokens()
	got, err := os.ReadFile(big)
	if err != nil || !bytes.Equal(got, expected) {
		t.Fatalf("read after expiry: %d bytes, %v", len(got), err)
	}

	// Documented 430 errors map to errno.
	cases := []struct {
		code int
		want syscall.Errno
	}{{6, syscall.ENOENT}, {3, syscall.EACCES}, {2, syscall.EACCES}}
	for _, c := range cases {
		// Two failures: the kernel turns a failed revalidation of a known
		// name into a second, fresh lookup, and both must fail for the
		// error to reach the caller. Afterwards listings work again.
		m.demo.BIMcloud.InjectError("get-resources-by-criterion", c.code, 2)
		_, err := os.ReadDir(m.bc("Campus", "Library"))
		if !errnoIs(err, c.want) {
			t.Errorf("430 code %d on listing: %v, want %v", c.code, err, c.want)
		}
		for i := 0; ; i++ {
			if _, err = os.ReadDir(m.bc("Campus", "Library")); err == nil {
				break
			}
			if i == 2 {
				t.Fatalf("listing still fails after the injected errors: %v", err)
			}
		}
	}
}

package fusefs_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bimfs/bimfs/fs/fusefs"
	"github.com/bimfs/bimfs/remote/remotetest"
)

// TestKernelPageCacheFollowsVersion checks FOPEN_KEEP_CACHE through the
// requests the kernel sends: re-reading an unchanged file is served from
// the kernel's page cache, and a new version is read again. The new version
// has the old size and modification time, so only the version ID can tell
// the kernel's pages are stale.
func TestKernelPageCacheFollowsVersion(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts fusefs.Options
	}{
		// Lookup before each open reports the new version first.
		{"lookup each open", fusefs.Options{EntryTimeout: -1, AttrTimeout: -1}},
		// The kernel trusts its cached attributes; the open alone finds
		// the new version.
		{"cached attributes", fusefs.Options{EntryTimeout: time.Hour, AttrTimeout: time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := remotetest.NewMemory()
			v1 := content(20, 200000)
			e := mem.AddFile("p/model.ifc", v1)
			logs := &logBuffer{}
			opts := tc.opts
			opts.Debug, opts.Logger, opts.MetadataTTL = true, slog.New(logs), shortTTL
			path := filepath.Join(mountOne(t, mem, opts), "p/model.ifc")
			reads := func() int { return logs.count(": READ n") }

			if _, err := os.ReadFile(path); err != nil {
				t.Fatal(err)
			}
			if reads() == 0 {
				t.Fatal("no READ requests seen: the trace format changed")
			}
			logs.reset()
			time.Sleep(2 * shortTTL) // the open revalidates and finds the same version
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, v1) {
				t.Fatalf("second read: %v", err)
			}
			if n := reads(); n != 0 {
				t.Errorf("re-reading an unchanged version sent %d READ requests, want 0 (page cache kept)", n)
			}

			v2 := content(21, len(v1))
			mem.SetContent(e.ID, v2)
			mem.SetModTime(e.ID, e.ModTime)
			time.Sleep(2 * shortTTL)
			logs.reset()
			got, err = os.ReadFile(path)
			if err != nil || !bytes.Equal(got, v2) {
				t.Fatalf("read after new version: %d bytes, %v; want v2", len(got), err)
			}
			if reads() == 0 {
				t.Error("new version was served from the old page cache")
			}
		})
	}
}

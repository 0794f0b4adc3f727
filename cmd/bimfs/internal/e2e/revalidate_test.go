package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/demo"
	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fusefs"
	bimemu "github.com/bimfs/bimfs/remote/bim360/emulator"
)

// TestUnchangedFoldersRevalidateWithOneCall: once a folder's listing has a
// stamp, find over an unchanged tree after the metadata TTL costs one GET
// folder per folder and no page of folder contents; a change is still
// seen at the next revalidation.
func TestUnchangedFoldersRevalidateWithOneCall(t *testing.T) {
	const ttl = 300 * time.Millisecond
	var bt bimTree
	m := startMount(t, mountConfig{
		fs: fusefs.Options{Options: fs.Options{MetadataTTL: ttl}, EntryTimeout: -1, AttrTimeout: -1, NegativeTimeout: -1},
		setup: func(d *demo.Demo) {
			setupBIM(&bt)(d)
			for i := range 3 {
				d.BIM360.AddFile(bt.projectID, bt.files, "scan-"+string(rune('a'+i))+".las", bimemu.Bytes([]byte("x")))
			}
		}})
	top := m.bim(bt.hub, bt.project, "Project Files")
	find := func() string { return runCmd(t, "find", top) }
	find() // listings without stamps
	time.Sleep(2 * ttl)
	find() // first revalidation: stamps taken, pages listed
	time.Sleep(2 * ttl)
	m.demo.BIM360.ResetCounters()
	out := find()
	c := m.demo.BIM360.Counters()
	// Two folders below the project: Project Files and Drawings.
	if c["GET folder contents"] != 0 || c["GET folder"] != 2 {
		t.Fatalf("find over an unchanged tree after the TTL made %v", c)
	}
	if !strings.Contains(out, "A-101.pdf") || !strings.Contains(out, "scan-c.las") {
		t.Fatalf("find lists:\n%s", out)
	}
	m.demo.BIM360.AddFile(bt.projectID, bt.files, "new.dwg", bimemu.Bytes([]byte("new")))
	time.Sleep(2 * ttl)
	if out := find(); !strings.Contains(out, "new.dwg") {
		t.Fatalf("a new file was not seen after the TTL:\n%s", out)
	}
}

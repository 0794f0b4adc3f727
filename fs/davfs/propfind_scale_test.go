package davfs_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/davfs"
	"github.com/bimfs/bimfs/remote/remotetest"
)

// TestPropfindLargeFolder lists 10,000 files with one PROPFIND: one List
// of the folder, no per-file service call, no file read.
func TestPropfindLargeFolder(t *testing.T) {
	m := newMem(nil)
	for i := 0; i < 10000; i++ {
		m.AddFile(fmt.Sprintf("%s/Scans/scan-%05d.las", pf, i), []byte("x"))
	}
	s := newServer(t, davfs.Options{}, fs.Account{Name: "acme", Backend: m})
	propfind(t, s, url("acme", pf)+"/", "1") // resolve the path once
	m.ResetCalls()
	start := time.Now()
	resp, body := s.do(t, "PROPFIND", url("acme", pf, "Scans")+"/", nil, "Depth", "1")
	took := time.Since(start)
	expect(t, resp, body, http.StatusMultiStatus)
	if n := strings.Count(body, "<D:href>"); n != 10001 {
		t.Fatalf("%d responses", n)
	}
	if l, r, st := m.Calls(remotetest.OpList), m.Calls(remotetest.OpReadRange), m.Calls(remotetest.OpStat); l != 1 || r != 0 || st != 0 {
		t.Errorf("PROPFIND of 10,000 files: %d lists, %d reads, %d stats; want 1, 0, 0", l, r, st)
	}
	t.Logf("PROPFIND Depth 1 of 10,000 files: %v, %d bytes", took.Round(time.Millisecond), len(body))
}

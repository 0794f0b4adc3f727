package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/demo"
	assetsemu "github.com/bimfs/bimfs/remote/bim360/assets/emulator"
	dcemu "github.com/bimfs/bimfs/remote/bim360/dataconnector/emulator"
)

// extrasTree is a hub with the Data Connector demo requests plus one large
// extract, and a project with the Assets demo data.
type extrasTree struct {
	hub, project, projectID string
	bigJob                  string
	big                     []byte
}

const bigExtract = "Large extract"

func setupExtras(tr *extrasTree) func(d *demo.Demo) {
	return func(d *demo.Demo) {
		s := d.BIM360
		tr.hub, tr.project = "Acme Construction", "Tower A"
		hub := s.AddHub(tr.hub)
		tr.projectID = s.AddProject(hub, tr.project)
		s.TopFolder(tr.projectID, "Project Files")
		account := strings.TrimPrefix(hub, "b.")
		s.DataConnector.Demo(account, []string{strings.TrimPrefix(tr.projectID, "b.")})
		var b bytes.Buffer
		b.WriteString("id,value,comment\n")
		for i := 0; b.Len() < 48<<20; i++ {
			fmt.Fprintf(&b, "%d,%d,\"row %d, quoted\"\n", i, i*7, i)
		}
		tr.big = b.Bytes()
		req := s.DataConnector.AddRequest(account, "", bigExtract)
		done := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
		tr.bigJob = s.DataConnector.AddJob(account, req, done.Add(-time.Minute), done, []dcemu.File{{Name: "big_table.csv", Data: tr.big}})
		s.Assets.Demo(strings.TrimPrefix(tr.projectID, "b."))
		// The call budget below holds within one listing TTL; a loaded
		// machine must not stretch find past it.
		for i := range d.Accounts {
			d.Accounts[i].ExtrasTTL = 10 * time.Minute
		}
	}
}

func TestExtrasOnMount(t *testing.T) {
	var tr extrasTree
	m := startMount(t, mountConfig{setup: setupExtras(&tr), cacheDir: true})
	s := m.demo.BIM360
	hubDir := filepath.Join(m.dir, demo.BIM360Account, tr.hub)
	dc := filepath.Join(hubDir, "Data Connector")
	assets := filepath.Join(hubDir, tr.project, "Assets")

	// A find over the hub: the read-only folders cost a stated number of
	// calls (see checkCalls).
	s.ResetCounters()
	out := sh(t, "find", hubDir)
	for _, want := range []string{"Data Connector/" + dcemu.DemoWeekly + "/latest/autodesk_data_extract.zip", "Assets/assets.csv"} {
		if !strings.Contains(out, want) {
			t.Fatalf("find lacks %s:\n%s", want, out)
		}
	}
	c := s.Counters()
	requests, completed := s.DataConnector.Counts(strings.TrimPrefix(s.Hubs()[0], "b."))
	pid := strings.TrimPrefix(tr.projectID, "b.")
	assetPages := int64((s.Assets.AssetCount(pid) + 99) / 100)
	cats := int64(s.Assets.CategoryCount(pid))
	wantDC := 1 + int64(requests) + int64(completed)
	wantAssets := assetPages + 4 + 1 + cats + 2 // pages of assets; categories, sets, statuses, attributes; batch-get; per category; locations, relationships
	var gotDC, gotAssets int64
	for op, n := range c {
		switch {
		case strings.HasPrefix(op, "DC "):
			gotDC += n
		case strings.HasPrefix(op, "ASSETS "), strings.HasPrefix(op, "LOCATIONS "), strings.HasPrefix(op, "RELATIONSHIP "):
			gotAssets += n
		}
	}
	t.Logf("find over the hub: %d Data Connector calls (want %d), %d Assets calls (want %d)", gotDC, wantDC, gotAssets, wantAssets)
	if gotDC != wantDC || gotAssets != wantAssets {
		t.Errorf("find made %d Data Connector and %d Assets calls; want %d and %d (%v)", gotDC, gotAssets, wantDC, wantAssets, c)
	}

	// ls -l sizes are the bytes a read returns.
	for _, line := range strings.Split(strings.TrimSpace(sh(t, "ls", "-l", assets)), "\n")[1:] {
		f := strings.Fields(line)
		name := f[len(f)-1]
		wc := strings.Fields(sh(t, "wc", "-c", filepath.Join(assets, name)))[0]
		if f[4] != wc {
			t.Errorf("%s: ls -l says %s bytes, wc -c %s", name, f[4], wc)
		}
	}
	py := `import csv,sys
rows=list(csv.reader(open(sys.argv[1],newline='',encoding='utf-8')))
print(len(rows)-1); print("\n".join(rows[0]))`
	lines := strings.Split(strings.TrimSpace(sh(t, "python3", "-c", py, filepath.Join(assets, "assets.csv"))), "\n")
	if n, _ := strconv.Atoi(lines[0]); n != s.Assets.AssetCount(pid) {
		t.Errorf("python csv reads %s rows, want %d", lines[0], s.Assets.AssetCount(pid))
	}
	for _, ca := range s.Assets.CustomAttributeNames(pid) {
		found := false
		for _, h := range lines[1:] {
			found = found || h == ca
		}
		if !found {
			t.Errorf("no column %q", ca)
		}
	}
	if _, err := exec.LookPath("ogrinfo"); err == nil {
		out := sh(t, "ogrinfo", "-ro", "-so", filepath.Join(assets, "assets.csv"), "assets")
		if !strings.Contains(out, fmt.Sprintf("Feature Count: %d", assetsemu.DemoAssets)) {
			t.Errorf("ogrinfo:\n%s", out)
		}
	} else {
		t.Log("ogrinfo not installed: GDAL check skipped")
	}

	// Data Connector files read right, the zip tests clean.
	weekly := filepath.Join(dc, dcemu.DemoWeekly)
	sh(t, "unzip", "-tq", filepath.Join(weekly, "latest", "autodesk_data_extract.zip"))
	got, err := os.ReadFile(filepath.Join(weekly, "latest", "issues_issues.csv"))
	if err != nil || !bytes.HasPrefix(got, []byte("bim360_account_id,issue_id")) {
		t.Fatalf("issues CSV: %v %q", err, got[:min(len(got), 40)])
	}

	// A range read, then another after the signed URL expired.
	jobs, err := os.ReadDir(filepath.Join(dc, bigExtract))
	if err != nil || len(jobs) != 2 {
		t.Fatalf("large extract lists %v, %v", jobs, err)
	}
	big := filepath.Join(dc, bigExtract, jobs[0].Name(), "big_table.csv")
	f, err := os.Open(big)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	if _, err := f.ReadAt(buf, 0); err != nil || !bytes.Equal(buf, tr.big[:4096]) {
		t.Fatalf("first read: %v", err)
	}
	s.ResetCounters()
	s.Advance(2 * time.Minute)
	off := int64(40<<20 + 123)
	if _, err := f.ReadAt(buf, off); err != nil || !bytes.Equal(buf, tr.big[off:off+4096]) {
		t.Fatalf("read after the URL expired: %v", err)
	}
	if c := s.Counters(); c[dcemu.OpData] < 1 || c[dcemu.OpDownload] < 2 {
		t.Errorf("after expiry: %d signed URL calls, %d downloads; want a refused download and a new URL", c[dcemu.OpData], c[dcemu.OpDownload])
	}
	local := filepath.Join(t.TempDir(), "big.csv")
	if err := os.WriteFile(local, tr.big, 0o600); err != nil {
		t.Fatal(err)
	}
	sh(t, "cmp", local, big)

	// Writes below them fail with EACCES.
	for _, p := range []string{filepath.Join(assets, "new.txt"), filepath.Join(weekly, "new.txt")} {
		if err := os.WriteFile(p, []byte("x"), 0o644); !errnoIs(err, syscall.EACCES) {
			t.Errorf("create %s: %v; want EACCES", p, err)
		}
	}
	if err := os.Remove(filepath.Join(assets, "assets.csv")); !errnoIs(err, syscall.EACCES) {
		t.Errorf("rm assets.csv: %v; want EACCES", err)
	}
	if err := os.Mkdir(filepath.Join(weekly, "x"), 0o755); !errnoIs(err, syscall.EACCES) {
		t.Errorf("mkdir in Data Connector: %v; want EACCES", err)
	}
}

package asfm

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/demo"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/wiring"
	bimemu "github.com/bimfs/bimfs/remote/bim360/emulator"
)

// world is a BIM 360 emulator with one project, and a folder of
// manifests.
type world struct {
	d         *demo.Demo
	s         *bimemu.Server
	project   string
	files     string
	dir       string
	tool      *Tool
	accountOK string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := demo.Start(ctx, demo.Options{Empty: true}, wiring.Env{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	w := &world{d: d, s: d.BIM360, dir: t.TempDir()}
	hub := w.s.AddHub("Acme")
	w.project = w.s.AddProject(hub, "Tower")
	w.files = w.s.TopFolder(w.project, "Project Files")
	bim := d.Accounts[0]
	w.accountOK = bim.Name
	w.tool = &Tool{Accounts: []Account{
		// An account that is not logged in is passed over.
		{Name: "logged-out", Open: func(context.Context) (Source, error) { return nil, errors.New("not logged in") }},
		{Name: bim.Name, Open: func(ctx context.Context) (Source, error) {
			b, err := wiring.Open(ctx, d.Env, bim, nil)
			if err != nil {
				return nil, err
			}
			t.Cleanup(func() { b.Close() })
			return b.(Source), nil
		}},
	}}
	return w
}

// manifest writes a manifest for item at version v with data beside it.
func (w *world) manifest(t *testing.T, name, item string, v int, data string) string {
	t.Helper()
	src := name + ".dwg"
	body := "{\n    \"ProjectId\": \"" + w.project + "\",\n    \"ItemId\": \"" + item + "\",\n    \"Version\": " +
		itoa(v) + ",\n    \"SourceFileName\": \"" + src + "\",\n    \"Note\": \"kept\"\n}\n"
	p := filepath.Join(w.dir, name+".asfm")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if data != "" {
		if err := os.WriteFile(filepath.Join(w.dir, src), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func itoa(n int) string { return strconv.Itoa(n) }

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestStatusReportsEachKind(t *testing.T) {
	w := newWorld(t)
	cur := w.s.AddFile(w.project, w.files, "current.dwg", bimemu.Bytes([]byte("c1")))
	stale := w.s.AddFile(w.project, w.files, "stale.dwg", bimemu.Bytes([]byte("s1")))
	w.s.AddVersion(w.project, stale, "stale.dwg", bimemu.Bytes([]byte("s2")))
	w.s.AddVersion(w.project, stale, "stale.dwg", bimemu.Bytes([]byte("s3")))
	gone := w.s.AddFile(w.project, w.files, "gone.dwg", bimemu.Bytes([]byte("g1")))
	w.s.DeleteItem(w.project, gone)
	paths := []string{
		w.manifest(t, "current", cur, 1, "c1"),
		w.manifest(t, "stale", stale, 1, "s1"),
		w.manifest(t, "gone", gone, 1, "g1"),
		w.manifest(t, "missing", "urn:adsk.wipprod:dm.lineage:nothing-here", 1, ""),
	}
	before := map[string]string{}
	for _, p := range paths {
		before[p] = read(t, p)
	}
	w.s.ResetCounters()
	res := w.tool.Status(context.Background(), paths)
	want := []struct {
		state     string
		local, tp int
		errPart   string
	}{
		{Current, 1, 1, ""},
		{Stale, 1, 3, ""},
		{Deleted, 1, 2, "was deleted"},
		{Missing, 1, 0, "does not exist"},
	}
	for i, r := range res {
		wt := want[i]
		if r.State != wt.state || r.Local != wt.local || r.Tip != wt.tp || !strings.Contains(r.Error, wt.errPart) {
			t.Errorf("%s: %+v, want %+v", filepath.Base(r.Manifest), r, wt)
		}
		if r.State != Missing && r.Account != w.accountOK {
			t.Errorf("%s: checked through account %q", r.Manifest, r.Account)
		}
	}
	c := w.s.Counters()
	if c[bimemu.OpItem] != int64(len(paths)) || c[bimemu.OpItemTip] != 0 || c[bimemu.OpItemVersions] != 0 {
		t.Errorf("calls: %v; want one GET item per manifest and no tip calls", c)
	}
	if c[bimemu.OpHubs] != 1 {
		t.Errorf("the project's account was looked up %d times, want once", c[bimemu.OpHubs])
	}
	for _, p := range paths {
		if read(t, p) != before[p] {
			t.Errorf("status changed %s", p)
		}
	}
}

func TestUpdateDownloadsTheTipAndRewritesVersion(t *testing.T) {
	w := newWorld(t)
	item := w.s.AddFile(w.project, w.files, "plan.dwg", bimemu.Bytes([]byte("old bytes")))
	w.s.AddVersion(w.project, item, "plan.dwg", bimemu.Bytes([]byte("the newest bytes")))
	p := w.manifest(t, "plan", item, 1, "old bytes")
	orig := read(t, p)
	res := w.tool.Update(context.Background(), []string{p})
	if res[0].State != Updated || res[0].Tip != 2 {
		t.Fatalf("update: %+v", res[0])
	}
	if got := read(t, filepath.Join(w.dir, "plan.dwg")); got != "the newest bytes" {
		t.Errorf("data after update: %q", got)
	}
	if got, want := read(t, p), strings.Replace(orig, `"Version": 1,`, `"Version": 2,`, 1); got != want {
		t.Errorf("manifest after update:\n%s\nwant\n%s", got, want)
	}
	noTempFiles(t, w.dir)

	// Already current: nothing is downloaded.
	w.s.ResetCounters()
	res = w.tool.Update(context.Background(), []string{p})
	if res[0].State != Current {
		t.Errorf("second update: %+v", res[0])
	}
	if c := w.s.Counters(); c[bimemu.OpSignedDownload] != 0 || c[bimemu.OpItem] != 1 {
		t.Errorf("a current manifest cost %v", c)
	}
}

func TestUpdateInterruptedLeavesEverythingAsItWas(t *testing.T) {
	w := newWorld(t)
	item := w.s.AddFile(w.project, w.files, "big.dwg", bimemu.Synthetic(5, 3<<20))
	w.s.AddVersion(w.project, item, "big.dwg", bimemu.Synthetic(6, 3<<20))
	p := w.manifest(t, "big", item, 1, "version one")
	orig := read(t, p)
	o := w.s.Options()
	o.RateReset = 1 // every S3 GET breaks off part-way
	w.s.SetOptions(o)
	res := w.tool.Update(context.Background(), []string{p})
	if res[0].State != Failed || !res[0].Failed() {
		t.Fatalf("interrupted update: %+v", res[0])
	}
	if read(t, p) != orig {
		t.Error("the manifest changed although the download failed")
	}
	if got := read(t, filepath.Join(w.dir, "big.dwg")); got != "version one" {
		t.Errorf("the data changed although the download failed: %d bytes", len(got))
	}
	noTempFiles(t, w.dir)

	o.RateReset = 0
	w.s.SetOptions(o)
	res = w.tool.Update(context.Background(), []string{p})
	if res[0].State != Updated {
		t.Fatalf("update after the fault: %+v", res[0])
	}
	want, _ := w.s.ReadTip(w.project, item)
	if got := read(t, filepath.Join(w.dir, "big.dwg")); !bytes.Equal([]byte(got), want) {
		t.Error("data after the retried update differs from the tip")
	}
}

func TestUpdateDownloadsMissingData(t *testing.T) {
	w := newWorld(t)
	item := w.s.AddFile(w.project, w.files, "a.dwg", bimemu.Bytes([]byte("only")))
	p := w.manifest(t, "a", item, 1, "")
	res := w.tool.Update(context.Background(), []string{p})
	if res[0].State != Updated || read(t, filepath.Join(w.dir, "a.dwg")) != "only" {
		t.Fatalf("update of a manifest without its data: %+v", res[0])
	}
}

func TestNoAccountSeesTheProject(t *testing.T) {
	w := newWorld(t)
	p := w.manifest(t, "x", "urn:x", 1, "")
	os.WriteFile(p, bytes.Replace([]byte(read(t, p)), []byte(w.project), []byte("b.not-a-project"), 1), 0o644)
	res := w.tool.Status(context.Background(), []string{p})
	if res[0].State != Failed || !strings.Contains(res[0].Error, "no BIM 360 account can see project b.not-a-project") ||
		!strings.Contains(res[0].Error, "logged-out: not logged in") {
		t.Errorf("%+v", res[0])
	}
}

func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".part") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

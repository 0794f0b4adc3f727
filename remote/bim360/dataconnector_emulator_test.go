package bim360

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bim360/assets"
	assetsemu "github.com/bimfs/bimfs/remote/bim360/assets/emulator"
	"github.com/bimfs/bimfs/remote/bim360/dataconnector"
	dcemu "github.com/bimfs/bimfs/remote/bim360/dataconnector/emulator"
	"github.com/bimfs/bimfs/remote/bim360/emulator"
)

// checkExtrasCalls checks the call budget of a walk over the demo account
// with both read-only folders on: one requests call per hub, one jobs call
// per request, one data-listing call per completed job (latest reuses it),
// no signed URL; and per project one call per page of assets, categories,
// status step sets, statuses, custom attributes, location nodes and
// relationships, one batch-get and one call per category.
func checkExtrasCalls(t *testing.T, s *emulator.Server, c map[string]int64, hubs, projects int) {
	t.Helper()
	var requests, completed int64
	for _, h := range s.Hubs() {
		r, j := s.DataConnector.Counts(strings.TrimPrefix(h, "b."))
		requests, completed = requests+int64(r), completed+int64(j)
	}
	if c[dcemu.OpListRequests] != int64(hubs) || c[dcemu.OpRequestJobs] != requests ||
		c[dcemu.OpDataListing] != completed || c[dcemu.OpData] != 0 {
		t.Errorf("Data Connector calls: requests %d (want %d), jobs %d (want %d), data-listing %d (want %d), data %d (want 0)",
			c[dcemu.OpListRequests], hubs, c[dcemu.OpRequestJobs], requests, c[dcemu.OpDataListing], completed, c[dcemu.OpData])
	}
	var wantAssets, wantCats, wantBatch int64
	for _, p := range s.Projects() {
		pid := strings.TrimPrefix(p, "b.")
		wantAssets += max(1, (int64(s.Assets.AssetCount(pid))+assets.PageLimit-1)/assets.PageLimit)
		cats := int64(s.Assets.CategoryCount(pid))
		wantCats += cats
		if cats > 0 {
			wantBatch++
		}
	}
	if c[assetsemu.OpAssets] != wantAssets || c[assetsemu.OpCategoryAttrs] != wantCats || c[assetsemu.OpBatchGetStatusSet] != wantBatch {
		t.Errorf("Assets calls: assets %d (want %d), category attributes %d (want %d), batch-get %d (want %d)",
			c[assetsemu.OpAssets], wantAssets, c[assetsemu.OpCategoryAttrs], wantCats, c[assetsemu.OpBatchGetStatusSet], wantBatch)
	}
	for _, op := range []string{assetsemu.OpCategories, assetsemu.OpStatusStepSets, assetsemu.OpAssetStatuses,
		assetsemu.OpCustomAttributes, assetsemu.OpLocationNodes, assetsemu.OpRelationships} {
		if c[op] != int64(projects) {
			t.Errorf("%s: %d calls, want one per project (%d)", op, c[op], projects)
		}
	}
	var total int64
	for op, n := range c {
		if strings.HasPrefix(op, "DC ") || strings.HasPrefix(op, "ASSETS ") || strings.HasPrefix(op, "LOCATIONS ") || strings.HasPrefix(op, "RELATIONSHIP ") {
			total += n
		}
	}
	t.Logf("walk over %d hubs and %d projects: %d Data Connector and Assets calls", hubs, projects, total)
}

func listNames(t *testing.T, b *Backend, id remote.ID) ([]remote.Entry, []string) {
	t.Helper()
	list, err := b.List(context.Background(), id)
	if err != nil {
		t.Fatalf("List %s: %v", id, err)
	}
	var names []string
	for _, e := range list {
		names = append(names, e.Name)
	}
	return list, names
}

func find(t *testing.T, list []remote.Entry, name string) remote.Entry {
	t.Helper()
	for _, e := range list {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no %q in listing", name)
	return remote.Entry{}
}

func readWhole(t *testing.T, b *Backend, e remote.Entry) []byte {
	t.Helper()
	got, err := readRange(b, e, 0, e.Size+10)
	if err != nil {
		t.Fatalf("read %s: %v", e.Name, err)
	}
	if int64(len(got)) != e.Size {
		t.Fatalf("%s: read %d bytes, listed size %d", e.Name, len(got), e.Size)
	}
	return got
}

func TestDataConnectorFolder(t *testing.T) {
	e := newEnv(t, emulator.Options{Seed: 11})
	e.s.Demo()
	cfg := e.cfg
	cfg.ExtrasTTL = time.Hour // the call counts below hold within one TTL
	e.b = e.backend(cfg)
	ctx := context.Background()
	hubs, _ := listNames(t, e.b, rootID)
	acme := find(t, hubs, "Demo Construction Co")
	projects, names := listNames(t, e.b, acme.ID)
	if names[len(names)-1] != dataconnector.FolderName || !projects[len(projects)-1].ReadOnly {
		t.Fatalf("hub lists %q; want %q last and read-only", names, dataconnector.FolderName)
	}
	dc := projects[len(projects)-1]
	// A throttled and an unavailable answer are retried, not shown.
	e.s.DataConnector.FailNext(http.StatusTooManyRequests, 1)
	e.s.DataConnector.FailNext(http.StatusServiceUnavailable, 1)
	reqs, names := listNames(t, e.b, dc.ID)
	if !slices.Equal(names, []string{dcemu.DemoRunning, dcemu.DemoWeekly}) {
		t.Fatalf("requests %q", names)
	}
	if _, names := listNames(t, e.b, find(t, reqs, dcemu.DemoRunning).ID); len(names) != 0 {
		t.Errorf("a request with only a running job lists %q", names)
	}
	jobs, names := listNames(t, e.b, find(t, reqs, dcemu.DemoWeekly).ID)
	if len(names) != 4 || names[3] != dataconnector.LatestName {
		t.Fatalf("weekly request lists %q; want three completed jobs and latest", names)
	}
	for _, n := range names[:3] {
		if _, err := time.Parse("2006-01-02 150405", n[:17]); err != nil || len(n) != 26 {
			t.Errorf("job folder %q is not <YYYY-MM-DD HHMMSS> <8 characters>", n)
		}
	}
	newest := jobs[2] // names sort by completion time
	files, fnames := listNames(t, e.b, newest.ID)
	latest, lnames := listNames(t, e.b, jobs[3].ID)
	if !slices.Equal(fnames, lnames) {
		t.Fatalf("latest lists %q, newest job %q", lnames, fnames)
	}
	for i := range files {
		if files[i].Size != latest[i].Size || files[i].Version != latest[i].Version || files[i].ID == latest[i].ID {
			t.Errorf("%s: latest entry %+v vs job entry %+v", files[i].Name, latest[i], files[i])
		}
	}
	for _, want := range []string{"README.html", "autodesk_data_extract.zip", "admin_users.csv"} {
		if !slices.Contains(fnames, want) {
			t.Errorf("job lists %q, missing %s", fnames, want)
		}
	}

	e.s.ResetCounters()
	csvEnt := find(t, files, "issues_issues.csv")
	rows, err := csv.NewReader(bytes.NewReader(readWhole(t, e.b, csvEnt))).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("issues CSV: %d rows, %v", len(rows), err)
	}
	mid, err := readRange(e.b, csvEnt, 100, 50)
	if err != nil || len(mid) != 50 {
		t.Fatalf("range read: %d bytes, %v", len(mid), err)
	}
	zipEnt := find(t, latest, "autodesk_data_extract.zip")
	zb := readWhole(t, e.b, zipEnt)
	if c := e.s.Counters(); c[dcemu.OpData] != 2 {
		t.Errorf("signed URL calls %d, want one per file while the URL lives", c[dcemu.OpData])
	}
	// The URL lives 60 s: after that S3 refuses it and the read asks again.
	e.s.Advance(2 * time.Minute)
	e.b.dc.SetClock(func() time.Time { return time.Now().Add(2 * time.Minute) })
	zb2 := readWhole(t, e.b, zipEnt)
	if !bytes.Equal(zb, zb2) {
		t.Fatal("zip differs after the signed URL expired")
	}
	if c := e.s.Counters(); c[dcemu.OpData] != 3 {
		t.Errorf("signed URL calls %d, want 3", c[dcemu.OpData])
	}
	zr, err := zip.NewReader(bytes.NewReader(zb), int64(len(zb)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(rc); err != nil {
			t.Fatalf("zip member %s: %v", f.Name, err)
		}
		rc.Close()
	}
	// A URL that expires between signing and use (the cache thought it
	// fresh) is signed again once.
	e.s.DataConnector.SetOptions(dcemu.Options{URLLifetime: time.Second})
	e.b.dc.SetClock(time.Now)
	e.s.ResetCounters()
	other := find(t, files, "admin_users.csv")
	_ = readWhole(t, e.b, other)
	e.s.Advance(5 * time.Second)
	got := readWhole(t, e.b, other)
	if c := e.s.Counters(); c[dcemu.OpData] != 2 || c[dcemu.OpDownload] != 3 {
		t.Errorf("after a refused URL: data %d, downloads %d; want 2 and 3", c[dcemu.OpData], c[dcemu.OpDownload])
	}
	want, _ := e.s.DataConnector.FileData(strings.SplitN(string(other.ID), "|", 5)[3], "admin_users.csv")
	if !bytes.Equal(got, want) {
		t.Error("content differs after re-signing")
	}

	// Stat answers from the cached listings.
	e.s.ResetCounters()
	for _, ent := range []remote.Entry{dc, newest, csvEnt, zipEnt, jobs[3]} {
		st, err := e.b.Stat(ctx, ent.ID)
		if err != nil || st.Name != ent.Name || st.Size != ent.Size {
			t.Errorf("Stat %s = %+v, %v", ent.Name, st, err)
		}
	}
	if c := e.s.Counters(); len(c) != 0 {
		t.Errorf("Stat within the TTL called %v", c)
	}
}

func TestDataConnectorForbiddenHub(t *testing.T) {
	e := newEnv(t, emulator.Options{Seed: 12})
	e.s.Demo()
	cfg := e.cfg
	cfg.ExtrasTTL = time.Hour // the refusal is remembered for one TTL
	e.b = e.backend(cfg)
	hubs, _ := listNames(t, e.b, rootID)
	second := find(t, hubs, "Second Account")
	projects, _ := listNames(t, e.b, second.ID)
	dc := projects[len(projects)-1]
	for range 3 {
		if list, err := e.b.List(context.Background(), dc.ID); err != nil || len(list) != 0 {
			t.Fatalf("forbidden hub: %d entries, %v; want an empty folder", len(list), err)
		}
	}
	if n := strings.Count(e.logs.String(), "executive overview"); n != 1 {
		t.Errorf("%d log lines about the permission, want 1:\n%s", n, e.logs.String())
	}
	if c := e.s.Counters(); c[dcemu.OpListRequests] != 1 {
		t.Errorf("requests calls %d, want 1 (the refusal is remembered for the TTL)", c[dcemu.OpListRequests])
	}
}

func TestExtrasReadOnly(t *testing.T) {
	e := newEnv(t, emulator.Options{Seed: 13})
	e.s.Demo()
	ctx := context.Background()
	walked := walk(t, e.b)
	dcFile := walked["/Demo Construction Co/Data Connector/"+dcemu.DemoWeekly+"/latest/README.html"]
	dcDir := walked["/Demo Construction Co/Data Connector/"+dcemu.DemoWeekly]
	aDir := walked["/Demo Construction Co/Tower A/Assets"]
	aFile := walked["/Demo Construction Co/Tower A/Assets/assets.csv"]
	docs := walked["/Demo Construction Co/Tower A/Project Files"]
	if dcFile.ID == "" || aFile.ID == "" || docs.ID == "" {
		t.Fatal("walk missed the read-only folders")
	}
	check := func(what string, err error, msg string) {
		t.Helper()
		if !remote.IsKind(err, remote.Permission) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v; want Permission %q", what, err, msg)
		}
	}
	const dcMsg, aMsg = "read-only: Data Connector data", "read-only: Assets data"
	_, err := e.b.Mkdir(ctx, dcDir.ID, "x")
	check("mkdir in Data Connector", err, dcMsg)
	_, err = e.b.Upload(ctx, remote.UploadRequest{Parent: aDir.ID, Name: "new.csv", Content: strings.NewReader(""), Size: 0})
	check("create in Assets", err, aMsg)
	_, err = e.b.Upload(ctx, remote.UploadRequest{Parent: aDir.ID, Name: "assets.csv", Existing: aFile.ID, Content: strings.NewReader("x"), Size: 1})
	check("overwrite in Assets", err, aMsg)
	check("rm in Data Connector", e.b.Remove(ctx, dcFile.ID), dcMsg)
	check("rm Assets", e.b.Remove(ctx, aDir.ID), aMsg)
	_, err = e.b.Rename(ctx, dcFile.ID, docs.ID, "README.html", "")
	check("mv out of Data Connector", err, dcMsg)
	_, err = e.b.Rename(ctx, walked["/Demo Construction Co/Tower A/Project Files/README.txt"].ID, aDir.ID, "README.txt", "")
	check("mv into Assets", err, aMsg)
	if e.b.SameSpace(dcFile.ID, docs.ID) || e.b.SameSpace(aFile.ID, docs.ID) {
		t.Error("SameSpace with a read-only folder")
	}
	for _, ent := range []remote.Entry{dcFile, dcDir, aDir, aFile} {
		if !ent.ReadOnly {
			t.Errorf("%s is not marked read-only", ent.Name)
		}
	}
}

func TestExtrasOff(t *testing.T) {
	e := newEnv(t, emulator.Options{Seed: 14})
	e.s.Demo()
	cfg := e.cfg
	cfg.NoDataConnector, cfg.NoAssets = true, true
	b := e.backend(cfg)
	e.s.ResetCounters()
	tree := walk(t, b)
	for p := range tree {
		if strings.Contains(p, "/"+dataconnector.FolderName) || strings.HasSuffix(p, "/"+assets.FolderName) {
			t.Errorf("%s listed with both folders off", p)
		}
	}
	for op, n := range e.s.Counters() {
		if strings.HasPrefix(op, "DC ") || strings.HasPrefix(op, "ASSETS ") {
			t.Errorf("%s called %d times with the folders off", op, n)
		}
	}
	if _, err := b.List(context.Background(), remote.ID("dc:b.x")); !remote.IsKind(err, remote.NotFound) {
		t.Errorf("List of a Data Connector ID with the folder off: %v", err)
	}
}

package bim360

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bim360/assets"
	assetsemu "github.com/bimfs/bimfs/remote/bim360/assets/emulator"
	"github.com/bimfs/bimfs/remote/bim360/emulator"
)

// assetsFolder lists Tower A's Assets folder of the demo.
func assetsFolder(t *testing.T, b *Backend) (remote.Entry, map[string]remote.Entry) {
	t.Helper()
	hubs, _ := listNames(t, b, rootID)
	projects, _ := listNames(t, b, find(t, hubs, "Demo Construction Co").ID)
	tops, names := listNames(t, b, find(t, projects, "Tower A").ID)
	if names[len(names)-1] != assets.FolderName {
		t.Fatalf("project lists %q; want %s last", names, assets.FolderName)
	}
	dir := tops[len(tops)-1]
	list, _ := listNames(t, b, dir.ID)
	m := map[string]remote.Entry{}
	for _, e := range list {
		m[e.Name] = e
	}
	return dir, m
}

func TestAssetsFolder(t *testing.T) {
	e := newEnv(t, emulator.Options{Seed: 15})
	e.s.Demo()
	tower := strings.TrimPrefix(e.s.ProjectByName("Tower A"), "b.")
	_, files := assetsFolder(t, e.b)
	for _, n := range assets.FileNames {
		ent, ok := files[n]
		if !ok {
			t.Fatalf("Assets lacks %s", n)
		}
		data := readWhole(t, e.b, ent)
		if !strings.HasSuffix(n, ".json") {
			continue
		}
		var v []map[string]any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Errorf("%s: %v", n, err)
		}
		switch n {
		case assets.FileAssetsJSON:
			if len(v) != e.s.Assets.AssetCount(tower) {
				t.Errorf("assets.json has %d assets, want %d", len(v), e.s.Assets.AssetCount(tower))
			}
			if _, ok := v[0]["customAttributes"]; !ok {
				t.Error("assets.json lacks custom attributes")
			}
		case assets.FileCategoryAssignments:
			for _, a := range v {
				if a["categoryPath"] == "Electrical > Light Fixtures" {
					if len(a["customAttributes"].([]any)) != 6 || a["statusStepSetId"] == "" {
						t.Errorf("Light Fixtures assignments %v; want 6 custom attributes (4 inherited) and a status set", a)
					}
				}
			}
		}
	}
	table := readWhole(t, e.b, files[assets.FileAssetsCSV])
	rows, err := csv.NewReader(bytes.NewReader(table)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows)-1 != e.s.Assets.AssetCount(tower) {
		t.Errorf("CSV has %d rows, want %d", len(rows)-1, e.s.Assets.AssetCount(tower))
	}
	header := rows[0]
	for _, n := range e.s.Assets.CustomAttributeNames(tower) {
		if !slices.Contains(header, n) {
			t.Errorf("CSV header %q lacks custom attribute %q", header, n)
		}
	}
	col := func(name string) int { return slices.Index(header, name) }
	seenPath, seenStatus, seenMulti := false, false, false
	for _, r := range rows[1:] {
		seenPath = seenPath || r[col("categoryPath")] == "Mechanical > HVAC > Air Handlers"
		seenStatus = seenStatus || r[col("status")] == "Installed \"tested\""
		seenMulti = seenMulti || r[col("Certifications")] == "UL; Énergie Star"
	}
	if !seenPath || !seenStatus || !seenMulti {
		t.Errorf("CSV values: category path %v, status label %v, multi-select %v", seenPath, seenStatus, seenMulti)
	}
}

func TestAssetsSnapshotVersions(t *testing.T) {
	e := newEnv(t, emulator.Options{Seed: 16})
	e.s.Demo()
	cfg := e.cfg
	cfg.ExtrasTTL = 10 * time.Minute // only the test's clock ages snapshots
	e.b = e.backend(cfg)
	tower := strings.TrimPrefix(e.s.ProjectByName("Tower A"), "b.")
	dir, files := assetsFolder(t, e.b)
	old := files[assets.FileAssetsCSV]
	// Within the TTL a listing is answered from the snapshot.
	e.s.ResetCounters()
	if _, err := e.b.List(context.Background(), dir.ID); err != nil {
		t.Fatal(err)
	}
	if c := e.s.Counters(); c[assetsemu.OpAssets] != 0 {
		t.Errorf("listing within the TTL fetched %d asset pages", c[assetsemu.OpAssets])
	}
	e.s.Assets.AddAsset(tower, assetsemu.Asset{ClientAssetID: "NEW-1", CategoryID: e.s.Assets.RootCategory(tower), IsActive: true})
	e.b.assets.SetClock(func() time.Time { return time.Now().Add(time.Hour) })
	_, files2 := assetsFolder(t, e.b)
	cur := files2[assets.FileAssetsCSV]
	if cur.Version.ID == old.Version.ID || cur.Size <= old.Size {
		t.Fatalf("after a change: version %s size %d, before %s size %d", cur.Version.ID, cur.Size, old.Version.ID, old.Size)
	}
	if files2[assets.FileCategories].Version != files[assets.FileCategories].Version {
		t.Error("an unchanged file got a new version")
	}
	// A handle opened on the old snapshot keeps reading it.
	got := readWhole(t, e.b, old)
	if bytes.Contains(got, []byte("NEW-1")) {
		t.Error("old version reads the new content")
	}
	if !bytes.Contains(readWhole(t, e.b, cur), []byte("NEW-1")) {
		t.Error("new version lacks the new asset")
	}
	// Three snapshots before the current one stay readable; older ones go.
	for i := 2; i <= 4; i++ {
		e.s.Assets.AddAsset(tower, assetsemu.Asset{ClientAssetID: "NEW-" + strconv.Itoa(i), CategoryID: e.s.Assets.RootCategory(tower)})
		e.b.assets.SetClock(func() time.Time { return time.Now().Add(time.Duration(i) * time.Hour) })
		assetsFolder(t, e.b)
		_, err := readRange(e.b, old, 0, 10)
		if i < 4 && err != nil {
			t.Errorf("after %d refreshes the first snapshot is gone: %v", i, err)
		}
		if i == 4 && !remote.IsKind(err, remote.NotFound) {
			t.Errorf("after 4 refreshes the first snapshot still reads (%v)", err)
		}
	}
}

// TestAssetsFaults fetches through every fault knob and expects the same
// files as a clean fetch.
func TestAssetsFaults(t *testing.T) {
	e := newEnv(t, emulator.Options{Seed: 17})
	e.s.Demo()
	_, clean := assetsFolder(t, e.b)
	want := readWhole(t, e.b, clean[assets.FileAssetsCSV])

	e.s.Assets.SetOptions(assetsemu.Options{PageSize: 37, EmptyPages: true, OpaqueCursors: true})
	e.s.Assets.FailNext(http.StatusTooManyRequests, 2)
	e.s.Assets.FailNext(http.StatusServiceUnavailable, 1)
	e.s.ResetCounters()
	b := e.backend(e.cfg)
	_, files := assetsFolder(t, b)
	got := readWhole(t, b, files[assets.FileAssetsCSV])
	if !bytes.Equal(got, want) {
		t.Error("assets.csv differs when fetched through small, empty and opaque pages and faults")
	}
	for _, n := range assets.FileNames {
		if files[n].Size != clean[n].Size {
			t.Errorf("%s: %d bytes, clean fetch %d", n, files[n].Size, clean[n].Size)
		}
	}
	if c := e.s.Counters(); c[assetsemu.OpAssets] < 2*2600/37 {
		t.Errorf("only %d asset pages with 37-asset pages and empty pages between", c[assetsemu.OpAssets])
	}
}

func TestAssetsLegacyPrefix(t *testing.T) {
	e := newEnv(t, emulator.Options{Seed: 18})
	e.s.Demo()
	cfg := e.cfg
	cfg.AssetsPrefix = assets.LegacyPrefix
	_, files := assetsFolder(t, e.backend(cfg))
	if files[assets.FileAssetsCSV].Size < 100000 {
		t.Errorf("assets.csv through %s: %d bytes", assets.LegacyPrefix, files[assets.FileAssetsCSV].Size)
	}
}

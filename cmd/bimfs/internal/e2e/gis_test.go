package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/demo"
	bimemu "github.com/bimfs/bimfs/remote/bim360/emulator"
)

func needTool(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (apt-get install gdal-bin)", tool)
		}
	}
}

// TestGDALReadsRasterOnMount opens a tiled GeoTIFF on the mount the way
// QGIS does (header, then scattered tiles) and checks GDAL sees the same
// raster as the local original.
func TestGDALReadsRasterOnMount(t *testing.T) {
	needTool(t, "gdal_create", "gdalinfo", "gdal_translate")
	local := filepath.Join(t.TempDir(), "dem.tif")
	runCmd(t, "gdal_create", "-of", "GTiff", "-outsize", "1024", "768", "-bands", "1", "-ot", "Byte", "-burn", "7",
		"-co", "TILED=YES", "-a_srs", "EPSG:32633", "-a_ullr", "500000", "5100000", "501024", "5099232", local)
	data, err := os.ReadFile(local)
	if err != nil {
		t.Fatal(err)
	}
	var tr bimTree
	m := startMount(t, mountConfig{cacheDir: true, setup: func(d *demo.Demo) {
		setupBIM(&tr)(d)
		d.BIM360.AddFile(tr.projectID, tr.files, "dem.tif", bimemu.Bytes(data))
	}})
	onMount := m.bim(tr.hub, tr.project, "Project Files", "dem.tif")
	info := runCmd(t, "gdalinfo", "-stats", onMount)
	for _, want := range []string{"Size is 1024, 768", "32633", "STATISTICS_MEAN=7"} {
		if !strings.Contains(info, want) {
			t.Fatalf("gdalinfo lacks %q:\n%s", want, info)
		}
	}
	win := filepath.Join(t.TempDir(), "win.tif")
	runCmd(t, "gdal_translate", "-q", "-srcwin", "300", "200", "64", "64", onMount, win)
	if out := runCmd(t, "gdalinfo", "-stats", win); !strings.Contains(out, "Size is 64, 64") || !strings.Contains(out, "STATISTICS_MEAN=7") {
		t.Fatalf("window read through the mount:\n%s", out)
	}
}

// TestGeoPackageWrittenOnMount creates a GeoPackage (an SQLite database
// written with random writes) directly on the mount, adds to it in place,
// and reads it back; the service ends up with a valid database.
func TestGeoPackageWrittenOnMount(t *testing.T) {
	needTool(t, "ogr2ogr", "ogrinfo")
	src := filepath.Join(t.TempDir(), "points.geojson")
	os.WriteFile(src, []byte(`{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"name":"A"},"geometry":{"type":"Point","coordinates":[13.4,52.5]}},
 {"type":"Feature","properties":{"name":"B"},"geometry":{"type":"Point","coordinates":[2.35,48.85]}}]}`), 0o644)
	var tr bimTree
	m := startMount(t, mountConfig{setup: setupBIM(&tr)})
	gpkg := m.bim(tr.hub, tr.project, "Project Files", "survey.gpkg")
	runCmd(t, "ogr2ogr", "-f", "GPKG", gpkg, src, "-nln", "points")
	runCmd(t, "ogr2ogr", "-update", "-append", gpkg, src, "-nln", "points")
	out := runCmd(t, "ogrinfo", "-so", "-al", gpkg)
	if !strings.Contains(out, "Feature Count: 4") {
		t.Fatalf("ogrinfo on the mount:\n%s", out)
	}
	id := m.demo.BIM360.FindChild(tr.projectID, tr.files, "survey.gpkg")
	if id == "" {
		t.Fatal("no survey.gpkg item")
	}
	b, err := m.demo.BIM360.ReadTip(tr.projectID, id)
	if err != nil || !strings.HasPrefix(string(b), "SQLite format 3\x00") {
		t.Fatalf("uploaded GeoPackage: %d bytes, %v", len(b), err)
	}
	// The committed bytes are a complete database on their own.
	copyPath := filepath.Join(t.TempDir(), "committed.gpkg")
	os.WriteFile(copyPath, b, 0o600)
	if out := runCmd(t, "ogrinfo", "-so", "-al", copyPath); !strings.Contains(out, "Feature Count: 4") {
		t.Fatalf("committed GeoPackage:\n%s", out)
	}
}

package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/asfm"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/demo"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/wiring"
	"github.com/bimfs/bimfs/fs"
	bimemu "github.com/bimfs/bimfs/remote/bim360/emulator"
)

func xattr(t *testing.T, path, name string) string {
	t.Helper()
	buf := make([]byte, 1024)
	n, err := unix.Getxattr(path, name, buf)
	if err != nil {
		t.Fatalf("getxattr %s %s: %v", path, name, err)
	}
	return string(buf[:n])
}

// TestBIM360VersionsAndManifests reads a BIM 360 file's history through
// the mount, checks the version attributes against the emulator's IDs,
// and keeps an ArcGIS manifest made from them up to date.
func TestBIM360VersionsAndManifests(t *testing.T) {
	var hubID, projectID, item string
	contents := [][]byte{[]byte("DWG v1\n"), []byte("DWG version two, longer\n"), []byte("3")}
	m := startMount(t, mountConfig{fs: fsOptsNoKernelCache(), setup: func(d *demo.Demo) {
		s := d.BIM360
		hubID = s.AddHub("Acme")
		projectID = s.AddProject(hubID, "Tower")
		files := s.TopFolder(projectID, "Project Files")
		item = s.AddFile(projectID, files, "Site Plan.dwg", bimemu.Bytes(contents[0]))
		s.AddVersion(projectID, item, "Site Plan.dwg", bimemu.Bytes(contents[1]))
		s.AddVersion(projectID, item, "Site Plan.dwg", bimemu.Bytes(contents[2]))
	}})
	s := m.demo.BIM360
	file := m.bim("Acme", "Tower", "Project Files", "Site Plan.dwg")
	hist := m.bim("Acme", "Tower", "Project Files", ".versions", "Site Plan.dwg")
	served := s.ItemVersions(projectID, item)
	for i, want := range contents {
		p := filepath.Join(hist, "v"+string(rune('1'+i))+".dwg")
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %q (%v), want %q", p, got, err, want)
		}
		if v := xattr(t, p, fs.XattrVersionID); v != served[i].ID {
			t.Errorf("%s: version_id %s, want %s", p, v, served[i].ID)
		}
	}
	for name, want := range map[string]string{
		fs.XattrID:        item,
		fs.XattrVersion:   "3",
		fs.XattrVersionID: s.TipVersion(projectID, item),
		fs.XattrProjectID: projectID,
		fs.XattrHubID:     hubID,
	} {
		if got := xattr(t, file, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}

	// A manifest from the mount, then a new version in the cloud.
	dir := t.TempDir()
	manifest := filepath.Join(dir, asfm.DefaultName(file))
	if err := asfm.Create(file, manifest); err != nil {
		t.Fatal(err)
	}
	mf, err := asfm.Parse([]byte(readFile(t, manifest)))
	if err != nil || mf.ProjectID != projectID || mf.ItemID != item || mf.Version != 3 || mf.SourceFileName != "Site Plan.dwg" {
		t.Fatalf("created manifest %+v, %v", mf, err)
	}
	if err := asfm.Create(file, manifest); err == nil {
		t.Error("create overwrote an existing manifest")
	}
	s.AddVersion(projectID, item, "Site Plan.dwg", bimemu.Bytes([]byte("four")))
	bim := m.demo.Accounts[0]
	tool := &asfm.Tool{Accounts: []asfm.Account{{Name: bim.Name, Open: func(ctx context.Context) (asfm.Source, error) {
		b, err := wiring.Open(ctx, m.demo.Env, bim, nil)
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { b.Close() })
		return b.(asfm.Source), nil
	}}}}
	if r := tool.Status(context.Background(), []string{manifest})[0]; r.State != asfm.Stale || r.Local != 3 || r.Tip != 4 {
		t.Errorf("status %+v", r)
	}
	if r := tool.Update(context.Background(), []string{manifest})[0]; r.State != asfm.Updated {
		t.Fatalf("update %+v", r)
	}
	if got := readFile(t, filepath.Join(dir, "Site Plan.dwg")); got != "four" {
		t.Errorf("updated data %q", got)
	}
	if !strings.Contains(readFile(t, manifest), `"Version": 4,`) {
		t.Errorf("manifest after update:\n%s", readFile(t, manifest))
	}
	// The mount shows the new version too.
	got, err := os.ReadFile(filepath.Join(hist, "v4.dwg"))
	if err != nil || string(got) != "four" {
		t.Errorf("v4 on the mount: %q, %v", got, err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBIMcloudVersionsShowTheCurrentRevision: BIMcloud has no readable
// history, so .versions holds the current revision, and the attributes
// name the blob.
func TestBIMcloudVersionsShowTheCurrentRevision(t *testing.T) {
	var tr bcTree
	m := startMount(t, mountConfig{setup: setupBC(&tr), fs: fsOptsNoKernelCache()})
	file := m.bc("Campus", "Library.pln")
	ents, err := os.ReadDir(m.bc("Campus", ".versions", "Library.pln"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "v1.pln" {
		t.Fatalf(".versions/Library.pln lists %v", ents)
	}
	got, err := os.ReadFile(m.bc("Campus", ".versions", "Library.pln", "v1.pln"))
	if err != nil || string(got) != "PLN model revision 1" {
		t.Errorf("v1.pln: %q, %v", got, err)
	}
	if id := xattr(t, file, fs.XattrID); id != tr.model {
		t.Errorf("%s = %q, want the blob ID %q", fs.XattrID, id, tr.model)
	}
	buf := make([]byte, 64)
	if _, err := unix.Getxattr(file, fs.XattrProjectID, buf); !errnoIs(err, unix.ENODATA) {
		t.Errorf("BIMcloud file has a project ID attribute: %v", err)
	}
}

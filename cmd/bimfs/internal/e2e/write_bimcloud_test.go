package e2e

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	bcemu "github.com/bimfs/bimfs/remote/bimcloud/emulator"
)

// blobAt returns the blob at a manager path and its bytes.
func blobAt(t *testing.T, s *bcemu.Server, path string) (bcemu.BlobInfo, []byte) {
	t.Helper()
	id, ok := s.Lookup(path)
	if !ok {
		t.Fatalf("no resource at %q", path)
	}
	info, ok := s.Blob(id)
	if !ok {
		t.Fatalf("%q is not a blob", path)
	}
	b, err := io.ReadAll(io.NewSectionReader(info.Content, 0, info.Content.Size()))
	if err != nil {
		t.Fatal(err)
	}
	return info, b
}

func TestBIMcloudWriteWithTools(t *testing.T) {
	var tr bcTree
	m := startMount(t, mountConfig{setup: setupBC(&tr)})
	s := m.demo.BIMcloud
	campus := m.bc("Campus")

	// A multi-part upload (larger than one 8 MiB part) of a new file.
	data := bytes.Repeat([]byte("IFC-SPF;\n"), 2<<20)
	local := filepath.Join(t.TempDir(), "model.ifc")
	os.WriteFile(local, data, 0o644)
	sh(t, "cp", local, campus+"/")
	info, got := blobAt(t, s, "Project Root/Campus/model.ifc")
	if !bytes.Equal(got, data) || info.ContentRevision != 1 {
		t.Fatalf("uploaded %d bytes rev %d", len(got), info.ContentRevision)
	}
	sh(t, "cmp", local, filepath.Join(campus, "model.ifc"))

	// Overwrite: same blob, new revision.
	os.WriteFile(local, []byte("revised"), 0o644)
	sh(t, "cp", local, filepath.Join(campus, "model.ifc"))
	again, got := blobAt(t, s, "Project Root/Campus/model.ifc")
	if again.ID != info.ID || again.ContentRevision != 2 || string(got) != "revised" {
		t.Fatalf("overwrite: %+v %q (first was %s)", again, got, info.ID)
	}

	// mkdir -p, then rename, move and delete.
	sh(t, "mkdir", "-p", filepath.Join(campus, "Issued", "Week 48"))
	if _, ok := s.Lookup("Project Root/Campus/Issued/Week 48"); !ok {
		t.Fatal("mkdir -p made no resource groups")
	}
	sh(t, "mv", filepath.Join(campus, "model.ifc"), filepath.Join(campus, "Issued", "Week 48", "model-final.ifc"))
	moved, got := blobAt(t, s, "Project Root/Campus/Issued/Week 48/model-final.ifc")
	if moved.ID != info.ID || string(got) != "revised" {
		t.Fatalf("after mv: %+v %q", moved, got)
	}
	if _, ok := s.Lookup("Project Root/Campus/model.ifc"); ok {
		t.Fatal("old path still exists after mv")
	}
	if err := os.Remove(filepath.Join(campus, "Issued")); !errnoIs(err, syscall.ENOTEMPTY) {
		t.Fatalf("rmdir of a non-empty folder: %v", err)
	}
	sh(t, "rm", "-r", filepath.Join(campus, "Issued"))
	if _, ok := s.Lookup("Project Root/Campus/Issued"); ok {
		t.Fatal("rm -r left the folder")
	}
	if out := sh(t, "ls", campus); strings.Contains(out, "Issued") {
		t.Fatalf("ls after rm -r:\n%s", out)
	}

	// Names BIMcloud forbids: EINVAL.
	if err := os.WriteFile(filepath.Join(campus, "a;b.pln"), []byte("x"), 0o644); !errnoIs(err, syscall.EINVAL) {
		t.Fatalf("forbidden name: %v", err)
	}
}

// TestBIMcloudSaveViaTempAndRename: the editor pattern leaves one blob at
// the original path with the new content and no temp blob.
func TestBIMcloudSaveViaTempAndRename(t *testing.T) {
	var tr bcTree
	m := startMount(t, mountConfig{setup: setupBC(&tr)})
	s := m.demo.BIMcloud
	campus := m.bc("Campus")
	tmp := filepath.Join(campus, ".Library.pln.tmp")
	if err := os.WriteFile(tmp, []byte("PLN model revision 2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(campus, "Library.pln")); err != nil {
		t.Fatal(err)
	}
	_, got := blobAt(t, s, "Project Root/Campus/Library.pln")
	if string(got) != "PLN model revision 2" {
		t.Fatalf("content after save: %q", got)
	}
	if _, ok := s.Lookup("Project Root/Campus/.Library.pln.tmp"); ok {
		t.Fatal("temp blob left behind")
	}
	if got, err := os.ReadFile(filepath.Join(campus, "Library.pln")); err != nil || string(got) != "PLN model revision 2" {
		t.Fatalf("read through the mount: %q %v", got, err)
	}
	if out := sh(t, "ls", "-a", campus); strings.Contains(out, "tmp") || strings.Contains(out, "bimfs-replaced") {
		t.Fatalf("ls shows leftovers:\n%s", out)
	}
}

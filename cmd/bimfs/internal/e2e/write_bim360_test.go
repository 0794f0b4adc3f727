package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	bimemu "github.com/bimfs/bimfs/remote/bim360/emulator"
)

// child finds a visible child of a BIM 360 folder by name.
func child(t *testing.T, s *bimemu.Server, projectID, folderID, name string) bimemu.Child {
	t.Helper()
	for _, c := range s.Children(projectID, folderID) {
		if c.Name == name && !c.Hidden {
			return c
		}
	}
	t.Fatalf("no %q in folder; children: %+v", name, s.Children(projectID, folderID))
	return bimemu.Child{}
}

func tip(t *testing.T, s *bimemu.Server, projectID, itemID string) []byte {
	t.Helper()
	b, err := s.ReadTip(projectID, itemID)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBIM360WriteWithTools(t *testing.T) {
	var tr bimTree
	m := startMount(t, mountConfig{setup: setupBIM(&tr)})
	s := m.demo.BIM360
	top := m.bim(tr.hub, tr.project, "Project Files")

	// cp of a new file creates an item holding exactly those bytes.
	local := filepath.Join(t.TempDir(), "report.pdf")
	data := bytes.Repeat([]byte("report line\n"), 200000)
	os.WriteFile(local, data, 0o644)
	sh(t, "cp", local, top+"/")
	item := child(t, s, tr.projectID, tr.files, "report.pdf")
	if got := tip(t, s, tr.projectID, item.ID); !bytes.Equal(got, data) {
		t.Fatalf("uploaded %d bytes, want %d", len(got), len(data))
	}
	// The listing shows it at once, with the right size, and it reads back.
	sh(t, "cmp", local, filepath.Join(top, "report.pdf"))

	// Writing the same name again is a new version of the same item.
	os.WriteFile(local, []byte("short now"), 0o644)
	sh(t, "cp", local, filepath.Join(top, "report.pdf"))
	again := child(t, s, tr.projectID, tr.files, "report.pdf")
	if again.ID != item.ID || again.VersionCount != 2 {
		t.Fatalf("second write made %+v, first was %+v", again, item)
	}
	if got, _ := os.ReadFile(filepath.Join(top, "report.pdf")); string(got) != "short now" {
		t.Fatalf("read after overwrite: %q", got)
	}

	// Appending and in-place writes start from the remote content.
	sh(t, "sh", "-c", "echo appended >> '"+filepath.Join(top, "Site Plan.dwg")+"'")
	if got := tip(t, s, tr.projectID, tr.itemSmall); string(got) != "DWG site plan v1\nappended\n" {
		t.Fatalf("append: %q", got)
	}
	sh(t, "dd", "if=/dev/zero", "of="+filepath.Join(top, "Site Plan.dwg"), "bs=1", "count=3", "seek=4", "conv=notrunc", "status=none")
	if got := tip(t, s, tr.projectID, tr.itemSmall); string(got) != "DWG \x00\x00\x00e plan v1\nappended\n" {
		t.Fatalf("dd notrunc: %q", got)
	}

	// mkdir -p makes real folders; files can go into them.
	sh(t, "mkdir", "-p", filepath.Join(top, "Issued", "2026", "Week 48"))
	issued := child(t, s, tr.projectID, tr.files, "Issued")
	y := child(t, s, tr.projectID, issued.ID, "2026")
	child(t, s, tr.projectID, y.ID, "Week 48")
	sh(t, "cp", local, filepath.Join(top, "Issued", "2026", "Week 48", "a.txt"))

	// tar -x and rsync -a of a small tree.
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "tree", "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "tree", "one.txt"), []byte("one"), 0o644)
	os.WriteFile(filepath.Join(src, "tree", "sub", "two.txt"), []byte("two"), 0o644)
	sh(t, "tar", "-C", src, "-cf", filepath.Join(src, "t.tar"), "tree")
	sh(t, "tar", "-C", top, "-xf", filepath.Join(src, "t.tar"))
	treeDir := child(t, s, tr.projectID, tr.files, "tree")
	sub := child(t, s, tr.projectID, treeDir.ID, "sub")
	if got := tip(t, s, tr.projectID, child(t, s, tr.projectID, sub.ID, "two.txt").ID); string(got) != "two" {
		t.Fatalf("tar -x: %q", got)
	}
	if _, err := exec.LookPath("rsync"); err == nil {
		sh(t, "rsync", "-a", filepath.Join(src, "tree")+"/", filepath.Join(top, "synced")+"/")
		synced := child(t, s, tr.projectID, tr.files, "synced")
		if got := tip(t, s, tr.projectID, child(t, s, tr.projectID, synced.ID, "one.txt").ID); string(got) != "one" {
			t.Fatalf("rsync -a: %q", got)
		}
		// rsync writes a temp file and renames it over: no stray item.
		for _, c := range s.Children(tr.projectID, synced.ID) {
			if strings.HasPrefix(c.Name, ".") && !c.Hidden {
				t.Fatalf("stray temp item %q", c.Name)
			}
		}
	}

	// mv within a project renames; rm deletes; rm -r removes a tree.
	sh(t, "mv", filepath.Join(top, "report.pdf"), filepath.Join(top, "report-final.pdf"))
	if got, _ := os.ReadFile(filepath.Join(top, "report-final.pdf")); string(got) != "short now" {
		t.Fatalf("after mv: %q", got)
	}
	if _, err := os.Stat(filepath.Join(top, "report.pdf")); !errnoIs(err, syscall.ENOENT) {
		t.Fatalf("old name after mv: %v", err)
	}
	sh(t, "rm", filepath.Join(top, "report-final.pdf"))
	sh(t, "rm", "-r", filepath.Join(top, "tree"))
	for _, c := range s.Children(tr.projectID, tr.files) {
		if (c.Name == "tree" || c.Name == "report-final.pdf" || c.Name == "report.pdf") && !c.Hidden {
			t.Fatalf("%q still visible after rm", c.Name)
		}
	}
	out := sh(t, "ls", top)
	if strings.Contains(out, "tree") || strings.Contains(out, "report") {
		t.Fatalf("ls after rm:\n%s", out)
	}
}

// TestBIM360SaveViaTempAndRename is the editor save pattern: write a temp
// file, rename it over the original. The original item gets a new version
// and no temp item stays listed.
func TestBIM360SaveViaTempAndRename(t *testing.T) {
	var tr bimTree
	m := startMount(t, mountConfig{setup: setupBIM(&tr)})
	s := m.demo.BIM360
	top := m.bim(tr.hub, tr.project, "Project Files")
	tmp := filepath.Join(top, ".Site Plan.dwg.tmp")
	if err := os.WriteFile(tmp, []byte("DWG site plan v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(top, "Site Plan.dwg")); err != nil {
		t.Fatal(err)
	}
	orig := child(t, s, tr.projectID, tr.files, "Site Plan.dwg")
	if orig.ID != tr.itemSmall || orig.VersionCount < 2 {
		t.Fatalf("original item after save: %+v (want id %s with history)", orig, tr.itemSmall)
	}
	if got := tip(t, s, tr.projectID, tr.itemSmall); string(got) != "DWG site plan v2\n" {
		t.Fatalf("content after save: %q", got)
	}
	for _, c := range s.Children(tr.projectID, tr.files) {
		if strings.Contains(c.Name, ".tmp") && !c.Hidden {
			t.Fatalf("stray temp item %+v", c)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(top, "Site Plan.dwg")); string(got) != "DWG site plan v2\n" {
		t.Fatalf("read through the mount: %q", got)
	}
}

func TestBIM360WriteRefusals(t *testing.T) {
	var tr bimTree
	m := startMount(t, mountConfig{setup: setupBIM(&tr)})
	top := m.bim(tr.hub, tr.project, "Project Files")

	// A name the service rejects: EINVAL, and the log names the rule.
	err := os.WriteFile(filepath.Join(top, "plan|A.dwg"), []byte("x"), 0o644)
	if !errnoIs(err, syscall.EINVAL) {
		t.Fatalf("bad name: %v", err)
	}
	if err := os.Mkdir(filepath.Join(top, "a*b"), 0o755); !errnoIs(err, syscall.EINVAL) {
		t.Fatalf("bad folder name: %v", err)
	}
	// Hub and project levels are not writable.
	if err := os.Mkdir(m.bim(tr.hub, tr.project, "New Top"), 0o755); !errnoIs(err, syscall.EACCES) && !errnoIs(err, syscall.EROFS) && !errnoIs(err, syscall.EPERM) {
		t.Fatalf("mkdir at project level: %v", err)
	}
	if err := os.WriteFile(filepath.Join(m.dir, "bim360-demo", tr.hub, "x.txt"), []byte("x"), 0o644); err == nil {
		t.Fatal("write at hub level succeeded")
	}
	// Non-empty rmdir and existing names.
	if err := os.Remove(filepath.Join(top, "Drawings")); !errnoIs(err, syscall.ENOTEMPTY) {
		t.Fatalf("rmdir non-empty: %v", err)
	}
	if err := os.Mkdir(filepath.Join(top, "Drawings"), 0o755); !errnoIs(err, syscall.EEXIST) {
		t.Fatalf("mkdir existing: %v", err)
	}
	// Moving between accounts is a cross-device rename, so mv copies.
	err = os.Rename(filepath.Join(top, "Site Plan.dwg"), filepath.Join(m.dir, "bimcloud-demo", "Site Plan.dwg"))
	if !errnoIs(err, syscall.EXDEV) {
		t.Fatalf("rename across accounts: %v", err)
	}
}

// TestBIM360FailedUploadKeptAndRetried: the service refuses to complete
// the upload; close reports EIO, the bytes stay staged (the xattr says so),
// and they reach the service once it recovers.
func TestBIM360FailedUploadKeptAndRetried(t *testing.T) {
	var tr bimTree
	m := startMount(t, mountConfig{setup: setupBIM(&tr)})
	s := m.demo.BIM360
	o := s.Options()
	o.FailComplete = 1000
	s.SetOptions(o)
	p := m.bim(tr.hub, tr.project, "Project Files", "precious.txt")
	err := os.WriteFile(p, []byte("do not lose me"), 0o644)
	if !errnoIs(err, syscall.EIO) {
		t.Fatalf("close with a failing service: %v", err)
	}
	// Still visible with its staged content.
	if got, err := os.ReadFile(p); err != nil || string(got) != "do not lose me" {
		t.Fatalf("staged file: %q %v", got, err)
	}
	state := make([]byte, 256)
	n, err := syscall.Getxattr(p, "user.bimfs.upload", state)
	// The background retry may already be running: any state but
	// committed says the bytes are still only staged.
	if err != nil || !(strings.HasPrefix(string(state[:n]), "failed: ") || strings.HasPrefix(string(state[:n]), "uploading")) {
		t.Fatalf("xattr: %q %v", state[:max(n, 0)], err)
	}
	o.FailComplete = 0
	s.SetOptions(o)
	waitUntil(t, "retried upload", func() bool {
		id := s.FindChild(tr.projectID, tr.files, "precious.txt")
		if id == "" {
			return false
		}
		b, err := s.ReadTip(tr.projectID, id)
		return err == nil && string(b) == "do not lose me"
	})
}

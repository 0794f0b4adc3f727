package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/demo"
	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fusefs"
	bimemu "github.com/bimfs/bimfs/remote/bim360/emulator"
)

// bimTree is the small BIM 360 project most tests use.
type bimTree struct {
	hub, project string
	projectID    string
	files        string // Project Files folder ID
	itemSmall    string
	itemBig      string
}

const (
	bigSeed = 42
	bigSize = 24<<20 + 12345
)

func setupBIM(tr *bimTree) func(d *demo.Demo) {
	return func(d *demo.Demo) {
		s := d.BIM360
		tr.hub, tr.project = "Acme Construction", "Tower A"
		hub := s.AddHub(tr.hub)
		tr.projectID = s.AddProject(hub, tr.project)
		tr.files = s.TopFolder(tr.projectID, "Project Files")
		tr.itemSmall = s.AddFile(tr.projectID, tr.files, "Site Plan.dwg", bimemu.Bytes([]byte("DWG site plan v1\n")))
		tr.itemBig = s.AddFile(tr.projectID, tr.files, "survey.tif", bimemu.Synthetic(bigSeed, bigSize))
		sub := s.AddFolder(tr.projectID, tr.files, "Drawings")
		s.AddFile(tr.projectID, sub, "A-101.pdf", bimemu.Bytes([]byte("%PDF-1.7 A-101")))
	}
}

// writeExpected writes the synthetic content to a local file for cmp.
func writeExpected(t *testing.T, seed, size int64) string {
	t.Helper()
	buf := make([]byte, size)
	for i := range buf {
		buf[i] = bimemu.SyntheticByte(seed, int64(i))
	}
	p := filepath.Join(t.TempDir(), "expected")
	if err := os.WriteFile(p, buf, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	return runCmd(t, name, args...)
}

// runCmd runs a tool and fails the test or benchmark if it fails.
func runCmd(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestBIM360ToolsOnMount(t *testing.T) {
	var tr bimTree
	m := startMount(t, mountConfig{setup: setupBIM(&tr), cacheDir: true})
	top := m.bim(tr.hub, tr.project, "Project Files")

	out := sh(t, "ls", m.dir)
	if !strings.Contains(out, demo.BIM360Account) || !strings.Contains(out, demo.BIMcloudAccount) {
		t.Fatalf("mount root: %q", out)
	}
	out = sh(t, "ls", "-l", top)
	for _, want := range []string{"Site Plan.dwg", "survey.tif", "Drawings", strconv.Itoa(bigSize)} {
		if !strings.Contains(out, want) {
			t.Fatalf("ls -l lacks %q:\n%s", want, out)
		}
	}
	if lines := strings.Split(sh(t, "ls", "-a", top), "\n"); len(lines) < 2 || lines[0] != "." || lines[1] != ".." {
		t.Fatalf("ls -a does not start with . and ..: %q", lines)
	}
	out = sh(t, "find", m.bim(tr.hub, tr.project, ""), "-type", "f")
	if !strings.Contains(out, "Drawings/A-101.pdf") || !strings.Contains(out, "Project Files/Site Plan.dwg") {
		t.Fatalf("find:\n%s", out)
	}
	if got := strings.TrimSpace(sh(t, "stat", "-c", "%s %F", filepath.Join(top, "survey.tif"))); got != strconv.Itoa(bigSize)+" regular file" {
		t.Fatalf("stat: %q", got)
	}
	// Stable inode numbers: ls -i (readdir) and stat (lookup) agree.
	ino := strings.Fields(sh(t, "ls", "-i", filepath.Join(top, "Site Plan.dwg")))[0]
	if got := strings.TrimSpace(sh(t, "stat", "-c", "%i", filepath.Join(top, "Site Plan.dwg"))); got != ino {
		t.Fatalf("inode %s vs %s", got, ino)
	}

	expected := writeExpected(t, bigSeed, bigSize)
	dst := filepath.Join(t.TempDir(), "copy.tif")
	sh(t, "cp", filepath.Join(top, "survey.tif"), dst)
	sh(t, "cmp", expected, dst)
	// dd at an unaligned offset reads exactly the right bytes.
	part := filepath.Join(t.TempDir(), "part")
	sh(t, "dd", "if="+filepath.Join(top, "survey.tif"), "of="+part, "bs=4099", "skip=1000", "count=7", "status=none")
	got, _ := os.ReadFile(part)
	want := make([]byte, 4099*7)
	for i := range want {
		want[i] = bimemu.SyntheticByte(bigSeed, int64(4099*1000+i))
	}
	if !bytes.Equal(got, want) {
		t.Fatal("dd skip read wrong bytes")
	}
	// Warm re-read from cache is still right.
	sh(t, "cmp", expected, filepath.Join(top, "survey.tif"))
}

func TestBIM360FaultsNeverWrongBytes(t *testing.T) {
	var tr bimTree
	m := startMount(t, mountConfig{setup: setupBIM(&tr)})
	expected := writeExpected(t, bigSeed, bigSize)
	o := m.demo.BIM360.Options()
	o.Rate429, o.Rate503, o.RateReset = 0.1, 0.1, 0.1
	o.URLLifetime = 300 * time.Millisecond
	o.Seed = 7
	m.demo.BIM360.SetOptions(o)
	src := m.bim(tr.hub, tr.project, "Project Files", "survey.tif")
	// Either the right bytes or an error: never different bytes.
	out, err := exec.Command("cmp", expected, src).CombinedOutput()
	if err != nil && strings.Contains(string(out), "differ") {
		t.Fatalf("wrong bytes under faults: %s", out)
	}
	if err != nil {
		t.Fatalf("read failed despite retries: %v %s", err, out)
	}
	if c := m.demo.BIM360.Counters(); c["GET signeds3download"] < 1 {
		t.Fatalf("counters %v", c)
	}
}

func TestBIM360DeletedBetweenListingAndOpen(t *testing.T) {
	var tr bimTree
	m := startMount(t, mountConfig{setup: setupBIM(&tr), fs: fsOptsNoKernelCache()})
	p := m.bim(tr.hub, tr.project, "Project Files", "Site Plan.dwg")
	sh(t, "ls", "-l", p)
	m.demo.BIM360.DeleteItem(tr.projectID, tr.itemSmall)
	_, err := os.ReadFile(p)
	if !errnoIs(err, syscall.ENOENT) {
		t.Fatalf("read of a deleted item: %v", err)
	}
}

func TestBIM360NewVersionVisibleAfterTTL(t *testing.T) {
	var tr bimTree
	m := startMount(t, mountConfig{setup: setupBIM(&tr), fs: fsOptsNoKernelCache()})
	p := m.bim(tr.hub, tr.project, "Project Files", "Site Plan.dwg")
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m.demo.BIM360.AddVersion(tr.projectID, tr.itemSmall, "Site Plan.dwg", bimemu.Bytes([]byte("DWG site plan v2, longer\n")))
	got, err := os.ReadFile(p)
	if err != nil || string(got) != "DWG site plan v2, longer\n" {
		t.Fatalf("new open reads %q %v", got, err)
	}
	// The handle opened before keeps reading its own version.
	old := make([]byte, 64)
	n, _ := f.ReadAt(old, 0)
	if string(old[:n]) != "DWG site plan v1\n" {
		t.Fatalf("old handle reads %q", old[:n])
	}
}

func TestBIM360TokenExpiryMidMount(t *testing.T) {
	var tr bimTree
	m := startMount(t, mountConfig{setup: setupBIM(&tr), fs: fsOptsNoKernelCache()})
	top := m.bim(tr.hub, tr.project, "Project Files")
	sh(t, "ls", top)
	m.demo.BIM360.ExpireTokens()
	got, err := os.ReadFile(filepath.Join(top, "Site Plan.dwg"))
	if err != nil || string(got) != "DWG site plan v1\n" {
		t.Fatalf("read after token expiry: %q %v", got, err)
	}
	if strings.Contains(m.log.String(), "Bearer") {
		t.Fatal("a token reached the log")
	}
}

func TestBIM360LsOf10kFolderUsesListingsOnly(t *testing.T) {
	var tr bimTree
	var big string
	// One ls is measured: a listing must not expire while a slow (race,
	// busy) machine is still listing.
	m := startMount(t, mountConfig{fs: fusefs.Options{Options: fs.Options{MetadataTTL: time.Hour}}, setup: func(d *demo.Demo) {
		setupBIM(&tr)(d)
		big = d.BIM360.AddFolder(tr.projectID, tr.files, "Scans")
		for i := 0; i < 10000; i++ {
			d.BIM360.AddFile(tr.projectID, big, "scan-"+strconv.Itoa(i)+".las", bimemu.Synthetic(int64(i), int64(i)))
		}
	}})
	m.demo.BIM360.ResetCounters()
	out := sh(t, "ls", "-l", m.bim(tr.hub, tr.project, "Project Files", "Scans"))
	if n := strings.Count(out, "scan-"); n != 10000 {
		t.Fatalf("ls -l shows %d files", n)
	}
	c := m.demo.BIM360.Counters()
	if c["GET folder contents"] > 60 || c["GET item tip"] != 0 || c["GET item"] != 0 {
		t.Fatalf("ls -l of 10,000 files made these API calls: %v", c)
	}
}

package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	bimemu "github.com/bimfs/bimfs/remote/bim360/emulator"
)

// rclone runs the rclone WebDAV client against the export.
func rclone(t *testing.T, e *export, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("rclone"); err != nil {
		t.Skip("rclone is not installed (.ci/run installs it)")
	}
	conf := filepath.Join(t.TempDir(), "rclone.conf")
	os.WriteFile(conf, nil, 0o600)
	base := []string{"--config", conf, "--webdav-url", e.url, "--webdav-vendor", "other", "--low-level-retries", "1", "--retries", "1"}
	var out, errb bytes.Buffer
	cmd := exec.Command("rclone", append(base, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("rclone %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// curl runs curl and returns the response headers and body.
func curl(t *testing.T, args ...string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	hdr, body := filepath.Join(dir, "headers"), filepath.Join(dir, "body")
	runCmd(t, "curl", append([]string{"-sS", "-D", hdr, "-o", body}, args...)...)
	h, _ := os.ReadFile(hdr)
	b, _ := os.ReadFile(body)
	return string(h), string(b)
}

func synthetic(seed, off, n int64) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = bimemu.SyntheticByte(seed, off+int64(i))
	}
	return b
}

// TestWebDAVWithRclone drives the export with real clients (rclone and
// curl): list, ranges, write, overwrite, mkdir, move, delete, lock.
func TestWebDAVWithRclone(t *testing.T) {
	var tr bimTree
	e := startExport(t, exportConfig{mountConfig: mountConfig{setup: setupBIM(&tr)}})
	s := e.demo.BIM360
	top := ":webdav:" + e.bimPath(tr.hub, tr.project, "Project Files")

	// List.
	ls := rclone(t, e, "lsf", top)
	for _, want := range []string{"Site Plan.dwg\n", "survey.tif\n", "Drawings/\n"} {
		if !strings.Contains(ls, want) {
			t.Errorf("rclone lsf lacks %q:\n%s", want, ls)
		}
	}
	sizes := rclone(t, e, "lsl", top+"/survey.tif")
	if !strings.Contains(sizes, fmt.Sprint(bigSize)) {
		t.Errorf("rclone lsl survey.tif: %s", sizes)
	}

	// Read ranges: rclone with offsets, curl with -r.
	got := rclone(t, e, "cat", "--offset", "1000000", "--count", "4096", top+"/survey.tif")
	if !bytes.Equal([]byte(got), synthetic(bigSeed, 1000000, 4096)) {
		t.Error("rclone cat of a range differs")
	}
	downloads := s.Counters()[bimemu.OpS3Get]
	hdr, body := curl(t, "-r", "20000000-20000099", e.bimURL(tr.hub, tr.project, "Project Files", "survey.tif"))
	if !strings.Contains(hdr, " 206") || !bytes.Equal([]byte(body), synthetic(bigSeed, 20000000, 100)) {
		t.Errorf("curl -r: %s (%d bytes)", hdr, len(body))
	}
	if n := s.Counters()[bimemu.OpS3Get] - downloads; n < 1 || n > 4 {
		t.Errorf("a 100-byte range made %d storage reads; want a few blocks, not the file", n)
	}

	// Write a new file, then overwrite it: one item, two versions.
	local := filepath.Join(t.TempDir(), "report.pdf")
	v1 := bytes.Repeat([]byte("report v1\n"), 100000)
	os.WriteFile(local, v1, 0o644)
	rclone(t, e, "copyto", local, top+"/report.pdf")
	item := child(t, s, tr.projectID, tr.files, "report.pdf")
	if item.VersionCount != 1 || !bytes.Equal(tip(t, s, tr.projectID, item.ID), v1) {
		t.Fatalf("after the first write: %+v", item)
	}
	v2 := []byte("report v2, shorter\n")
	os.WriteFile(local, v2, 0o644)
	rclone(t, e, "copyto", local, top+"/report.pdf")
	again := child(t, s, tr.projectID, tr.files, "report.pdf")
	if again.ID != item.ID || again.VersionCount != 2 || !bytes.Equal(tip(t, s, tr.projectID, item.ID), v2) {
		t.Fatalf("overwrite made %+v (first %+v)", again, item)
	}
	if out := rclone(t, e, "cat", top+"/report.pdf"); out != string(v2) {
		t.Errorf("read back %q", out)
	}

	// mkdir, move into it, delete, remove the folder.
	rclone(t, e, "mkdir", top+"/Reports")
	reports := child(t, s, tr.projectID, tr.files, "Reports")
	if reports.Type != "folders" {
		t.Fatalf("mkdir made %+v", reports)
	}
	rclone(t, e, "moveto", top+"/report.pdf", top+"/Reports/report.pdf")
	// BIM 360 moves a file to another folder as a copy of its tip and
	// a delete (see remote/bim360/rename.go): the content arrives once.
	moved := child(t, s, tr.projectID, reports.ID, "report.pdf")
	if !bytes.Equal(tip(t, s, tr.projectID, moved.ID), v2) {
		t.Errorf("moved file holds other bytes")
	}
	for _, c := range s.Children(tr.projectID, tr.files) {
		if c.Name == "report.pdf" && !c.Hidden {
			t.Error("report.pdf still in Project Files after the move")
		}
	}
	rclone(t, e, "deletefile", top+"/Reports/report.pdf")
	for _, c := range s.Children(tr.projectID, reports.ID) {
		if !c.Hidden {
			t.Errorf("left after delete: %+v", c)
		}
	}
	rclone(t, e, "rmdir", top+"/Reports")
	if ls := rclone(t, e, "lsf", top); strings.Contains(ls, "Reports") || strings.Contains(ls, "report.pdf") {
		t.Errorf("after rmdir:\n%s", ls)
	}

	// A move the service cannot make says so: 502 and why.
	hdr, body = curl(t, "-X", "MOVE", "-H", "Destination: "+e.url+"bimcloud-demo/Site%20Plan.dwg",
		e.bimURL(tr.hub, tr.project, "Project Files", "Site Plan.dwg"))
	if !strings.Contains(hdr, " 502") || !strings.Contains(body, "cannot move between services, accounts or projects") {
		t.Errorf("MOVE between services: %s %q", hdr, body)
	}

	// LOCK and UNLOCK with curl: a locked file refuses other writers.
	fileURL := e.bimURL(tr.hub, tr.project, "Project Files", "Site Plan.dwg")
	lockXML := `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>curl</D:owner></D:lockinfo>`
	hdr, body = curl(t, "-X", "LOCK", "-H", "Timeout: Second-60", "--data-binary", lockXML, fileURL)
	token := headerValue(hdr, "Lock-Token")
	if !strings.Contains(hdr, " 200") || token == "" {
		t.Fatalf("LOCK: %s %s", hdr, body)
	}
	hdr, _ = curl(t, "-X", "PUT", "--data-binary", "intruder", fileURL)
	if !strings.Contains(hdr, " 423") {
		t.Errorf("PUT without the lock token: %s", hdr)
	}
	hdr, _ = curl(t, "-X", "PUT", "-H", "If: ("+token+")", "--data-binary", "DWG site plan v2\n", fileURL)
	if !strings.Contains(hdr, " 201") {
		t.Errorf("PUT with the lock token: %s", hdr)
	}
	hdr, _ = curl(t, "-X", "UNLOCK", "-H", "Lock-Token: "+token, fileURL)
	if !strings.Contains(hdr, " 204") {
		t.Errorf("UNLOCK: %s", hdr)
	}
	plan := child(t, s, tr.projectID, tr.files, "Site Plan.dwg")
	if plan.VersionCount != 2 || string(tip(t, s, tr.projectID, plan.ID)) != "DWG site plan v2\n" {
		t.Errorf("locked save made %+v", plan)
	}
}

// headerValue returns a response header from curl -D output.
func headerValue(headers, name string) string {
	for _, line := range strings.Split(headers, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestWebDAVBesideMount serves one core through a mount and the export
// (`bimfs mount --webdav`): a save through either shows in the other at
// once, and bytes read through one are cached for the other.
func TestWebDAVBesideMount(t *testing.T) {
	var tr bimTree
	e := startExport(t, exportConfig{mountConfig: mountConfig{setup: setupBIM(&tr)}, mount: true})
	s := e.demo.BIM360
	mounted := filepath.Join(e.dir, e.bimPath(tr.hub, tr.project, "Project Files"))

	// Saved through WebDAV, read through the mount.
	req, _ := http.NewRequest(http.MethodPut, e.bimURL(tr.hub, tr.project, "Project Files", "from-dav.txt"), strings.NewReader("via WebDAV\n"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s", resp.Status)
	}
	if b, err := os.ReadFile(filepath.Join(mounted, "from-dav.txt")); err != nil || string(b) != "via WebDAV\n" {
		t.Errorf("mount reads %q, %v", b, err)
	}
	// Saved through the mount, read through WebDAV.
	if err := os.WriteFile(filepath.Join(mounted, "from-mount.txt"), []byte("via the mount\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(e.bimURL(tr.hub, tr.project, "Project Files", "from-mount.txt"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "via the mount\n" {
		t.Errorf("WebDAV reads %q (%s)", b, resp.Status)
	}
	if c := child(t, s, tr.projectID, tr.files, "from-mount.txt"); c.VersionCount != 1 {
		t.Errorf("from-mount.txt: %+v", c)
	}
	// One cache: the file read through the mount is served to WebDAV
	// without another download.
	readAll(t, filepath.Join(mounted, "survey.tif"))
	before := s.Counters()[bimemu.OpS3Get]
	resp, err = http.Get(e.bimURL(tr.hub, tr.project, "Project Files", "survey.tif"))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if n != bigSize {
		t.Errorf("GET read %d bytes", n)
	}
	if got := s.Counters()[bimemu.OpS3Get] - before; got != 0 {
		t.Errorf("GET after a read through the mount downloaded %d more times; want 0 (one cache)", got)
	}
}

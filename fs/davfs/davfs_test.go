package davfs_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/davfs"
	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/remotetest"
)

// multistatus is the part of a PROPFIND answer the tests read.
type multistatus struct {
	Responses []struct {
		Href string `xml:"href"`
		Prop struct {
			Length      string    `xml:"getcontentlength"`
			ETag        string    `xml:"getetag"`
			ContentType string    `xml:"getcontenttype"`
			Modified    string    `xml:"getlastmodified"`
			Collection  *xml.Name `xml:"resourcetype>collection"`
		} `xml:"propstat>prop"`
	} `xml:"response"`
}

func propfind(t *testing.T, s *server, path, depth string) multistatus {
	t.Helper()
	resp, body := s.do(t, "PROPFIND", path, nil, "Depth", depth)
	expect(t, resp, body, http.StatusMultiStatus)
	var ms multistatus
	if err := xml.Unmarshal([]byte(body), &ms); err != nil {
		t.Fatalf("PROPFIND %s: %v\n%s", path, err, body)
	}
	return ms
}

func TestListing(t *testing.T) {
	m := newMem(map[string][]byte{
		pf + "/plan.pdf":      []byte("%PDF-1.7 plan"),
		pf + "/model.noext12": []byte("<html>not html</html>"),
		pf + "/Sub/x.txt":     []byte("x"),
	})
	s := newServer(t, davfs.Options{}, fs.Account{Name: "acme", Backend: m})

	root := propfind(t, s, "/", "1")
	if len(root.Responses) != 2 || !strings.HasSuffix(root.Responses[1].Href, "/acme/") {
		t.Fatalf("root listing: %+v", root.Responses)
	}

	ms := propfind(t, s, url("acme", pf)+"/", "1")
	got := map[string]string{}
	for _, r := range ms.Responses {
		p := r.Prop
		got[r.Href] = fmt.Sprintf("len=%s type=%s dir=%v etag=%s", p.Length, p.ContentType, p.Collection != nil, p.ETag)
		if p.Modified == "" {
			t.Errorf("%s has no getlastmodified", r.Href)
		}
	}
	plan, _ := m.Entry(pf + "/plan.pdf")
	other, _ := m.Entry(pf + "/model.noext12")
	want := map[string]string{
		url("acme", pf) + "/":            "len= type= dir=true etag=",
		url("acme", pf, "Sub") + "/":     "len= type= dir=true etag=",
		url("acme", pf, "plan.pdf"):      fmt.Sprintf("len=13 type=application/pdf dir=false etag=%q", plan.Version.ID),
		url("acme", pf, "model.noext12"): fmt.Sprintf("len=21 type=application/octet-stream dir=false etag=%q", other.Version.ID),
	}
	for href, w := range want {
		if got[href] != w {
			t.Errorf("%s: %s; want %s", href, got[href], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("listing has %d entries: %v", len(got), got)
	}
	// Content types come from names: listing read no file.
	if n := m.Calls(remotetest.OpReadRange); n != 0 {
		t.Errorf("PROPFIND read %d ranges; want none", n)
	}
	// Listed again within the metadata TTL: no service call at all, and
	// no file is opened for its properties.
	m.ResetCalls()
	propfind(t, s, url("acme", pf)+"/", "1")
	if n, r := m.Calls(remotetest.OpList), m.Calls(remotetest.OpReadRange); n != 0 || r != 0 {
		t.Errorf("second PROPFIND: %d lists, %d range reads; want none", n, r)
	}
	// One file alone (Depth 0).
	if one := propfind(t, s, url("acme", pf, "plan.pdf"), "0"); len(one.Responses) != 1 {
		t.Errorf("Depth 0 of a file: %d responses", len(one.Responses))
	}
}

func TestInfiniteDepthRefused(t *testing.T) {
	m := newMem(nil)
	s := newServer(t, davfs.Options{}, fs.Account{Name: "acme", Backend: m})
	for _, depth := range []string{"infinity", ""} {
		resp, body := s.do(t, "PROPFIND", "/", nil, "Depth", depth)
		expect(t, resp, body, http.StatusForbidden)
		if !strings.Contains(body, "propfind-finite-depth") {
			t.Errorf("Depth %q: body %q names no precondition", depth, body)
		}
	}
	if n := m.Calls(remotetest.OpList); n != 0 {
		t.Errorf("refused PROPFIND listed %d folders", n)
	}
	allowed := newServer(t, davfs.Options{InfiniteDepth: true}, fs.Account{Name: "acme", Backend: newMem(nil)})
	if ms := propfind(t, allowed, "/acme/", "infinity"); len(ms.Responses) < 4 {
		t.Errorf("allowed infinite PROPFIND: %d responses", len(ms.Responses))
	}
}

func TestGetRanges(t *testing.T) {
	big := content(1, 5<<20+123)
	m := newMem(map[string][]byte{pf + "/big.rvt": big, pf + "/readme.txt": []byte("hello\n")})
	s := newServer(t, davfs.Options{}, fs.Account{Name: "acme", Backend: m})
	p := url("acme", pf, "big.rvt")

	// HEAD reads nothing and tells size, type and version.
	resp, body := s.do(t, http.MethodHead, p, nil)
	expect(t, resp, body, http.StatusOK)
	e, _ := m.Entry(pf + "/big.rvt")
	if resp.ContentLength != int64(len(big)) || resp.Header.Get("ETag") != `"`+e.Version.ID+`"` ||
		resp.Header.Get("Content-Type") != "application/octet-stream" || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("HEAD headers: length %d, %v", resp.ContentLength, resp.Header)
	}
	if n := m.Calls(remotetest.OpReadRange); n != 0 {
		t.Errorf("HEAD read %d ranges", n)
	}

	// A range near the end fetches only the blocks it covers.
	off := int64(4<<20 + 1000)
	resp, body = s.do(t, http.MethodGet, p, nil, "Range", fmt.Sprintf("bytes=%d-%d", off, off+99))
	expect(t, resp, body, http.StatusPartialContent)
	if body != string(big[off:off+100]) {
		t.Errorf("range body differs")
	}
	if n := m.Calls(remotetest.OpReadRange); n == 0 || n > 2 {
		t.Errorf("a 100-byte range made %d range reads; want 1 or 2", n)
	}
	// A suffix range and the whole file.
	resp, body = s.do(t, http.MethodGet, p, nil, "Range", "bytes=-10")
	expect(t, resp, body, http.StatusPartialContent)
	if body != string(big[len(big)-10:]) {
		t.Errorf("suffix range differs")
	}
	resp, body = s.do(t, http.MethodGet, p, nil)
	expect(t, resp, body, http.StatusOK)
	if body != string(big) {
		t.Errorf("whole file differs (%d bytes)", len(body))
	}
	resp, body = s.do(t, http.MethodGet, url("acme", pf, "readme.txt"), nil)
	expect(t, resp, body, http.StatusOK)
	if body != "hello\n" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("readme: %q %v", body, resp.Header.Get("Content-Type"))
	}
	// A folder has no body.
	resp, body = s.do(t, http.MethodGet, url("acme", pf), nil)
	expect(t, resp, body, http.StatusMethodNotAllowed)
}

func TestPutMakesOneVersionPerSave(t *testing.T) {
	m := newMem(nil)
	s := newServer(t, davfs.Options{}, fs.Account{Name: "acme", Backend: m})
	p := url("acme", pf, "notes.txt")

	resp, body := s.do(t, http.MethodPut, p, strings.NewReader("first"))
	expect(t, resp, body, http.StatusCreated)
	// Sync writeback: the answer came after the upload.
	if got, _ := m.Content(pf + "/notes.txt"); string(got) != "first" || versions(m, pf+"/notes.txt") != 1 {
		t.Fatalf("after PUT: %q, %d versions", got, versions(m, pf+"/notes.txt"))
	}
	etag1 := resp.Header.Get("ETag")

	resp, body = s.do(t, http.MethodPut, p, strings.NewReader("second, longer"))
	expect(t, resp, body, http.StatusCreated)
	if got, _ := m.Content(pf + "/notes.txt"); string(got) != "second, longer" || versions(m, pf+"/notes.txt") != 2 {
		t.Fatalf("after overwrite: %q, %d versions", got, versions(m, pf+"/notes.txt"))
	}
	etag2 := resp.Header.Get("ETag")
	if etag1 == "" || etag1 == etag2 {
		t.Errorf("ETags %q then %q: a new version needs a new ETag", etag1, etag2)
	}
	resp, body = s.do(t, http.MethodGet, p, nil)
	if body != "second, longer" || resp.Header.Get("ETag") != etag2 {
		t.Errorf("GET after overwrite: %q, ETag %q; want ETag %q", body, resp.Header.Get("ETag"), etag2)
	}

	// If-Match with the old ETag: someone saved since.
	resp, body = s.do(t, http.MethodPut, p, strings.NewReader("stale"), "If-Match", etag1)
	expect(t, resp, body, http.StatusPreconditionFailed)
	resp, body = s.do(t, http.MethodPut, p, strings.NewReader("third"), "If-Match", etag2)
	expect(t, resp, body, http.StatusCreated)
	if versions(m, pf+"/notes.txt") != 3 {
		t.Errorf("%d versions after a matching PUT; want 3", versions(m, pf+"/notes.txt"))
	}
	// An empty body is a save too.
	resp, body = s.do(t, http.MethodPut, url("acme", pf, "empty.dat"), strings.NewReader(""))
	expect(t, resp, body, http.StatusCreated)
	if got, ok := m.Content(pf + "/empty.dat"); !ok || len(got) != 0 {
		t.Errorf("empty PUT: %q, %v", got, ok)
	}
}

func TestMkcolMoveCopyDelete(t *testing.T) {
	m := newMem(map[string][]byte{pf + "/a.txt": []byte("alpha"), pf + "/b.txt": []byte("beta")})
	s := newServer(t, davfs.Options{}, fs.Account{Name: "acme", Backend: m})
	base := url("acme", pf)

	resp, body := s.do(t, "MKCOL", base+"/New", nil)
	expect(t, resp, body, http.StatusCreated)
	if e, ok := m.Entry(pf + "/New"); !ok || !e.Dir {
		t.Fatal("MKCOL made no folder")
	}
	resp, body = s.do(t, "MKCOL", base+"/New", nil)
	expect(t, resp, body, http.StatusMethodNotAllowed)
	resp, body = s.do(t, "MKCOL", base+"/Missing/Deeper", nil)
	expect(t, resp, body, http.StatusConflict)

	// MOVE into the new folder under a new name.
	resp, body = s.do(t, "MOVE", base+"/a.txt", nil, "Destination", s.url+base+"/New/a2.txt")
	expect(t, resp, body, http.StatusCreated)
	if got, _ := m.Content(pf + "/New/a2.txt"); string(got) != "alpha" {
		t.Errorf("moved content %q", got)
	}
	if _, ok := m.Entry(pf + "/a.txt"); ok {
		t.Error("source still exists after MOVE")
	}

	// MOVE over an existing file: the destination keeps its identity and
	// gets the content as a new version.
	bID, _ := m.Lookup(pf + "/b.txt")
	resp, body = s.do(t, "MOVE", base+"/New/a2.txt", nil, "Destination", s.url+base+"/b.txt")
	expect(t, resp, body, http.StatusNoContent)
	if id, _ := m.Lookup(pf + "/b.txt"); id != bID || len(m.Versions(bID)) != 2 {
		t.Errorf("MOVE over b.txt: id %s (was %s), %d versions; want the same item with 2", id, bID, len(m.Versions(bID)))
	}
	if got, _ := m.Content(pf + "/b.txt"); string(got) != "alpha" {
		t.Errorf("b.txt after MOVE over it: %q", got)
	}
	// Without Overwrite the protocol refuses first.
	resp, body = s.do(t, http.MethodPut, base+"/c.txt", strings.NewReader("gamma"))
	expect(t, resp, body, http.StatusCreated)
	resp, body = s.do(t, "MOVE", base+"/c.txt", nil, "Destination", s.url+base+"/b.txt", "Overwrite", "F")
	expect(t, resp, body, http.StatusPreconditionFailed)

	// COPY to a new name and over an existing file (a new version).
	resp, body = s.do(t, "COPY", base+"/c.txt", nil, "Destination", s.url+base+"/New/c.txt")
	expect(t, resp, body, http.StatusCreated)
	resp, body = s.do(t, "COPY", base+"/c.txt", nil, "Destination", s.url+base+"/b.txt")
	expect(t, resp, body, http.StatusNoContent)
	if got, _ := m.Content(pf + "/b.txt"); string(got) != "gamma" || len(m.Versions(bID)) != 3 {
		t.Errorf("COPY over b.txt: %q, %d versions", got, len(m.Versions(bID)))
	}

	// DELETE a file, then a folder with content.
	resp, body = s.do(t, http.MethodDelete, base+"/c.txt", nil)
	expect(t, resp, body, http.StatusNoContent)
	resp, body = s.do(t, http.MethodDelete, base+"/New", nil)
	expect(t, resp, body, http.StatusNoContent)
	if names := m.Names(pf); strings.Join(names, ",") != "b.txt" {
		t.Errorf("left after deletes: %v", names)
	}
	resp, body = s.do(t, http.MethodDelete, base+"/New", nil)
	expect(t, resp, body, http.StatusNotFound)
}

func TestLockUnlock(t *testing.T) {
	m := newMem(map[string][]byte{pf + "/doc.docx": []byte("v1")})
	s := newServer(t, davfs.Options{}, fs.Account{Name: "acme", Backend: m})
	p := url("acme", pf, "doc.docx")
	lockBody := `<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>office</D:owner></D:lockinfo>`

	resp, body := s.do(t, "LOCK", p, strings.NewReader(lockBody), "Timeout", "Second-60")
	expect(t, resp, body, http.StatusOK)
	token := resp.Header.Get("Lock-Token")
	if token == "" || !strings.Contains(body, "lockdiscovery") {
		t.Fatalf("LOCK answered no token: %v %q", resp.Header, body)
	}
	// Another client's write and a second lock are refused.
	resp, body = s.do(t, http.MethodPut, p, strings.NewReader("intruder"))
	expect(t, resp, body, http.StatusLocked)
	resp, body = s.do(t, "LOCK", p, strings.NewReader(lockBody))
	expect(t, resp, body, http.StatusLocked)
	// The lock holder writes.
	resp, body = s.do(t, http.MethodPut, p, strings.NewReader("v2"), "If", "("+token+")")
	expect(t, resp, body, http.StatusCreated)
	if got, _ := m.Content(pf + "/doc.docx"); string(got) != "v2" {
		t.Errorf("content after locked PUT: %q", got)
	}
	resp, body = s.do(t, "UNLOCK", p, nil, "Lock-Token", token)
	expect(t, resp, body, http.StatusNoContent)
	resp, body = s.do(t, http.MethodPut, p, strings.NewReader("v3"))
	expect(t, resp, body, http.StatusCreated)
	if n := versions(m, pf+"/doc.docx"); n != 3 {
		t.Errorf("%d versions; want 3", n)
	}

	// LOCK of a name that does not exist creates an empty file (Office
	// locks before it saves a new document).
	resp, body = s.do(t, "LOCK", url("acme", pf, "new.docx"), strings.NewReader(lockBody))
	expect(t, resp, body, http.StatusCreated)
	token = resp.Header.Get("Lock-Token")
	resp, body = s.do(t, http.MethodPut, url("acme", pf, "new.docx"), strings.NewReader("saved"), "If", "("+token+")")
	expect(t, resp, body, http.StatusCreated)
	if got, _ := m.Content(pf + "/new.docx"); string(got) != "saved" {
		t.Errorf("new.docx: %q", got)
	}
}

// TestPrefix serves the tree below a URL path, as behind a reverse proxy
// that forwards /dav/.
func TestPrefix(t *testing.T) {
	m := newMem(map[string][]byte{pf + "/a.txt": []byte("alpha")})
	s := newServer(t, davfs.Options{Prefix: "/dav/"}, fs.Account{Name: "acme", Backend: m})
	resp, body := s.do(t, http.MethodGet, "/dav"+url("acme", pf, "a.txt"), nil)
	expect(t, resp, body, http.StatusOK)
	if body != "alpha" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("GET below the prefix: %q %s", body, resp.Header.Get("Content-Type"))
	}
	resp, body = s.do(t, http.MethodGet, url("acme", pf, "a.txt"), nil)
	expect(t, resp, body, http.StatusNotFound)
	resp, body = s.do(t, "MOVE", "/dav"+url("acme", pf, "a.txt"), nil, "Destination", s.url+"/dav"+url("acme", pf, "b.txt"))
	expect(t, resp, body, http.StatusCreated)
	if got, _ := m.Content(pf + "/b.txt"); string(got) != "alpha" {
		t.Errorf("MOVE below the prefix: %q", got)
	}
	if ms := propfind(t, s, "/dav/acme/", "1"); len(ms.Responses) != 2 || ms.Responses[1].Href != "/dav/acme/Hub/" {
		t.Errorf("PROPFIND below the prefix: %+v", ms.Responses)
	}
}

// TestPutAsyncWriteback: with writeback=async a PUT is answered once the
// content is journaled; the upload follows in the background, one
// version per PUT.
func TestPutAsyncWriteback(t *testing.T) {
	m := newMem(nil)
	release := make(chan struct{})
	m.SetFault(func(ctx context.Context, op string, id remote.ID) error {
		if op == remotetest.OpUpload {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	s := newServerCore(t, davfs.Options{}, fs.Options{AsyncWriteback: true}, fs.Account{Name: "acme", Backend: m})
	p := url("acme", pf, "async.txt")
	resp, body := s.do(t, http.MethodPut, p, strings.NewReader("journaled first"))
	expect(t, resp, body, http.StatusCreated)
	if _, ok := m.Content(pf + "/async.txt"); ok {
		t.Fatal("the service had the file before the upload was let through")
	}
	// Readable at once from the staged copy.
	resp, body = s.do(t, http.MethodGet, p, nil)
	expect(t, resp, body, http.StatusOK)
	if body != "journaled first" {
		t.Errorf("GET before the upload: %q", body)
	}
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got, _ := m.Content(pf + "/async.txt"); string(got) == "journaled first" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background upload never arrived")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := versions(m, pf+"/async.txt"); n != 1 {
		t.Errorf("%d versions; want 1", n)
	}
}

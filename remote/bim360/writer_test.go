package bim360

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bimfs/bimfs/remote"
)

// fakeWrites is an APS double for write behaviours the emulator cannot
// produce: each route answers from a function the test chooses, and the
// requests are logged as "METHOD path?query body-summary".
type fakeWrites struct {
	mu     sync.Mutex
	log    []string
	routes map[string]func(r *http.Request, body map[string]any) (int, string)
}

func newFakeWrites(t *testing.T) (*fakeWrites, *Backend) {
	f := &fakeWrites{routes: map[string]func(*http.Request, map[string]any) (int, string){}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		key := r.Method + " " + r.URL.Path
		f.mu.Lock()
		f.log = append(f.log, key+"?"+r.URL.RawQuery+" "+summary(body))
		h := f.routes[key]
		f.mu.Unlock()
		if h == nil {
			writeJSON(w, 404, `{"errors":[{"status":"404","title":"no route"}]}`)
			return
		}
		status, answer := h(r, body)
		writeJSON(w, status, answer)
	}))
	t.Cleanup(srv.Close)
	fa := &fakeAPS{api: srv}
	return f, fa.backend(t, goodToken())
}

// summary names what a version payload asks for: its item, its name and
// whether it is a deletion.
func summary(body map[string]any) string {
	data, _ := body["data"].(map[string]any)
	attrs, _ := data["attributes"].(map[string]any)
	ext, _ := attrs["extension"].(map[string]any)
	rels, _ := data["relationships"].(map[string]any)
	item, _ := rels["item"].(map[string]any)
	itemData, _ := item["data"].(map[string]any)
	s := fmt.Sprintf("item=%v name=%v", itemData["id"], attrs["name"])
	if ext["type"] == VersionExtensionDeleted {
		s += " deleted"
	}
	return s
}

func (f *fakeWrites) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

const fakeItem = `{"data":{"type":"items","id":"urn:item","relationships":{"tip":{"data":{"type":"versions","id":"urn:v?version=1"}},
  "parent":{"data":{"type":"folders","id":"urn:f:a"}}}},
 "included":[{"type":"versions","id":"urn:v?version=1","attributes":{"name":"old.txt","versionNumber":1,"storageSize":5},
  "relationships":{"storage":{"data":{"type":"objects","id":"urn:adsk.objects:os.object:b/o"}}}}]}`

func copiedItem(id string) string {
	return `{"data":{"type":"items","id":"` + id + `","relationships":{"tip":{"data":{"type":"versions","id":"` + id + `?version=1"}}}},
	  "included":[{"type":"versions","id":"` + id + `?version=1","attributes":{"name":"new.txt","versionNumber":1}}]}`
}

// TestRenameFallsBackToCopy: a service that refuses copyFrom within one
// item gets the rename as a copy in the same folder and a delete.
func TestRenameFallsBackToCopy(t *testing.T) {
	f, b := newFakeWrites(t)
	f.routes["GET /data/v1/projects/b.p/items/urn:item"] = func(*http.Request, map[string]any) (int, string) { return 200, fakeItem }
	f.routes["POST /data/v1/projects/b.p/versions"] = func(r *http.Request, body map[string]any) (int, string) {
		if r.URL.Query().Get("copyFrom") != "" {
			return 400, `{"errors":[{"status":"400","title":"Bad Request","detail":"copyFrom must name another item's version"}]}`
		}
		return 201, `{"data":{"type":"versions","id":"urn:v?version=2","attributes":{"extension":{"type":"versions:autodesk.core:Deleted"}}}}`
	}
	f.routes["POST /data/v1/projects/b.p/items"] = func(*http.Request, map[string]any) (int, string) { return 201, copiedItem("urn:item2") }

	ent, err := b.Rename(context.Background(), mustItemID("b.p", "urn:item"), mustFolderID("b.p", "urn:f:a"), "new.txt", "")
	if err != nil {
		t.Fatal(err)
	}
	if ent.ID != mustItemID("b.p", "urn:item2") || ent.Name != "new.txt" || ent.Size != 5 {
		t.Errorf("entry %+v", ent)
	}
	want := []string{
		"GET /data/v1/projects/b.p/items/urn:item? item=<nil> name=<nil>",
		"POST /data/v1/projects/b.p/versions?copyFrom=urn%3Av%3Fversion%3D1 item=urn:item name=new.txt",
		"POST /data/v1/projects/b.p/items?copyFrom=urn%3Av%3Fversion%3D1 item=<nil> name=<nil>",
		"POST /data/v1/projects/b.p/versions? item=urn:item name=old.txt deleted",
	}
	if got := f.requests(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestMoveRollsBack: when the source of a move cannot be deleted, the copy
// is deleted again, so the file is not listed twice, and the move fails.
func TestMoveRollsBack(t *testing.T) {
	f, b := newFakeWrites(t)
	f.routes["GET /data/v1/projects/b.p/items/urn:item"] = func(*http.Request, map[string]any) (int, string) { return 200, fakeItem }
	f.routes["POST /data/v1/projects/b.p/items"] = func(*http.Request, map[string]any) (int, string) { return 201, copiedItem("urn:item2") }
	f.routes["POST /data/v1/projects/b.p/versions"] = func(_ *http.Request, body map[string]any) (int, string) {
		if strings.Contains(summary(body), "item=urn:item ") {
			return 403, `{"errors":[{"status":"403","title":"Forbidden","detail":"no delete permission"}]}`
		}
		return 201, `{"data":{"type":"versions","id":"urn:item2?version=2"}}`
	}
	_, err := b.Rename(context.Background(), mustItemID("b.p", "urn:item"), mustFolderID("b.p", "urn:f:b"), "new.txt", "")
	if !remote.IsKind(err, remote.Permission) || !strings.Contains(err.Error(), "no delete permission") {
		t.Fatalf("err %v, want Permission with the service's message", err)
	}
	got := f.requests()
	if last := got[len(got)-1]; last != "POST /data/v1/projects/b.p/versions? item=urn:item2 name=new.txt deleted" {
		t.Errorf("last request %q, want the copy's deletion", last)
	}
}

// TestUploadNameTakenByFolder: POST items answers 409 and the folder holds
// no file of that name (a folder has it): Exists, no version is made.
func TestUploadNameTakenByFolder(t *testing.T) {
	f, b := newFakeWrites(t)
	s3 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("ETag", `"e"`)
	}))
	t.Cleanup(s3.Close)
	f.routes["POST /data/v1/projects/b.p/storage"] = func(*http.Request, map[string]any) (int, string) {
		return 201, `{"data":{"type":"objects","id":"urn:adsk.objects:os.object:bkt/k"}}`
	}
	f.routes["GET /oss/v2/buckets/bkt/objects/k/signeds3upload"] = func(*http.Request, map[string]any) (int, string) {
		return 200, `{"uploadKey":"UK","urls":["` + s3.URL + `/k?part=1"]}`
	}
	f.routes["POST /oss/v2/buckets/bkt/objects/k/signeds3upload"] = func(*http.Request, map[string]any) (int, string) { return 200, `{"size":3}` }
	f.routes["POST /data/v1/projects/b.p/items"] = func(*http.Request, map[string]any) (int, string) {
		return 409, `{"errors":[{"status":"409","title":"Conflict","detail":"Another object with the same name already exists in this container"}]}`
	}
	f.routes["GET /data/v1/projects/b.p/folders/urn:f:a/contents"] = func(*http.Request, map[string]any) (int, string) { return 200, `{"data":[]}` }
	_, err := b.Upload(context.Background(), remote.UploadRequest{Parent: mustFolderID("b.p", "urn:f:a"), Name: "x", Size: 3, Content: strings.NewReader("abc")})
	if !remote.IsKind(err, remote.Exists) {
		t.Fatalf("err %v (kind %v), want Exists", err, remote.KindOf(err))
	}
	for _, r := range f.requests() {
		if strings.HasPrefix(r, "POST /data/v1/projects/b.p/versions") {
			t.Errorf("a version was created: %s", r)
		}
	}
}

// recordingReaderAt is content that is never held in memory: it records
// the largest single read.
type recordingReaderAt struct {
	size    int64
	maxRead atomic.Int64
}

func (r *recordingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	for {
		m := r.maxRead.Load()
		if int64(len(p)) <= m || r.maxRead.CompareAndSwap(m, int64(len(p))) {
			break
		}
	}
	if off >= r.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), r.size-off))
	for i := range n {
		p[i] = byte(off + int64(i))
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// TestUploaderStreamsAndRefreshes: parts are read in small pieces straight
// from the ReaderAt (memory does not grow with the part size), URL batches
// hold at most 25 URLs with the right first part, and a URL S3 keeps
// refusing ends as Permission after a bounded number of fresh URLs.
func TestUploaderStreamsAndRefreshes(t *testing.T) {
	const part = 8 << 20
	var s3Bytes atomic.Int64
	var refuse atomic.Bool
	s3 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refuse.Load() {
			w.WriteHeader(403)
			io.WriteString(w, `<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`)
			return
		}
		n, _ := io.Copy(io.Discard, r.Body)
		if n != r.ContentLength {
			t.Errorf("part body %d bytes, Content-Length %d", n, r.ContentLength)
		}
		s3Bytes.Add(n)
		w.Header().Set("ETag", `"`+r.URL.Query().Get("p")+`"`)
	}))
	t.Cleanup(s3.Close)
	f, b := newFakeWrites(t)
	var bm sync.Mutex // protects batches and complete
	var batches []string
	f.routes["GET /oss/v2/buckets/bkt/objects/k/signeds3upload"] = func(r *http.Request, _ map[string]any) (int, string) {
		q := r.URL.Query()
		var first, parts int
		fmt.Sscan(q.Get("firstPart"), &first)
		fmt.Sscan(q.Get("parts"), &parts)
		bm.Lock()
		defer bm.Unlock()
		batches = append(batches, q.Get("firstPart")+"+"+q.Get("parts")+" key="+q.Get("uploadKey"))
		urls := make([]string, parts)
		for i := range urls {
			urls[i] = fmt.Sprintf(`"%s/k?p=%d"`, s3.URL, first+i)
		}
		return 200, `{"uploadKey":"UK","urls":[` + strings.Join(urls, ",") + `]}`
	}
	var complete map[string]any
	f.routes["POST /oss/v2/buckets/bkt/objects/k/signeds3upload"] = func(_ *http.Request, body map[string]any) (int, string) {
		bm.Lock()
		defer bm.Unlock()
		complete = body
		return 200, `{}`
	}
	b.up.partSize, b.up.parallel = part, 4
	content := &recordingReaderAt{size: 27*part + 5}
	if _, err := b.up.upload(context.Background(), "bkt", "k", content.size, content, nil); err != nil {
		t.Fatal(err)
	}
	if s3Bytes.Load() != content.size {
		t.Errorf("S3 got %d bytes, want %d", s3Bytes.Load(), content.size)
	}
	if m := content.maxRead.Load(); m > 1<<20 {
		t.Errorf("largest read %d bytes: parts are buffered, not streamed", m)
	}
	if strings.Join(batches, ",") != "1+25 key=,26+3 key=UK" {
		t.Errorf("URL batches %q", batches)
	}
	if tags, _ := complete["eTags"].([]any); len(tags) != 28 || tags[0] != "1" || tags[27] != "28" || complete["size"] != float64(content.size) {
		t.Errorf("completion body %v", complete)
	}

	refuse.Store(true)
	batches = nil
	_, err := b.up.upload(context.Background(), "bkt", "k", 10, content, nil)
	if !remote.IsKind(err, remote.Permission) || !strings.Contains(err.Error(), "part 1 of 1") {
		t.Fatalf("err %v (kind %v), want Permission naming the part", err, remote.KindOf(err))
	}
	if len(batches) != 1+maxURLRefreshes {
		t.Errorf("%d signeds3upload calls for a refused URL, want %d", len(batches), 1+maxURLRefreshes)
	}
}

func TestPlanParts(t *testing.T) {
	tests := []struct {
		size, want     int64
		partSize       int64
		parts          int
		wantErrNoSpace bool
	}{
		{0, DefaultPartSize, DefaultPartSize, 1, false},
		{1, DefaultPartSize, DefaultPartSize, 1, false},
		{DefaultPartSize, DefaultPartSize, DefaultPartSize, 1, false},
		{DefaultPartSize + 1, DefaultPartSize, DefaultPartSize, 2, false},
		{100 << 20, 1 << 20, MinPartSize, 20, false}, // raised to the 5 MiB floor
		{MaxParts * DefaultPartSize, DefaultPartSize, DefaultPartSize, MaxParts, false},
		{MaxParts*DefaultPartSize + 1, DefaultPartSize, DefaultPartSize + 1<<20, 9412, false}, // grown in whole MiB
		{1 << 40, DefaultPartSize, 105 << 20, 9987, false},                                    // 1 TiB
		{MaxParts*maxPartSize + 1, DefaultPartSize, 0, 0, true},
	}
	for _, tt := range tests {
		ps, n, err := planParts(tt.size, tt.want, MinPartSize)
		if tt.wantErrNoSpace {
			if !remote.IsKind(err, remote.NoSpace) {
				t.Errorf("size %d: %v, want NoSpace", tt.size, err)
			}
			continue
		}
		if err != nil || ps != tt.partSize || n != tt.parts || n > MaxParts || (tt.size > 0 && int64(n-1)*ps >= tt.size) {
			t.Errorf("planParts(%d, %d) = %d, %d, %v; want %d, %d", tt.size, tt.want, ps, n, err, tt.partSize, tt.parts)
		}
	}
}

package bim360

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/httpx"
)

// testClient returns a Client for handler h without authentication and
// with millisecond backoff.
func testClient(t *testing.T, h http.Handler) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL, &httpx.Client{HTTP: srv.Client(), MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond, Logger: quietLog}, "")
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// TestPathEscaping checks that IDs travel as single escaped path segments:
// a version ID's "?version=2" must not start a query string.
func TestPathEscaping(t *testing.T) {
	var gotURI string
	c, _ := testClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotURI = r.RequestURI
		writeJSON(w, 200, `{"data":{"type":"versions","id":"x","attributes":{"name":"a.rvt","versionNumber":2}}}`)
	}))
	v, err := c.Versions.Get(context.Background(), "b.p1", "urn:adsk.wipprod:fs.file:vf.L1?version=2")
	if err != nil {
		t.Fatal(err)
	}
	want := "/data/v1/projects/b.p1/versions/urn%3Aadsk.wipprod%3Afs.file%3Avf.L1%3Fversion%3D2"
	if gotURI != want {
		t.Fatalf("request URI %q, want %q", gotURI, want)
	}
	if v.Attributes.Name != "a.rvt" || v.Attributes.VersionNumber != 2 {
		t.Fatalf("decoded %+v", v.Attributes)
	}
}

func TestUserIDHeader(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("x-user-id")
		writeJSON(w, 200, `{"data":[]}`)
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, &httpx.Client{HTTP: srv.Client()}, "USER42")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Hubs.List(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got != "USER42" {
		t.Fatalf("x-user-id %q", got)
	}
}

// TestContentsPagination follows next links that are relative, then
// absolute, across an empty page in the middle, and joins everything.
func TestContentsPagination(t *testing.T) {
	var calls atomic.Int32
	var srvURL string
	var firstQuery string
	c, srv := testClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if !strings.HasSuffix(r.URL.Path, "/contents") {
			t.Errorf("path %s", r.URL.Path)
		}
		switch r.URL.Query().Get("page[number]") {
		case "":
			firstQuery = r.URL.RawQuery
			writeJSON(w, 200, `{"data":[
			  {"type":"folders","id":"urn:f1","attributes":{"name":"Sub","hidden":false}},
			  {"type":"items","id":"urn:i1","attributes":{"displayName":"ignored"},
			   "relationships":{"tip":{"data":{"type":"versions","id":"urn:v1?version=3"}}}}],
			 "included":[{"type":"versions","id":"urn:v1?version=3","attributes":{"name":"a.rvt","versionNumber":3,"storageSize":10,
			   "lastModifiedTime":"2018-01-17T11:52:11.0000000Z"},
			   "relationships":{"storage":{"data":{"type":"objects","id":"urn:adsk.objects:os.object:wip.dm.prod/a.rvt"}}}}],
			 "links":{"next":{"href":"/data/v1/projects/b.p/folders/urn%3Af/contents?page%5Bnumber%5D=1&page%5Blimit%5D=200"}}}`)
		case "1":
			writeJSON(w, 200, fmt.Sprintf(`{"data":[],"links":{"next":{"href":"%s/data/v1/projects/b.p/folders/urn%%3Af/contents?page%%5Bnumber%%5D=2&page%%5Blimit%%5D=200"}}}`, srvURL))
		case "2":
			writeJSON(w, 200, `{"data":[{"type":"items","id":"urn:i2","relationships":{"tip":{"data":{"id":"urn:v2?version=1"}}}}],
			  "included":[{"type":"versions","id":"urn:v2?version=1","attributes":{"name":"b.pdf","versionNumber":1}}],
			  "links":{"self":{"href":"x"}}}`)
		default:
			t.Errorf("unexpected page %s", r.URL.RawQuery)
			writeJSON(w, 404, `{}`)
		}
	}))
	srvURL = srv.URL
	fc, err := c.Folders.Contents(context.Background(), &ContentsRequest{ProjectID: "b.p", FolderID: "urn:f"})
	if err != nil {
		t.Fatal(err)
	}
	if firstQuery != "page%5Blimit%5D=200" {
		t.Errorf("first query %q, want page[limit]=200", firstQuery)
	}
	if fc.Pages != 3 || calls.Load() != 3 {
		t.Fatalf("pages %d calls %d", fc.Pages, calls.Load())
	}
	if len(fc.Folders) != 1 || len(fc.Items) != 2 || len(fc.Included) != 2 {
		t.Fatalf("joined %d folders %d items %d included", len(fc.Folders), len(fc.Items), len(fc.Included))
	}
	tip, ok := fc.Tip(&fc.Items[0])
	if !ok || tip.Attributes.Name != "a.rvt" || tip.Attributes.StorageSize != 10 || tip.StorageURN() != "urn:adsk.objects:os.object:wip.dm.prod/a.rvt" {
		t.Fatalf("tip %+v ok=%v", tip, ok)
	}
	if want := time.Date(2018, 1, 17, 11, 52, 11, 0, time.UTC); !tip.Attributes.LastModifiedTime.Equal(want) {
		t.Fatalf("time %v", tip.Attributes.LastModifiedTime)
	}
}

func TestPaginationGuards(t *testing.T) {
	tests := []struct {
		name string
		next string
		want string
	}{
		{"loop", "/data/v1/projects/b.p/folders/urn%3Af/contents?page%5Blimit%5D=200", "loops"},
		{"foreign host", "https://evil.example/data/v1/x", "foreign host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := testClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 200, `{"data":[],"links":{"next":{"href":"`+tt.next+`"}}}`)
			}))
			_, err := c.Folders.Contents(context.Background(), &ContentsRequest{ProjectID: "b.p", FolderID: "urn:f"})
			if !remote.IsKind(err, remote.Unavailable) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v", err)
			}
		})
	}
}

func TestDecodeError(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		kind     remote.Kind
		code     string
		contains string
	}{
		{"jsonapi", 404, `{"jsonapi":{"version":"1.0"},"errors":[{"id":"1","status":"404","code":"NOT_FOUND","title":"Not Found","detail":"no such folder"}]}`,
			remote.NotFound, "NOT_FOUND", "Not Found: no such folder"},
		{"warnings 403", 403, `{"jsonapi":{},"links":{},"data":[],"meta":{"warnings":[{"Id":null,"HttpStatusCode":"403","ErrorCode":"BIM360DM_ERROR","Title":"Unable to get hubs","Detail":"app not provisioned","AboutLink":null}]}}`,
			remote.Permission, "BIM360DM_ERROR", "Unable to get hubs: app not provisioned"},
		{"oss reason", 404, `{"reason":"Object not found"}`, remote.NotFound, "", "Object not found"},
		{"throttled", 429, `{"developerMessage":"Quota limit exceeded."}`, remote.Throttled, "", "Quota limit exceeded."},
		{"gateway", 401, `{"developerMessage":"The token is invalid or has expired.","errorCode":"AUTH-006"}`, remote.Unauthenticated, "AUTH-006", "expired"},
		{"conflict", 409, `{"errors":[{"status":"409","code":"CONFLICT","title":"Another object with the same name already exists"}]}`, remote.Conflict, "CONFLICT", "same name"},
		{"locked", 423, `not json at all`, remote.Conflict, "", "not json at all"},
		{"server", 502, ``, remote.Unavailable, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tt.status, Header: http.Header{}}
			err := DecodeError("op", resp, []byte(tt.body))
			re, ok := err.(*remote.Error)
			if !ok {
				t.Fatalf("%T", err)
			}
			if re.Kind != tt.kind || re.Code != tt.code || re.Status != tt.status || !strings.Contains(re.Message, tt.contains) {
				t.Fatalf("got kind=%v code=%q status=%d msg=%q", re.Kind, re.Code, re.Status, re.Message)
			}
		})
	}
}

// TestThrottledRetryAfter checks that a 429 with Retry-After is retried
// after the wait, and that the listing still completes.
func TestThrottledRetryAfter(t *testing.T) {
	var n atomic.Int32
	c, _ := testClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			writeJSON(w, 429, `{"developerMessage":"Quota limit exceeded."}`)
			return
		}
		writeJSON(w, 200, `{"data":[{"type":"hubs","id":"b.1","attributes":{"name":"Acme","extension":{"type":"hubs:autodesk.bim360:Account"}}}]}`)
	}))
	hl, err := c.Hubs.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n.Load() != 2 || len(hl.Data) != 1 || hl.Data[0].Attributes.Name != "Acme" {
		t.Fatalf("calls %d hubs %+v", n.Load(), hl.Data)
	}
}

func TestSignedDownload(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		status string
		chunks []Chunk
		errHas string
	}{
		{name: "complete", body: `{"status":"complete","url":"https://s3/x?sig=1","params":{},"size":10}`, status: DownloadComplete},
		{name: "fallback", body: `{"status":"fallback","url":"https://oss/x?sig=1","params":{},"size":10}`, status: DownloadFallback},
		{name: "chunked inclusive", body: `{"status":"chunked","urls":{"5-9":"u2","0-4":"u1"},"params":{},"size":10}`,
			status: DownloadChunked, chunks: []Chunk{{0, 4, "u1"}, {5, 9, "u2"}}},
		{name: "chunked exclusive", body: `{"status":"chunked","urls":{"bytes=0-5":"u1","bytes=5-10":"u2"},"params":{},"size":10}`,
			status: DownloadChunked, chunks: []Chunk{{0, 4, "u1"}, {5, 9, "u2"}}},
		{name: "chunked gap", body: `{"status":"chunked","urls":{"0-3":"u1","5-9":"u2"},"params":{},"size":10}`, errHas: "gaps"},
		{name: "chunked short", body: `{"status":"chunked","urls":{"0-4":"u1"},"params":{},"size":10}`, errHas: "object size"},
		{name: "complete without url", body: `{"status":"complete","params":{},"size":10}`, errHas: "without url"},
		{name: "unknown", body: `{"status":"weird","params":{},"size":1}`, errHas: "unknown download status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotURI string
			c, _ := testClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotURI = r.RequestURI
				writeJSON(w, 200, tt.body)
			}))
			d, err := c.OSS.SignedDownload(context.Background(), &SignedDownloadRequest{Bucket: "wip.dm.prod", Object: "a b/c.rvt"})
			if want := "/oss/v2/buckets/wip.dm.prod/objects/a%20b%2Fc.rvt/signeds3download?minutesExpiration=10"; gotURI != want {
				t.Errorf("URI %q, want %q", gotURI, want)
			}
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err %v, want %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Status != tt.status {
				t.Fatalf("status %q", d.Status)
			}
			if tt.chunks != nil {
				cs, err := d.Chunks()
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(cs) != fmt.Sprint(tt.chunks) {
					t.Fatalf("chunks %v, want %v", cs, tt.chunks)
				}
			}
		})
	}
}

func TestParseStorageURN(t *testing.T) {
	tests := []struct {
		urn, bucket, object string
		ok                  bool
	}{
		{"urn:adsk.objects:os.object:wip.dm.prod/3c8f.rvt", "wip.dm.prod", "3c8f.rvt", true},
		{"urn:adsk.objects:os.object:wip.dm.prod.temp/dir/x.dwg", "wip.dm.prod.temp", "dir/x.dwg", true},
		{"urn:adsk.objects:os.object:nobucket", "", "", false},
		{"urn:adsk.objects:os.object:/x", "", "", false},
		{"https://developer.api.autodesk.com/oss/v2/buckets/wipbucket/objects/x", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		b, o, ok := ParseStorageURN(tt.urn)
		if b != tt.bucket || o != tt.object || ok != tt.ok {
			t.Errorf("ParseStorageURN(%q) = %q %q %v", tt.urn, b, o, ok)
		}
	}
}

func TestTimeFormats(t *testing.T) {
	want := time.Date(2016, 5, 30, 15, 32, 5, 0, time.UTC)
	for _, s := range []string{`"2016-05-30T15:32:05.000Z"`, `"2016-05-30T15:32:05.0000000Z"`, `"2016-05-30T15:32:05+00:00"`} {
		var v Time
		if err := json.Unmarshal([]byte(s), &v); err != nil || !v.Equal(want) {
			t.Errorf("%s: %v %v", s, v, err)
		}
	}
	for _, s := range []string{`""`, `null`, `"yesterday"`} {
		var v Time
		if err := json.Unmarshal([]byte(s), &v); err != nil || !v.IsZero() {
			t.Errorf("%s: %v %v", s, v, err)
		}
	}
}

func TestIDs(t *testing.T) {
	h, _ := hubID("b.acct")
	p, _ := projectID("b.acct", "b.proj")
	f, _ := folderID("b.proj", "urn:adsk.wipprod:fs.folder:co.X")
	i, _ := itemID("b.proj", "urn:adsk.wipprod:dm.lineage:L|odd")
	tests := []struct {
		id   remote.ID
		want entryID
	}{
		{rootID, entryID{kind: kindAccount}},
		{h, entryID{kind: kindHub, hub: "b.acct"}},
		{p, entryID{kind: kindProject, hub: "b.acct", project: "b.proj"}},
		{f, entryID{kind: kindFolder, project: "b.proj", folder: "urn:adsk.wipprod:fs.folder:co.X"}},
		{i, entryID{kind: kindItem, project: "b.proj", item: "urn:adsk.wipprod:dm.lineage:L|odd"}},
	}
	for _, tt := range tests {
		got, ok := parseID(tt.id)
		if !ok || got != tt.want {
			t.Errorf("parseID(%q) = %+v %v", tt.id, got, ok)
		}
	}
	for _, bad := range []remote.ID{"", "x", "h|", "p|onlyhub", "f||x", "z|a|b"} {
		if _, ok := parseID(bad); ok {
			t.Errorf("parseID(%q) accepted", bad)
		}
	}
	if _, ok := projectID("b.a|b", "b.p"); ok {
		t.Error("hub ID with | accepted")
	}
}

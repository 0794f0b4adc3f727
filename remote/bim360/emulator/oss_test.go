package emulator

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

type s3dl struct {
	Status string            `json:"status"`
	URL    string            `json:"url"`
	URLs   map[string]string `json:"urls"`
	Params map[string]string `json:"params"`
	Size   int64             `json:"size"`
	SHA1   string            `json:"sha1"`
}

// fixture is a project with one file whose tip version the tests download.
type fixture struct {
	s                  *Server
	c                  *client
	pid, item, version string
	bucket, key        string
}

func newFixture(t *testing.T, opts Options, name string, content Content) fixture {
	t.Helper()
	s := newServer(t, opts)
	pid := s.AddProject(s.AddHub("H"), "P")
	item := s.AddFile(pid, s.TopFolder(pid, "Project Files"), name, content)
	v := s.TipVersion(pid, item)
	bucket, key, ok := strings.Cut(strings.TrimPrefix(s.StorageID(pid, v), storagePrefix), "/")
	if !ok {
		t.Fatalf("storage ID %q", s.StorageID(pid, v))
	}
	return fixture{s: s, c: newClient(t, s), pid: pid, item: item, version: v, bucket: bucket, key: key}
}

func (f fixture) signedPath(query string) string {
	p := "/oss/v2/buckets/" + f.bucket + "/objects/" + url.PathEscape(f.key) + "/signeds3download"
	if query != "" {
		p += "?" + query
	}
	return p
}

func TestSignedDownloadComplete(t *testing.T) {
	data := []byte("The quick brown fox jumps over the lazy dog")
	f := newFixture(t, Options{}, "fox \"quoted\".txt", Bytes(data))
	var d s3dl
	f.c.getJSON(f.signedPath(""), http.StatusOK, &d)
	sum := sha1.Sum(data)
	if d.Status != "complete" || d.Size != int64(len(data)) || d.SHA1 != hex.EncodeToString(sum[:]) || d.URLs != nil {
		t.Fatalf("answer = %+v", d)
	}
	if d.Params["content-type"] != "text/plain; charset=utf-8" || !strings.Contains(d.Params["content-disposition"], `filename="fox \"quoted\".txt"`) {
		t.Errorf("params = %v", d.Params)
	}
	u, err := url.Parse(d.URL)
	if err != nil || u.Host != strings.TrimPrefix(f.s.URL, "http://") || !strings.HasPrefix(u.Path, "/s3/") {
		t.Fatalf("url = %s", d.URL)
	}
	if exp := u.Query().Get("X-Amz-Expires"); exp != "120" {
		t.Errorf("default expiry %s s, want 120", exp)
	}
	// The URL needs no bearer token.
	resp, b := f.c.do(http.MethodGet, d.URL, nil, nil)
	if resp.StatusCode != 200 || string(b) != string(data) || resp.Header.Get("ETag") == "" {
		t.Errorf("S3 GET: %d %q etag %q", resp.StatusCode, b, resp.Header.Get("ETag"))
	}

	f.c.getJSON(f.signedPath("minutesExpiration=60&response-content-disposition=inline"), http.StatusOK, &d)
	u, _ = url.Parse(d.URL)
	if u.Query().Get("X-Amz-Expires") != "3600" || d.Params["content-disposition"] != "inline" {
		t.Errorf("60 minutes + override: %s / %v", d.URL, d.Params)
	}
	resp, _ = f.c.do(http.MethodGet, d.URL, nil, nil)
	if resp.Header.Get("Content-Disposition") != "inline" {
		t.Errorf("S3 Content-Disposition = %q", resp.Header.Get("Content-Disposition"))
	}
	for _, q := range []string{"minutesExpiration=0", "minutesExpiration=61", "minutesExpiration=x", "public-resource-fallback=perhaps"} {
		if resp, _ := f.c.get(f.signedPath(q)); resp.StatusCode != 400 {
			t.Errorf("%s: status %d", q, resp.StatusCode)
		}
	}
	if resp, _ := f.c.get("/oss/v2/buckets/" + f.bucket + "/objects/nope.txt/signeds3download"); resp.StatusCode != 404 {
		t.Errorf("unknown object: %d", resp.StatusCode)
	}
	// If-None-Match with the object's ETag → 304.
	etag := resp.Header.Get("ETag")
	resp, _ = f.c.do(http.MethodGet, f.signedPath(""), nil, http.Header{"Authorization": {"Bearer " + f.c.token}, "If-None-Match": {etag}})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", resp.StatusCode)
	}
}

func TestURLLifetimeOption(t *testing.T) {
	f := newFixture(t, Options{URLLifetime: 1500 * time.Millisecond}, "a.bin", Synthetic(1, 10))
	var d s3dl
	f.c.getJSON(f.signedPath("minutesExpiration=30"), http.StatusOK, &d)
	u, _ := url.Parse(d.URL)
	if u.Query().Get("X-Amz-Expires") != "2" {
		t.Errorf("X-Amz-Expires = %s, want 2 (1.5 s rounded up)", u.Query().Get("X-Amz-Expires"))
	}
}

func TestSignedDownloadChunkedAndFallback(t *testing.T) {
	const size = 10*KiB + 7
	f := newFixture(t, Options{}, "model.rvt", Synthetic(77, size))
	f.s.SetChunked(f.pid, f.version, 4*KiB)

	var d s3dl
	f.c.getJSON(f.signedPath(""), http.StatusOK, &d)
	if d.Status != "chunked" || d.URL != "" || len(d.URLs) != 3 || d.Size != size {
		t.Fatalf("chunked answer = %+v", d)
	}
	keys := make([]string, 0, len(d.URLs))
	for k := range d.URLs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return rangeStart(keys[i]) < rangeStart(keys[j]) })
	if want := fmt.Sprintf("0-4095,4096-8191,8192-%d", size-1); strings.Join(keys, ",") != want {
		t.Fatalf("chunk keys %v, want %s", keys, want)
	}
	var got []byte
	for _, k := range keys {
		resp, b := f.c.do(http.MethodGet, d.URLs[k], nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("chunk %s: %d %s", k, resp.StatusCode, b)
		}
		got = append(got, b...)
	}
	checkSynthetic(t, got, 77, 0)
	if int64(len(got)) != size {
		t.Errorf("chunks hold %d bytes, want %d", len(got), size)
	}

	f.c.getJSON(f.signedPath("public-resource-fallback=true"), http.StatusOK, &d)
	if d.Status != "fallback" || !strings.Contains(d.URL, "/oss/v2/signedresources/") {
		t.Fatalf("fallback answer = %+v", d)
	}
	resp, b := f.c.do(http.MethodGet, d.URL, nil, http.Header{"Range": {"bytes=100-199"}})
	if resp.StatusCode != 206 || len(b) != 100 {
		t.Fatalf("fallback range: %d, %d bytes", resp.StatusCode, len(b))
	}
	checkSynthetic(t, b, 77, 100)

	f.s.SetChunked(f.pid, f.version, 0)
	f.c.getJSON(f.signedPath("public-resource-fallback=true"), http.StatusOK, &d)
	if d.Status != "complete" {
		t.Errorf("after SetChunked(0): %s", d.Status)
	}
}

func rangeStart(k string) int64 {
	a, _, _ := strings.Cut(k, "-")
	n, _ := strconv.ParseInt(a, 10, 64)
	return n
}

// checkSynthetic verifies that b holds the synthetic bytes of seed from off.
func checkSynthetic(t *testing.T, b []byte, seed, off int64) {
	t.Helper()
	for i, c := range b {
		if want := SyntheticByte(seed, off+int64(i)); c != want {
			t.Fatalf("byte at offset %d = %#x, want %#x", off+int64(i), c, want)
		}
	}
}

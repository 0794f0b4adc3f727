package emulator

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

type s3Err struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

func parseS3Err(t *testing.T, b []byte) s3Err {
	t.Helper()
	var e s3Err
	if err := xml.Unmarshal(b, &e); err != nil {
		t.Fatalf("S3 error body %q: %v", b, err)
	}
	return e
}

func (f fixture) signedURL(t *testing.T) string {
	t.Helper()
	var d s3dl
	f.c.getJSON(f.signedPath(""), http.StatusOK, &d)
	return d.URL
}

func TestS3Ranges(t *testing.T) {
	const size = 1000
	f := newFixture(t, Options{}, "r.bin", Synthetic(5, size))
	u := f.signedURL(t)
	for _, tc := range []struct {
		rng          string
		status       int
		off, n       int64
		contentRange string
	}{
		{"", 200, 0, size, ""},
		{"bytes=0-99", 206, 0, 100, "bytes 0-99/1000"},
		{"bytes=990-2000", 206, 990, 10, "bytes 990-999/1000"},
		{"bytes=500-", 206, 500, 500, "bytes 500-999/1000"},
		{"bytes=-10", 206, 990, 10, "bytes 990-999/1000"},
		{"bytes=999-999", 206, 999, 1, "bytes 999-999/1000"},
		{"bytes=1000-1001", 416, 0, 0, "bytes */1000"},
		{"bytes=0-1,5-6", 200, 0, size, ""}, // multiple ranges: S3 sends the whole object
		{"bytes=9-3", 200, 0, size, ""},     // malformed: ignored
	} {
		h := http.Header{}
		if tc.rng != "" {
			h.Set("Range", tc.rng)
		}
		resp, b := f.c.do(http.MethodGet, u, nil, h)
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Range") != tc.contentRange {
			t.Errorf("%q: status %d Content-Range %q, want %d %q", tc.rng, resp.StatusCode, resp.Header.Get("Content-Range"), tc.status, tc.contentRange)
			continue
		}
		if tc.status == 416 {
			if e := parseS3Err(t, b); e.Code != "InvalidRange" {
				t.Errorf("416 code %q", e.Code)
			}
			continue
		}
		if int64(len(b)) != tc.n || resp.Header.Get("Content-Length") != strconv.FormatInt(tc.n, 10) || resp.Header.Get("ETag") == "" || resp.Header.Get("Accept-Ranges") != "bytes" {
			t.Errorf("%q: %d bytes, headers %v", tc.rng, len(b), resp.Header)
		}
		checkSynthetic(t, b, 5, tc.off)
	}
}

func TestS3EmptyObjectAndHugeObject(t *testing.T) {
	f := newFixture(t, Options{}, "empty.txt", Bytes(nil))
	u := f.signedURL(t)
	if resp, b := f.c.do(http.MethodGet, u, nil, nil); resp.StatusCode != 200 || len(b) != 0 {
		t.Errorf("empty object: %d, %d bytes", resp.StatusCode, len(b))
	}
	if resp, _ := f.c.do(http.MethodGet, u, nil, http.Header{"Range": {"bytes=0-"}}); resp.StatusCode != 416 {
		t.Errorf("range on empty object: %d, want 416", resp.StatusCode)
	}

	pf := f.s.TopFolder(f.pid, "Project Files")
	big := f.s.AddFile(f.pid, pf, "big.nwd", Synthetic(9, 10*GiB))
	v := f.s.TipVersion(f.pid, big)
	var l wireList
	f.c.getJSON(contentsPath(f.pid, pf), http.StatusOK, &l)
	found := false
	for _, inc := range l.Included {
		if inc.ID == v {
			found = inc.Attributes["storageSize"] == float64(10*GiB)
		}
	}
	if !found {
		t.Fatal("10 GiB version not listed with its size")
	}
	g := f
	g.bucket, g.key = splitStorage(t, f.s.StorageID(f.pid, v))
	var d s3dl
	g.c.getJSON(g.signedPath(""), http.StatusOK, &d)
	if d.Size != 10*GiB || d.SHA1 != "" {
		t.Errorf("10 GiB answer: size %d sha1 %q", d.Size, d.SHA1)
	}
	off := 10*GiB - 4099
	resp, b := g.c.do(http.MethodGet, d.URL, nil, http.Header{"Range": {"bytes=" + strconv.FormatInt(off, 10) + "-"}})
	if resp.StatusCode != 206 || len(b) != 4099 {
		t.Fatalf("tail range: %d, %d bytes", resp.StatusCode, len(b))
	}
	checkSynthetic(t, b, 9, off)
}

func splitStorage(t *testing.T, id string) (bucket, key string) {
	t.Helper()
	rest := id[len(storagePrefix):]
	for i := range rest {
		if rest[i] == '/' {
			return rest[:i], rest[i+1:]
		}
	}
	t.Fatalf("bad storage ID %q", id)
	return "", ""
}

func TestS3SignatureAndExpiry(t *testing.T) {
	f := newFixture(t, Options{}, "e.bin", Synthetic(3, 64))
	u := f.signedURL(t)

	// Tampering with any signed parameter breaks the signature.
	pu, _ := url.Parse(u)
	q := pu.Query()
	q.Set("X-Amz-Expires", "604800")
	pu.RawQuery = q.Encode()
	resp, b := f.c.do(http.MethodGet, pu.String(), nil, nil)
	if resp.StatusCode != 403 || parseS3Err(t, b).Code != "SignatureDoesNotMatch" || resp.Header.Get("Content-Type") != "application/xml" {
		t.Errorf("tampered URL: %d %s", resp.StatusCode, b)
	}
	// The URL is for GET only.
	if resp, _ := f.c.do(http.MethodHead, u, nil, nil); resp.StatusCode != 403 {
		t.Errorf("HEAD with a GET URL: %d", resp.StatusCode)
	}
	// A bearer token next to the signature is refused, as S3 does.
	resp, b = f.c.do(http.MethodGet, u, nil, http.Header{"Authorization": {"Bearer " + f.c.token}})
	if resp.StatusCode != 400 || parseS3Err(t, b).Code != "InvalidArgument" {
		t.Errorf("with Authorization: %d %s", resp.StatusCode, b)
	}
	// Without the signature parameters.
	resp, b = f.c.do(http.MethodGet, f.s.URL+pu.Path, nil, nil)
	if resp.StatusCode != 403 || parseS3Err(t, b).Code != "AccessDenied" {
		t.Errorf("unsigned: %d %s", resp.StatusCode, b)
	}

	// Still valid just before expiry (2 minutes), refused after.
	f.s.Advance(118 * time.Second)
	if resp, _ := f.c.do(http.MethodGet, u, nil, nil); resp.StatusCode != 200 {
		t.Errorf("before expiry: %d", resp.StatusCode)
	}
	f.s.Advance(3 * time.Second)
	resp, b = f.c.do(http.MethodGet, u, nil, nil)
	if e := parseS3Err(t, b); resp.StatusCode != 403 || e.Code != "AccessDenied" || e.Message != "Request has expired" {
		t.Errorf("after expiry: %d %+v", resp.StatusCode, e)
	}
	// A fresh URL works again.
	if resp, _ := f.c.do(http.MethodGet, f.signedURL(t), nil, nil); resp.StatusCode != 200 {
		t.Errorf("fresh URL: %d", resp.StatusCode)
	}
}

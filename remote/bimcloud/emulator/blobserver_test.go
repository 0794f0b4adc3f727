package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
)

func TestConnectionURLs(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.srv.Token()
	ms3 := h.srv.AddModelServer("Three dead", 3)
	for _, tc := range []struct {
		id   string
		dead int
	}{{h.srv.DefaultModelServer(), 1}, {ms3, 3}} {
		ms := h.resource(tok, tc.id)
		if len(ms.ConnectionURLs) != tc.dead+1 {
			t.Fatalf("%s: urls %v", ms.Name, ms.ConnectionURLs)
		}
		for i, tmpl := range ms.ConnectionURLs {
			if !strings.HasPrefix(tmpl, "$protocol//$hostname:") {
				t.Fatalf("template %q", tmpl)
			}
			u := strings.NewReplacer("$protocol", "http:", "$hostname", "127.0.0.1").Replace(tmpl)
			resp, err := h.hc.Get(u + "/application-server-service/get-runtime-id")
			if err == nil {
				resp.Body.Close()
			}
			if i < tc.dead {
				if !errors.Is(err, syscall.ECONNREFUSED) {
					t.Fatalf("dead url %s: %v", u, err)
				}
			} else if err != nil {
				t.Fatalf("live url %s: %v", u, err)
			}
		}
		if got := h.blobServerURL(tok, tc.id); got != h.srv.BlobServerURL(tc.id) {
			t.Fatalf("probe found %s, want %s", got, h.srv.BlobServerURL(tc.id))
		}
	}
	if h.srv.BlobServerURL(h.srv.DefaultModelServer()) == h.srv.BlobServerURL(ms3) {
		t.Fatal("model servers share a listener")
	}
	for _, u := range []string{h.srv.URL, h.srv.BlobServerURL(ms3)} {
		host, _, _ := net.SplitHostPort(strings.TrimPrefix(u, "http://"))
		if host != "127.0.0.1" {
			t.Fatalf("not on loopback: %s", u)
		}
	}
}

func TestCreateSession(t *testing.T) {
	h := newHarness(t, Options{Users: map[string]string{"demo": "demo", "eve": "x"}})
	tok := h.srv.Token()
	ms := h.srv.DefaultModelServer()
	ms2 := h.srv.AddModelServer("Other", 0)
	base := h.blobServerURL(tok, ms)
	base2 := h.blobServerURL(tok, ms2)

	tk := h.ticket(tok, ms)
	st, b := h.createSession(base, "demo", tk)
	h.must(st, b, nil)
	// A ticket may open several sessions while it is valid.
	st, b = h.createSession(base, "demo", tk)
	h.must(st, b, nil)

	st, b = h.createSession(base, "demo", "bm90IGEgdGlja2V0")
	h.blobErr(st, b, http.StatusUnauthorized, BlobErrAuthenticationFailed)
	st, b = h.createSession(base2, "demo", tk) // ticket for another server
	h.blobErr(st, b, http.StatusUnauthorized, BlobErrAuthenticationFailed)
	st, b = h.createSession(base, "eve", tk) // ticket of another user
	h.blobErr(st, b, http.StatusUnauthorized, BlobErrAuthenticationFailed)

	// Wrong content type: the vendor type is required.
	body, _ := json.Marshal(map[string]any{"data-content-type": ctAuthRequest, "data": map[string]string{"username": "demo", "ticket": tk}})
	st, _, b = h.do(withInvalidRequest(context.Background()), "POST", base+"/session-service/1.0/create-session", http.Header{"Content-Type": {"text/plain"}}, body)
	h.blobErr(st, b, StatusBIMcloudError, BlobErrGeneric)

	h.srv.ExpireTickets()
	st, b = h.createSession(base, "demo", tk)
	h.blobErr(st, b, StatusBIMcloudError, BlobErrAccessControlTicketExpired)
	// A new ticket works again.
	st, b = h.createSession(base, "demo", h.ticket(tok, ms))
	h.must(st, b, nil)
}

func TestSessionLifecycle(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.srv.Token()
	ms := h.srv.DefaultModelServer()
	ms2 := h.srv.AddModelServer("Other", 0)
	base, sid := h.session(tok, ms)
	base2 := h.blobServerURL(tok, ms2)
	get := func(base, sid string) (int, []byte) {
		st, _, b := h.do(context.Background(), "GET", base+"/session-service/1.0/get-session?session-id="+url.QueryEscape(sid), nil, nil)
		return st, b
	}
	st, b := get(base, sid)
	h.must(st, b, nil)
	// Sessions belong to their server.
	st, b = get(base2, sid)
	h.blobErr(st, b, StatusBIMcloudError, BlobErrSessionNotFound)

	h.srv.ExpireSessions()
	st, b = get(base, sid)
	h.blobErr(st, b, StatusBIMcloudError, BlobErrSessionNotFound)
	st, _, b = h.do(context.Background(), "POST", base+"/session-service/1.0/close-session?session-id="+sid, nil, nil)
	h.blobErr(st, b, StatusBIMcloudError, BlobErrSessionNotFound)
}

func TestGetBlobContent(t *testing.T) {
	h := newHarness(t, Options{})
	srv, tok := h.srv, h.srv.Token()
	ms2 := srv.AddModelServer("Other", 0)
	f := srv.AddFolder(RootID, "F")
	small := Bytes([]byte("Hello, world!"))
	big := Synthetic(99, 3*MiB+17)
	smallID := srv.AddBlob(f, "small.txt", small, "")
	bigID := srv.AddBlob(f, "big.bin", big, "")
	emptyID := srv.AddBlob(f, "empty.bin", Bytes(nil), "")
	elsewhere := srv.AddBlob(f, "elsewhere.bin", Bytes([]byte("x")), ms2)
	base, sid := h.session(tok, srv.DefaultModelServer())

	for _, tc := range []struct {
		id string
		c  Content
	}{{smallID, small}, {bigID, big}, {emptyID, Bytes(nil)}} {
		st, hdr, got := h.content(base, sid, tc.id, nil)
		if st != 200 || hdr.Get("Content-Length") != fmt.Sprint(tc.c.Size()) {
			t.Fatalf("%s: %d %v", tc.id, st, hdr)
		}
		expectBytes(t, got, tc.c)
	}
	if c := srv.Counters(); c["get-blob-content"] != 3 || c["get-blob-content.bytes"] != small.Size()+big.Size() {
		t.Fatalf("counters %v", c)
	}

	// A Range header is ignored by default: the spec has no partial reads.
	st, _, got := h.content(base, sid, bigID, http.Header{"Range": {"bytes=10-19"}})
	if st != 200 || int64(len(got)) != big.Size() {
		t.Fatalf("range without RangeSupport: %d, %d bytes", st, len(got))
	}

	// The filename parameter becomes a Content-Disposition.
	q := url.Values{"session-id": {sid}, "blob-id": {smallID}, "filename": {"grüße.txt"}}
	st, hdr, _ := h.do(context.Background(), "GET", base+"/blob-store-service/1.0/get-blob-content?"+q.Encode(), nil, nil)
	if st != 200 || !strings.HasPrefix(hdr.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("filename: %d %v", st, hdr)
	}

	// Blob hosted on another server, or unknown: BlobNotFound.
	st, _, b := h.content(base, sid, elsewhere, nil)
	h.blobErr(st, b, StatusBIMcloudError, BlobErrBlobNotFound)
	st, _, b = h.content(base, sid, "00000000-0000-4000-8000-000000000000", nil)
	h.blobErr(st, b, StatusBIMcloudError, BlobErrBlobNotFound)
	// Folders have no content.
	st, _, b = h.content(base, sid, f, nil)
	h.blobErr(st, b, StatusBIMcloudError, BlobErrBlobNotFound)

	// Content updates are visible to the next download.
	srv.UpdateBlob(smallID, Bytes([]byte("Hello again!")))
	_, _, got = h.content(base, sid, smallID, nil)
	if string(got) != "Hello again!" {
		t.Fatalf("after update: %q", got)
	}

	srv.ExpireSessions()
	st, _, b = h.content(base, sid, smallID, nil)
	h.blobErr(st, b, StatusBIMcloudError, BlobErrSessionNotFound)
}

func TestRangeSupport(t *testing.T) {
	h := newHarness(t, Options{RangeSupport: true})
	srv, tok := h.srv, h.srv.Token()
	c := Synthetic(5, 1000)
	id := srv.AddBlob(RootID, "r.bin", c, "")
	base, sid := h.session(tok, srv.DefaultModelServer())
	for _, tc := range []struct {
		rng        string
		start, end int64
	}{{"bytes=10-19", 10, 19}, {"bytes=990-", 990, 999}, {"bytes=-5", 995, 999}, {"bytes=900-5000", 900, 999}, {"bytes=0-0", 0, 0}} {
		st, hdr, got := h.content(base, sid, id, http.Header{"Range": {tc.rng}})
		if st != http.StatusPartialContent || hdr.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/1000", tc.start, tc.end) {
			t.Fatalf("%s: %d %v", tc.rng, st, hdr)
		}
		want := make([]byte, tc.end-tc.start+1)
		c.ReadAt(want, tc.start)
		if string(got) != string(want) {
			t.Fatalf("%s: wrong bytes", tc.rng)
		}
	}
	for _, ignored := range []string{"bytes=0-1,5-6", "items=0-1"} {
		if st, _, got := h.content(base, sid, id, http.Header{"Range": {ignored}}); st != 200 || len(got) != 1000 {
			t.Fatalf("%s: %d, %d bytes", ignored, st, len(got))
		}
	}
	for _, bad := range []string{"bytes=1000-", "bytes=5-1", "bytes=x-", "bytes=-0"} {
		st, hdr, _ := h.content(base, sid, id, http.Header{"Range": {bad}})
		if st != http.StatusRequestedRangeNotSatisfiable || hdr.Get("Content-Range") != "bytes */1000" {
			t.Fatalf("%s: %d %v", bad, st, hdr)
		}
	}
	if st, _, got := h.content(base, sid, id, nil); st != 200 || len(got) != 1000 {
		t.Fatalf("no range: %d %d", st, len(got))
	}
}

func TestContentFaults(t *testing.T) {
	h := newHarness(t, Options{RateReset: 1, Seed: 3})
	srv, tok := h.srv, h.srv.Token()
	c := Synthetic(1, 2*MiB)
	id := srv.AddBlob(RootID, "f.bin", c, "")
	base, sid := h.session(tok, srv.DefaultModelServer())

	// Every download is cut short: the body ends before Content-Length.
	for range 3 {
		q := url.Values{"session-id": {sid}, "blob-id": {id}}
		resp, err := h.hc.Get(base + "/blob-store-service/1.0/get-blob-content?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !errors.Is(err, io.ErrUnexpectedEOF) || int64(len(got)) >= c.Size() {
			t.Fatalf("reset: status %d, %d bytes, err %v", resp.StatusCode, len(got), err)
		}
		// What did arrive is correct.
		want := make([]byte, len(got))
		c.ReadAt(want, 0)
		if string(got) != string(want) {
			t.Fatal("bytes before the reset are wrong")
		}
	}
	if got := srv.Counters()["fault.reset"]; got != 3 {
		t.Fatalf("fault.reset = %d", got)
	}

	// Throttled and slow, but complete and correct.
	srv.SetOptions(Options{BytesPerSecond: 50 * MiB, Latency: 1})
	_, _, got := h.content(base, sid, id, nil)
	expectBytes(t, got, c)

	// Injected blob-server errors and 503s (undeclared for blob servers).
	srv.InjectError("get-blob-content", BlobErrSessionNotFound, 1)
	srv.InjectError("get-blob-content", http.StatusServiceUnavailable, 1)
	srv.InjectError("create-session", BlobErrAuthenticationFailed, 1)
	st, _, b := h.content(base, sid, id, nil)
	h.blobErr(st, b, StatusBIMcloudError, BlobErrSessionNotFound)
	if st, _, _ := h.content(base, sid, id, nil); st != 503 {
		t.Fatalf("injected 503: %d", st)
	}
	st, b = h.createSession(base, "demo", h.ticket(tok, srv.DefaultModelServer()))
	h.blobErr(st, b, http.StatusUnauthorized, BlobErrAuthenticationFailed)
	srv.SetOptions(Options{Rate503: 1})
	if st, _, _ := h.content(base, sid, id, nil); st != 503 {
		t.Fatalf("Rate503 on blob server: %d", st)
	}
}

func TestLegacyUnknownRoute(t *testing.T) {
	h := newHarness(t, Options{})
	base := h.srv.BlobServerURL(h.srv.DefaultModelServer())
	h.allowUndocumented("/no/such/route")
	st, hdr, b := h.do(context.Background(), "GET", base+"/no/such/route", nil, nil)
	if st != 200 || json.Valid(b) || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("legacy route: %d %v %s", st, hdr, b)
	}
	if h.srv.Counters()["unknown-route"] != 1 {
		t.Fatal("unknown-route not counted")
	}
}

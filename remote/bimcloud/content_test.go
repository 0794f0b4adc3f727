package bimcloud

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bimcloud/emulator"
)

func checkSynthetic(t *testing.T, data []byte, seed, off int64) {
	t.Helper()
	for i, c := range data {
		if want := emulator.SyntheticByte(seed, off+int64(i)); c != want {
			t.Fatalf("byte %d = %#x, want %#x", off+int64(i), c, want)
		}
	}
}

func TestReadWholeAndPartial(t *testing.T) {
	s := newServer(t, emulator.Options{})
	const size = 300<<10 + 17
	id := s.AddBlob(emulator.RootID, "a.bin", emulator.Synthetic(9, size), "")
	empty := s.AddBlob(emulator.RootID, "empty.bin", emulator.Bytes(nil), "")
	b, _ := loggedIn(t, s)
	e := stat(t, b, id)

	data, err := readAll(t, b, id, e.Version, 0, e.Size)
	if err != nil || len(data) != size {
		t.Fatalf("read %d bytes, %v", len(data), err)
	}
	checkSynthetic(t, data, 9, 0)
	// A length beyond the end is cut at the end.
	if data, err = readAll(t, b, id, e.Version, 0, 1<<62); err != nil || len(data) != size {
		t.Fatalf("long read: %d bytes, %v", len(data), err)
	}
	// Without Range support the server sends everything; the client skips.
	data, err = readAll(t, b, id, e.Version, 100000, 5000)
	if err != nil || len(data) != 5000 {
		t.Fatalf("partial read %d bytes, %v", len(data), err)
	}
	checkSynthetic(t, data, 9, 100000)
	if b.Features().RangeReads {
		t.Fatal("RangeReads without a 206")
	}
	if data, err = readAll(t, b, id, e.Version, size, 10); err != nil || len(data) != 0 {
		t.Fatalf("read at EOF: %d bytes, %v", len(data), err)
	}
	ee := stat(t, b, empty)
	if data, err = readAll(t, b, empty, ee.Version, 0, 1); err != nil || len(data) != 0 {
		t.Fatalf("empty blob: %d bytes, %v", len(data), err)
	}
	// One session serves every read.
	if n := s.Counters()["create-session"]; n != 1 {
		t.Fatalf("%d sessions created, want 1", n)
	}
	b.Close()
	if n := s.Counters()["close-session"]; n != 1 {
		t.Fatalf("%d sessions closed on Close, want 1", n)
	}
}

func TestRangeSupportDetected(t *testing.T) {
	s := newServer(t, emulator.Options{RangeSupport: true})
	const size = 1 << 20
	id := s.AddBlob(emulator.RootID, "a.bin", emulator.Synthetic(3, size), "")
	b, _ := loggedIn(t, s)
	e := stat(t, b, id)
	data, err := readAll(t, b, id, e.Version, 0, 4096)
	if err != nil || len(data) != 4096 {
		t.Fatalf("%d bytes, %v", len(data), err)
	}
	if !b.Features().RangeReads {
		t.Fatal("RangeReads not enabled after a 206")
	}
	s.ResetCounters()
	data, err = readAll(t, b, id, e.Version, size-1000, 1000)
	if err != nil || len(data) != 1000 {
		t.Fatalf("%d bytes, %v", len(data), err)
	}
	checkSynthetic(t, data, 3, size-1000)
	if sent := s.Counters()["get-blob-content.bytes"]; sent != 1000 {
		t.Fatalf("server sent %d bytes for a 1000-byte range", sent)
	}
}

func TestReadVersionChanged(t *testing.T) {
	s := newServer(t, emulator.Options{})
	id := s.AddBlob(emulator.RootID, "a.txt", emulator.Bytes([]byte("old")), "")
	b, _ := loggedIn(t, s)
	old := stat(t, b, id)
	s.UpdateBlob(id, emulator.Bytes([]byte("new content")))
	_, err := readAll(t, b, id, old.Version, 0, old.Size)
	mustKind(t, err, remote.Stale)
	cur := stat(t, b, id)
	if cur.Version.ID == old.Version.ID {
		t.Fatalf("version %q did not change with the content", cur.Version.ID)
	}
	data, err := readAll(t, b, id, cur.Version, 0, cur.Size)
	if err != nil || string(data) != "new content" {
		t.Fatalf("%q, %v", data, err)
	}
	s.DeleteResource(id)
	_, err = readAll(t, b, id, cur.Version, 0, cur.Size)
	mustKind(t, err, remote.NotFound)
}

// Every emulated model server lists dead URLs first; the client must skip
// them, remember the working one and not probe again.
func TestUnreachableURLsSkipped(t *testing.T) {
	s := newServer(t, emulator.Options{})
	ms := s.AddModelServer("Remote Site", 3)
	id := s.AddBlob(emulator.RootID, "far.bin", emulator.Synthetic(5, 1000), ms)
	b, _ := loggedIn(t, s)
	e := stat(t, b, id)
	if e.Version.Ref != ms {
		t.Fatalf("Version.Ref = %q, want the model server %q", e.Version.Ref, ms)
	}
	for range 3 {
		data, err := readAll(t, b, id, e.Version, 0, e.Size)
		if err != nil || len(data) != 1000 {
			t.Fatalf("%d bytes, %v", len(data), err)
		}
		checkSynthetic(t, data, 5, 0)
	}
	if n := s.Counters()["get-runtime-id"]; n != 1 {
		t.Fatalf("%d successful probes, want 1 (the choice is cached)", n)
	}
}

// refusingTransport refuses connections to the listed host:ports, as a
// firewall would.
type refusingTransport struct {
	base    http.RoundTripper
	refused map[string]bool
}

func (r *refusingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if r.refused[req.URL.Host] {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	}
	return r.base.RoundTrip(req)
}

func TestNoReachableURL(t *testing.T) {
	s := newServer(t, emulator.Options{})
	ms := s.AddModelServer("Offline Server", 2)
	id := s.AddBlob(emulator.RootID, "x.bin", emulator.Bytes([]byte("x")), ms)
	cfg, _ := testConfig(t, s)
	working, _ := url.Parse(s.BlobServerURL(ms))
	cfg.HTTP = &http.Client{Transport: &refusingTransport{base: http.DefaultTransport, refused: map[string]bool{working.Host: true}}}
	if err := LoginPassword(t.Context(), cfg, "demo", "demo"); err != nil {
		t.Fatal(err)
	}
	b, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	e := stat(t, b, id)
	_, err = readAll(t, b, id, e.Version, 0, 1)
	mustKind(t, err, remote.Unavailable)
	if msg := err.Error(); !strings.Contains(msg, "Offline Server") || !strings.Contains(msg, "3 connection URLs") {
		t.Fatalf("error does not explain which server is unreachable: %v", err)
	}
	// Files on other model servers are unaffected.
	ok := s.AddBlob(emulator.RootID, "ok.txt", emulator.Bytes([]byte("fine")), "")
	oe := stat(t, b, ok)
	if data, err := readAll(t, b, ok, oe.Version, 0, 4); err != nil || string(data) != "fine" {
		t.Fatalf("%q, %v", data, err)
	}
}

func TestTicketAndSessionExpiry(t *testing.T) {
	s := newServer(t, emulator.Options{})
	id := s.AddBlob(emulator.RootID, "a.bin", emulator.Synthetic(1, 70000), "")
	b, _ := loggedIn(t, s)
	e := stat(t, b, id)
	read := func() {
		t.Helper()
		data, err := readAll(t, b, id, e.Version, 0, e.Size)
		if err != nil || len(data) != 70000 {
			t.Fatalf("%d bytes, %v", len(data), err)
		}
		checkSynthetic(t, data, 1, 0)
	}
	read()
	// The session expires between reads: blob error 11, new ticket and session.
	s.ExpireSessions()
	read()
	if n := s.Counters()["create-session"]; n != 2 {
		t.Fatalf("%d sessions, want 2", n)
	}
	// The ticket expires before it is used: blob error 4 on create-session.
	s.ExpireSessions()
	s.InjectError("create-session", BlobAccessControlTicketExpired, 1)
	read()
	// Injected expiry on the download itself, both codes.
	s.InjectError("get-blob-content", BlobAccessControlTicketExpired, 1)
	read()
	s.InjectError("get-blob-content", BlobSessionNotFound, 1)
	read()
	// Expiry that persists is reported, not retried for ever, and as the
	// blob server's fault: the login is fine, so no "log in again".
	s.InjectError("get-blob-content", BlobSessionNotFound, 10)
	_, err := readAll(t, b, id, e.Version, 0, e.Size)
	mustKind(t, err, remote.Unavailable)
	var re *remote.Error
	if !errors.As(err, &re) || re.Code != "11" || strings.Contains(err.Error(), "bimfs login") {
		t.Fatalf("persistent session failure reported as %v", err)
	}
}

// The emulator aborts bodies mid-stream at RateReset; reads must resume
// and deliver exactly the right bytes, with and without Range support.
func TestResumeAfterBrokenBody(t *testing.T) {
	for _, ranges := range []bool{false, true} {
		t.Run(map[bool]string{false: "full", true: "range"}[ranges], func(t *testing.T) {
			s := newServer(t, emulator.Options{RangeSupport: ranges, Seed: 7})
			const size = 2<<20 + 5
			id := s.AddBlob(emulator.RootID, "a.bin", emulator.Synthetic(11, size), "")
			b, cfg, logs := loggedInLogs(t, s)
			e := stat(t, b, id)
			s.SetOptions(emulator.Options{RangeSupport: ranges, Seed: 7, RateReset: 0.5})
			for range 4 {
				data, err := readAll(t, b, id, e.Version, 0, e.Size)
				if err != nil || len(data) != size {
					t.Fatalf("%d bytes, %v", len(data), err)
				}
				checkSynthetic(t, data, 11, 0)
			}
			if s.Counters()["fault.reset"] == 0 {
				t.Fatal("no body was aborted; the test checked nothing")
			}
			// Session IDs travel in query strings and tokens in headers;
			// neither may reach the log, even at debug level.
			tok := storedToken(t, cfg)
			if l := logs.String(); !strings.Contains(l, "reconnecting") || strings.Contains(l, "session-id=") || strings.Contains(l, tok.AccessToken) {
				t.Fatalf("log lacks the reconnects or shows a secret:\n%s", l)
			}
		})
	}
}

func TestReadCanceled(t *testing.T) {
	s := newServer(t, emulator.Options{BytesPerSecond: 256 << 10})
	id := s.AddBlob(emulator.RootID, "slow.bin", emulator.Synthetic(1, 10<<20), "")
	b, _ := loggedIn(t, s)
	e := stat(t, b, id)
	ctx, cancel := context.WithCancel(t.Context())
	rc, err := b.ReadRange(ctx, remote.ID(id), e.Version, 0, e.Size)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	buf := make([]byte, 1000)
	if _, err := io.ReadFull(rc, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = io.Copy(io.Discard, rc)
	mustKind(t, err, remote.Canceled)
	checkSynthetic(t, buf, 1, 0)
}

func TestExpandConnectionURL(t *testing.T) {
	for _, tc := range []struct{ tmpl, manager, want string }{
		{"$protocol//$hostname:22001", "https://bim.example.com:22000", "https://bim.example.com:22001"},
		{"$protocol//$hostname:22001/", "http://127.0.0.1:9", "http://127.0.0.1:22001/"},
		{"http://10.0.0.5:22001", "https://bim.example.com", "http://10.0.0.5:22001"},
		{"$protocol//$hostname:22001", "https://[::1]:22000", "https://[::1]:22001"},
	} {
		got, err := expandConnectionURL(tc.tmpl, tc.manager)
		if err != nil || got != tc.want {
			t.Errorf("expand(%q, %q) = %q, %v; want %q", tc.tmpl, tc.manager, got, err, tc.want)
		}
	}
	if _, err := expandConnectionURL("$hostname:22001", "https://bim.example.com"); err == nil {
		t.Error("a template without a scheme was accepted")
	}
}

// The spec sends a base64 ticket as a JSON string, the demo reads bare
// text; both work.
func TestTicketAsJSONString(t *testing.T) {
	s := newServer(t, emulator.Options{TicketJSONString: true})
	b, _ := loggedIn(t, s)
	mustReadNewBlob(t, s, b)
}

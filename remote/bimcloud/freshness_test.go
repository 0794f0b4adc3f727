package bimcloud

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bimcloud/emulator"
)

// listedBackend logs in with a listing TTL and lists the root, so reads of
// the listed files skip the check before the download.
func listedBackend(t *testing.T, s *emulator.Server, ttl time.Duration) *Backend {
	t.Helper()
	cfg, _ := testConfig(t, s)
	cfg.ListingTTL = ttl
	if err := LoginPassword(t.Context(), cfg, emulator.DefaultUser, emulator.DefaultPassword); err != nil {
		t.Fatal(err)
	}
	b, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func listed(t *testing.T, b *Backend, id string) remote.Entry {
	t.Helper()
	es, err := b.List(t.Context(), RootID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.ID == remote.ID(id) {
			return e
		}
	}
	t.Fatalf("%s not listed", id)
	return remote.Entry{}
}

// TestFreshListingSkipsPreCheck: within ListingTTL of a listing a read
// asks the Manager once, after the last byte, instead of twice; without a
// TTL it asks before and after.
func TestFreshListingSkipsPreCheck(t *testing.T) {
	for _, tc := range []struct {
		ttl  time.Duration
		want int64
	}{{time.Minute, 1}, {0, 2}} {
		s := newServer(t, emulator.Options{})
		id := s.AddBlob(emulator.RootID, "listed.txt", emulator.Bytes([]byte("abc")), "")
		b := listedBackend(t, s, tc.ttl)
		mustReadNewBlob(t, s, b) // opens the blob-server session
		e := listed(t, b, id)
		s.ResetCounters()
		if data, err := readAll(t, b, id, e.Version, 0, e.Size); err != nil || string(data) != "abc" {
			t.Fatalf("ttl %v: read %q, %v", tc.ttl, data, err)
		}
		if n := s.Counters()["get-resource"]; n != tc.want {
			t.Fatalf("ttl %v: %d get-resource calls, want %d", tc.ttl, n, tc.want)
		}
	}
}

// TestChangeAfterCheckIsStale: the blob changes after the version was
// checked (here: listed) and before its bytes are read. Same size: the
// check after the last byte catches it. Another size: the download's
// length does, before any byte. Either way no byte is handed over.
func TestChangeAfterCheckIsStale(t *testing.T) {
	for _, newContent := range []string{"xyz", "longer content"} {
		s := newServer(t, emulator.Options{})
		id := s.AddBlob(emulator.RootID, "a.txt", emulator.Bytes([]byte("abc")), "")
		b := listedBackend(t, s, time.Minute)
		e := listed(t, b, id)
		s.UpdateBlob(id, emulator.Bytes([]byte(newContent)))
		data, err := readAll(t, b, id, e.Version, 0, e.Size)
		mustKind(t, err, remote.Stale)
		if len(data) != 0 {
			t.Fatalf("%q: bytes of another version handed over: %q", newContent, data)
		}
		// The listing no longer vouches for the version; a new listing
		// reads the new content.
		e2 := listed(t, b, id)
		if got, err := readAll(t, b, id, e2.Version, 0, e2.Size); err != nil || string(got) != newContent {
			t.Fatalf("new version: %q, %v", got, err)
		}
	}
}

// TestChangeDuringStreamIsStale: the blob changes while its bytes stream;
// the read fails with Stale at the end instead of passing the last bytes.
func TestChangeDuringStreamIsStale(t *testing.T) {
	s := newServer(t, emulator.Options{})
	content := bytes.Repeat([]byte("0123456789"), 10_000)
	id := s.AddBlob(emulator.RootID, "big.bin", emulator.Bytes(content), "")
	b, _ := loggedIn(t, s)
	e := stat(t, b, id)
	rc, err := b.ReadRange(t.Context(), e.ID, e.Version, 0, e.Size)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	head := make([]byte, 1000)
	if _, err := io.ReadFull(rc, head); err != nil {
		t.Fatal(err)
	}
	s.UpdateBlob(id, emulator.Bytes(bytes.Repeat([]byte("x"), len(content))))
	rest, err := io.ReadAll(rc)
	mustKind(t, err, remote.Stale)
	if int64(len(head)+len(rest)) >= e.Size {
		t.Fatalf("all %d bytes were handed over", len(head)+len(rest))
	}
}

// TestRevisionHeaderProvesBytes: with a revision header (ETag), the first
// verified read proves it for the version; later reads of that version
// need no get-resource at all, and a different revision is Stale before
// any byte.
func TestRevisionHeaderProvesBytes(t *testing.T) {
	s := newServer(t, emulator.Options{RevisionHeader: true, RangeSupport: true})
	id := s.AddBlob(emulator.RootID, "a.bin", emulator.Bytes([]byte("0123456789")), "")
	b := listedBackend(t, s, time.Minute)
	e := listed(t, b, id)
	if data, err := readAll(t, b, id, e.Version, 0, e.Size); err != nil || string(data) != "0123456789" {
		t.Fatalf("first read %q, %v", data, err)
	}
	s.ResetCounters()
	for off := int64(0); off < 10; off += 5 {
		if data, err := readAll(t, b, id, e.Version, off, 5); err != nil || string(data) != "0123456789"[off:off+5] {
			t.Fatalf("range at %d: %q, %v", off, data, err)
		}
	}
	if n := s.Counters()["get-resource"]; n != 0 {
		t.Fatalf("%d get-resource calls for reads the revision header proves", n)
	}
	s.UpdateBlob(id, emulator.Bytes([]byte("abcdefghij")))
	data, err := readAll(t, b, id, e.Version, 0, e.Size)
	mustKind(t, err, remote.Stale)
	if len(data) != 0 || s.Counters()["get-resource"] != 0 {
		t.Fatalf("stale revision: %q handed over, %d get-resource calls", data, s.Counters()["get-resource"])
	}
}

package bimcloud

import (
	"fmt"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bimcloud/emulator"
)

func TestRootListStat(t *testing.T) {
	s := newServer(t, emulator.Options{})
	dir := s.AddFolder(emulator.RootID, "Projects")
	blob := s.AddBlob(dir, "plan.pln", emulator.Bytes([]byte("twelve bytes")), "")
	b, _ := loggedIn(t, s)

	root, err := b.Root(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if root.ID != RootID || !root.Dir {
		t.Fatalf("Root = %+v", root)
	}
	es, err := b.List(t.Context(), root.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Model servers live in "Server Root", never in a listing.
	if len(es) != 1 || es[0].Name != "Projects" || !es[0].Dir || es[0].ID != remote.ID(dir) {
		t.Fatalf("root children = %+v", es)
	}
	es, err = b.List(t.Context(), remote.ID(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 {
		t.Fatalf("children = %+v", es)
	}
	f := es[0]
	if f.ID != remote.ID(blob) || f.Dir || f.Size != 12 || f.Version.ID == "" || f.Version.Ref != s.DefaultModelServer() {
		t.Fatalf("file entry = %+v", f)
	}
	if time.Since(f.ModTime) > time.Hour || f.ModTime.IsZero() {
		t.Fatalf("ModTime = %v", f.ModTime)
	}
	if st := stat(t, b, blob); st != f {
		t.Fatalf("Stat = %+v, List gave %+v", st, f)
	}
	if b.Features().RangeReads {
		t.Fatal("RangeReads before any server answered 206")
	}
}

func TestStatAndListMissing(t *testing.T) {
	s := newServer(t, emulator.Options{})
	dir := s.AddFolder(emulator.RootID, "gone")
	file := s.AddBlob(emulator.RootID, "f.txt", emulator.Bytes([]byte("x")), "")
	b, _ := loggedIn(t, s)
	s.DeleteResource(dir)
	_, err := b.Stat(t.Context(), remote.ID(dir))
	mustKind(t, err, remote.NotFound)
	// A vanished folder must not list as empty.
	_, err = b.List(t.Context(), remote.ID(dir))
	mustKind(t, err, remote.NotFound)
	_, err = b.List(t.Context(), remote.ID(file))
	mustKind(t, err, remote.Invalid)
	// Model servers are resources too, but not files.
	_, err = b.Stat(t.Context(), remote.ID(s.DefaultModelServer()))
	mustKind(t, err, remote.NotFound)
}

// listing pages through a folder larger than the server's page cap. With
// the default cap (1000, the limit the client asks for) short pages end
// the listing; with a lower cap the client must notice that the server
// returned fewer than asked although more exist.
func TestListPagesOverCap(t *testing.T) {
	for _, tc := range []struct {
		cap, n int
		// maxCalls bounds the criterion calls for the first listing.
		maxCalls int64
	}{
		{cap: 0, n: 2500, maxCalls: 3},   // 1000+1000+500
		{cap: 0, n: 2000, maxCalls: 3},   // 1000+1000+0
		{cap: 300, n: 1250, maxCalls: 6}, // 300 (short: probe) 300 … 50
		{cap: 1000, n: 999, maxCalls: 2}, // 999 (short: probe) 0
		{cap: 7, n: 7, maxCalls: 2},
		{cap: 7, n: 50, maxCalls: 9},
	} {
		t.Run(fmt.Sprintf("cap%d_n%d", tc.cap, tc.n), func(t *testing.T) {
			t.Parallel()
			s := newServer(t, emulator.Options{PageCap: tc.cap})
			dir := s.AddFolder(emulator.RootID, "big")
			want := map[string]string{}
			for i := range tc.n {
				name := fmt.Sprintf("sheet %04d.pdf", i)
				want[name] = s.AddBlob(dir, name, emulator.Synthetic(int64(i), int64(i%100)), "")
			}
			b, _ := loggedIn(t, s)
			s.ResetCounters()
			es, err := b.List(t.Context(), remote.ID(dir))
			if err != nil {
				t.Fatal(err)
			}
			if len(es) != tc.n {
				t.Fatalf("listed %d entries, want %d", len(es), tc.n)
			}
			for _, e := range es {
				if want[e.Name] != string(e.ID) {
					t.Fatalf("entry %q has ID %q, want %q", e.Name, e.ID, want[e.Name])
				}
			}
			if calls := s.Counters()["get-resources-by-criterion"]; calls > tc.maxCalls {
				t.Errorf("%d criterion calls, want at most %d", calls, tc.maxCalls)
			}
			// A second listing uses what the first one learned about the cap;
			// a last page as large as the largest seen still needs a probe.
			s.ResetCounters()
			if es, err = b.List(t.Context(), remote.ID(dir)); err != nil || len(es) != tc.n {
				t.Fatalf("second listing: %d entries, %v", len(es), err)
			}
			pageSize := tc.cap
			if pageSize == 0 || pageSize > maxPageSize {
				pageSize = maxPageSize
			}
			if calls, max := s.Counters()["get-resources-by-criterion"], int64(tc.n/pageSize+2); calls > max {
				t.Errorf("second listing: %d criterion calls, want at most %d", calls, max)
			}
		})
	}
}

// Small folders must not cost an extra page each once the client has seen
// a larger page.
func TestShortPagesAfterLargerOne(t *testing.T) {
	s := newServer(t, emulator.Options{})
	big := s.AddFolder(emulator.RootID, "big")
	for i := range 40 {
		s.AddBlob(big, fmt.Sprintf("f%02d", i), emulator.Bytes(nil), "")
	}
	small := s.AddFolder(emulator.RootID, "small")
	for i := range 3 {
		s.AddBlob(small, fmt.Sprintf("f%02d", i), emulator.Bytes(nil), "")
	}
	b, _ := loggedIn(t, s)
	if _, err := b.List(t.Context(), remote.ID(big)); err != nil {
		t.Fatal(err)
	}
	s.ResetCounters()
	es, err := b.List(t.Context(), remote.ID(small))
	if err != nil || len(es) != 3 {
		t.Fatalf("%d entries, %v", len(es), err)
	}
	if calls := s.Counters()["get-resources-by-criterion"]; calls != 1 {
		t.Fatalf("%d criterion calls for a 3-entry folder, want 1", calls)
	}
}

// Names are passed through exactly: BIMcloud allows much that POSIX tools
// find awkward, and forbids < > : ; , ? " * | / \ (checked by ValidName).
func TestNames(t *testing.T) {
	s := newServer(t, emulator.Options{})
	names := []string{"with space.txt", "Ünïcødé Tëst.txt", "設計図 2024.pln", "a#b%c&d+e=f.txt", ".hidden", "'quoted'", "tab\tname", "trailing.", "x@y[1]{2}~!$.txt"}
	ids := map[string]string{}
	for i, n := range names {
		ids[n] = s.AddBlob(emulator.RootID, n, emulator.Bytes([]byte(fmt.Sprint(i))), "")
	}
	b, _ := loggedIn(t, s)
	es, err := b.List(t.Context(), RootID)
	if err != nil {
		t.Fatal(err)
	}
	got := byName(es)
	for i, n := range names {
		e, ok := got[n]
		if !ok || e.ID != remote.ID(ids[n]) {
			t.Fatalf("name %q: listed as %+v", n, e)
		}
		data, err := readAll(t, b, ids[n], e.Version, 0, e.Size)
		if err != nil || string(data) != fmt.Sprint(i) {
			t.Fatalf("read %q: %q, %v", n, data, err)
		}
	}
	for _, bad := range []string{"a<b", "a>b", "a:b", "a;b", "a,b", "a?b", `a"b`, "a*b", "a|b", "a/b", `a\b`, "", ".", ".."} {
		mustKind(t, ValidName(bad), remote.Invalid)
	}
	for _, good := range names {
		if err := ValidName(good); err != nil {
			t.Errorf("ValidName(%q) = %v", good, err)
		}
	}
}

package remotetest

import (
	"bytes"
	"testing"

	"github.com/bimfs/bimfs/remote"
)

// runHistory checks remote.Historian and remote.Locator, for backends
// that implement them.
func runHistory(t *testing.T, c Config, tree []File, data map[string][]byte) {
	b, top := c.Build(t, tree)
	s := &suite{b: b, top: top}
	if l, ok := b.(remote.Locator); ok {
		t.Run("Locate", func(t *testing.T) {
			e := s.entry(t, "hello.txt")
			loc, ok := l.Locate(e.ID)
			if !ok || loc.ObjectID == "" {
				t.Errorf("Locate(%q) = %+v, %v; want the service's ID", e.ID, loc, ok)
			}
		})
	}
	h, ok := b.(remote.Historian)
	if !ok {
		return
	}
	t.Run("History", func(t *testing.T) {
		for _, path := range []string{"hello.txt", "empty.txt", "sub/big.bin"} {
			e := s.entry(t, path)
			hist, err := h.History(t.Context(), e.ID)
			if err != nil {
				t.Fatalf("History(%s): %v", path, err)
			}
			if len(hist) == 0 {
				t.Fatalf("History(%s) is empty", path)
			}
			tip := hist[len(hist)-1]
			if tip.Version.ID != e.Version.ID || tip.Size != e.Size || tip.Name != e.Name {
				t.Errorf("History(%s) ends with %+v; the listing shows %+v", path, tip, e)
			}
			got, err := s.read(t.Context(), remote.Entry{ID: e.ID, Version: tip.Version, Size: tip.Size}, 0, tip.Size)
			if err != nil || !bytes.Equal(got, data[path]) {
				t.Errorf("reading %s's newest listed version: %d bytes, %v", path, len(got), err)
			}
		}
		dir := s.entry(t, "sub")
		if _, err := h.History(t.Context(), dir.ID); !remote.IsKind(err, remote.Invalid) {
			t.Errorf("History(folder) error = %v (kind %v), want Invalid", err, remote.KindOf(err))
		}
		missing := changeLast(s.entry(t, "hello.txt").ID)
		if c.Missing != nil {
			missing = c.Missing(s.entry(t, "hello.txt").ID)
		}
		if _, err := h.History(t.Context(), missing); !remote.IsKind(err, remote.NotFound) {
			t.Errorf("History(missing) error = %v (kind %v), want NotFound", err, remote.KindOf(err))
		}
	})
	if c.Update == nil {
		return
	}
	t.Run("HistoryAfterUpdate", func(t *testing.T) {
		b, top := c.Build(t, tree)
		s := &suite{b: b, top: top}
		h := b.(remote.Historian)
		before := s.entry(t, "hello.txt")
		c.Update(t, "hello.txt", []byte("second"))
		after := s.entry(t, "hello.txt")
		hist, err := h.History(t.Context(), after.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(hist); n == 0 || hist[n-1].Version.ID != after.Version.ID {
			t.Fatalf("history after an update %+v does not end with the new version %q", hist, after.Version.ID)
		}
		// Services without a readable history list only the current
		// version; those with one list the previous version just before.
		if n := len(hist); n >= 2 {
			prev := hist[n-2]
			if prev.Version.ID != before.Version.ID || prev.Size != before.Size {
				t.Errorf("version before the tip is %+v, want %+v", prev, before.Version)
			}
			if prev.Version.Number != 0 && prev.Version.Number >= hist[n-1].Version.Number {
				t.Errorf("versions not oldest first: %d then %d", prev.Version.Number, hist[n-1].Version.Number)
			}
			got, err := s.read(t.Context(), remote.Entry{ID: after.ID, Version: prev.Version, Size: prev.Size}, 0, prev.Size)
			if err != nil || !bytes.Equal(got, data["hello.txt"]) {
				t.Errorf("reading the previous version: %q, %v", got, err)
			}
		}
	})
}

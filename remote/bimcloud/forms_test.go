package bimcloud

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bimcloud/emulator"
)

// formModes are the three kinds of server the client must work with where
// the spec and the vendor demo use different verbs.
var formModes = []struct {
	name string
	opts emulator.Options
	// fallbacks is how many spec-form requests the server refuses before
	// the client settles on the demo's form (per call).
	fallbacks int
}{
	{"spec strict", emulator.Options{}, 0},
	{"accepts demo forms", emulator.Options{AcceptDemoForms: true}, 0},
	{"demo forms only", emulator.Options{RefuseSpecForms: true}, 1},
}

// TestUpdateBlobParentFallback moves files on every kind of server: PUT
// first, POST only after a 404, and the choice is remembered.
func TestUpdateBlobParentFallback(t *testing.T) {
	for _, m := range formModes {
		t.Run(m.name, func(t *testing.T) {
			s := newServer(t, m.opts)
			b := writable(t, s, nil)
			ctx := t.Context()
			a := s.AddFolder(emulator.RootID, "A")
			c := s.AddFolder(emulator.RootID, "C")
			f := s.AddBlob(a, "f.txt", emulator.Bytes([]byte("x")), "")
			for i, dir := range []string{c, a, c} {
				e, err := b.Rename(ctx, remote.ID(f), remote.ID(dir), "f.txt", "")
				if err != nil {
					t.Fatalf("move %d: %v", i, err)
				}
				if r, _ := b.mgr.GetResource(ctx, f); r == nil || r.ParentID != dir || e.ID != remote.ID(f) {
					t.Fatalf("move %d: blob is in %+v", i, r)
				}
			}
			if got := s.Counters()["unknown-route"]; got != int64(m.fallbacks) {
				t.Fatalf("%d refused requests, want %d (fallback remembered)", got, m.fallbacks)
			}
			if got := s.Counters()["update-blob-parent"]; got != 3 {
				t.Fatalf("%d update-blob-parent requests served, want 3", got)
			}
		})
	}
}

// TestBlobChangesFallback reads the change feed on every kind of server.
func TestBlobChangesFallback(t *testing.T) {
	for _, m := range formModes {
		t.Run(m.name, func(t *testing.T) {
			s := newServer(t, m.opts)
			b := writable(t, s, nil)
			ctx := t.Context()
			id := s.AddBlob(emulator.RootID, "a.txt", emulator.Bytes([]byte("a")), "")
			cs, err := b.mgr.BlobChanges(ctx, emulator.RootName, 0)
			if err != nil {
				t.Fatalf("BlobChanges from 0: %v", err)
			}
			if len(cs.Created) != 1 || cs.Created[0].ID != id {
				t.Fatalf("from 0: %+v", cs)
			}
			s.UpdateBlob(id, emulator.Bytes([]byte("b")))
			cs2, err := b.mgr.BlobChanges(ctx, emulator.RootName, int64(cs.EndRevision))
			if err != nil {
				t.Fatalf("BlobChanges from %d: %v", cs.EndRevision, err)
			}
			if len(cs2.Updated) != 1 || cs2.Updated[0].ID != id {
				t.Fatalf("after update: %+v", cs2)
			}
			if got := s.Counters()["unknown-route"]; got != int64(m.fallbacks) {
				t.Fatalf("%d refused requests, want %d", got, m.fallbacks)
			}
		})
	}
}

// TestMissingRouteIsUnsupported: a server that has neither form of a call
// makes it Unsupported with a message saying so, never NotFound (which the
// filesystem would show as a missing file).
func TestMissingRouteIsUnsupported(t *testing.T) {
	var methods []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		methods = append(methods, r.Method)
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	s := newServer(t, emulator.Options{})
	cfg, _ := testConfig(t, s)
	cfg.ManagerURL = srv.URL
	cfg.HTTP = nil // not a BIMcloud: nothing to check against the spec
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	m := &manager{cfg: cfg, c: cfg.anonClient()}
	err = m.UpdateBlobParent(t.Context(), "blob", "dir")
	mustKind(t, err, remote.Unsupported)
	if !strings.Contains(err.Error(), "unsupported by this server") {
		t.Fatalf("message: %v", err)
	}
	if strings.Join(methods, ",") != "PUT,POST" {
		t.Fatalf("methods sent: %v", methods)
	}
	// A plain 404 on any other call is Unsupported too.
	_, err = m.GetResource(t.Context(), "x")
	mustKind(t, err, remote.Unsupported)
}

// TestTokenRequestForms refreshes the token on every kind of server: the
// spec's JSON body first, the demo's form only after a refusal of the
// JSON body, remembered; never a refresh token spent twice.
func TestTokenRequestForms(t *testing.T) {
	for _, m := range formModes {
		t.Run(m.name, func(t *testing.T) {
			s := newServer(t, m.opts)
			b := writable(t, s, nil)
			for i := range 3 {
				s.ExpireTokens()
				if _, err := b.List(t.Context(), RootID); err != nil {
					t.Fatalf("List after expiry %d: %v", i, err)
				}
			}
			// Password login (1) plus three refreshes, and one refused JSON
			// request against a form-only server.
			if got, want := s.Counters()["token"], int64(4+m.fallbacks); got != want {
				t.Fatalf("%d token requests, want %d", got, want)
			}
		})
	}
}

// TestTokenFormRememberedButRetried: a Manager remembered to take forms
// that now refuses them (an upgraded, spec-strict server) gets JSON.
func TestTokenFormRememberedButRetried(t *testing.T) {
	s := newServer(t, emulator.Options{RefuseSpecForms: true})
	b, _ := loggedIn(t, s)
	s.ExpireTokens()
	if _, err := b.List(t.Context(), RootID); err != nil {
		t.Fatal(err)
	}
	if f, _ := tokenForms.Load(s.URL); f != formDemo {
		t.Fatalf("form remembered %v, want the demo's", f)
	}
	s.SetOptions(emulator.Options{})
	s.ExpireTokens()
	if _, err := b.List(t.Context(), RootID); err != nil {
		t.Fatalf("after the server became strict: %v", err)
	}
	if f, _ := tokenForms.Load(s.URL); f != formSpec {
		t.Fatalf("form remembered %v, want the spec's", f)
	}
}

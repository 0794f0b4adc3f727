package emulator

import (
	"net/http"
	"net/url"
	"testing"
)

// TestFormsModes checks the three ways the emulator treats the calls where
// the spec and the vendor demo use different verbs.
func TestFormsModes(t *testing.T) {
	for _, tc := range []struct {
		name          string
		opts          Options
		putOK, postOK bool
	}{
		{"strict", Options{}, true, false},
		{"accept demo forms", Options{AcceptDemoForms: true}, true, true},
		{"demo forms only", Options{RefuseSpecForms: true}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts)
			tok := h.srv.Token()
			dir := h.srv.AddFolder(RootID, "D")
			blob := h.srv.AddBlob(RootID, "f.txt", Bytes([]byte("x")), "")
			q := url.Values{"blob-id": {blob}}
			for _, verb := range []string{"PUT", "POST"} {
				want := tc.putOK
				if verb == "POST" {
					want = tc.postOK
				}
				st, b := h.api(verb, "get-blob-changes-for-sync", tok, nil, map[string]any{"path": RootName, "fromRevision": 0})
				if got := st == http.StatusOK; got != want {
					t.Fatalf("%s get-blob-changes-for-sync: %d %s", verb, st, b)
				}
				if !want && st != http.StatusNotFound {
					t.Fatalf("%s get-blob-changes-for-sync refused with %d, want 404", verb, st)
				}
				st, b = h.api(verb, "update-blob-parent", tok, q, map[string]any{"parentId": dir})
				if got := st == http.StatusOK; got != want {
					t.Fatalf("%s update-blob-parent: %d %s", verb, st, b)
				}
				if !want && st != http.StatusNotFound {
					t.Fatalf("%s update-blob-parent refused with %d, want 404", verb, st)
				}
			}
			// Unknown routes and wrong verbs elsewhere are 404 too, never 405.
			if st, b := h.api("DELETE", "get-resource", tok, url.Values{"resource-id": {blob}}, nil); st != http.StatusNotFound {
				t.Fatalf("DELETE get-resource: %d %s", st, b)
			}
			if st, b := h.api("GET", "no-such-call", tok, nil, nil); st != http.StatusNotFound {
				t.Fatalf("unknown route: %d %s", st, b)
			}
		})
	}
}

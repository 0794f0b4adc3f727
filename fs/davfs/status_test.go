package davfs_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/davfs"
	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/remotetest"
)

func TestStatusTable(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, 200},
		{&remote.Error{Kind: remote.NotFound}, 404},
		{&remote.Error{Kind: remote.Permission}, 403},
		{&remote.Error{Kind: remote.Unauthenticated}, 403},
		{&remote.Error{Kind: remote.Exists}, 405},
		{&remote.Error{Kind: remote.NotEmpty}, 409},
		{&remote.Error{Kind: remote.Invalid}, 400},
		{&remote.Error{Kind: remote.NameTooLong}, 400},
		{&remote.Error{Kind: remote.Unsupported}, 501},
		{&remote.Error{Kind: remote.NoSpace}, 507},
		{&remote.Error{Kind: remote.Unavailable}, 503},
		{&remote.Error{Kind: remote.Throttled}, 503},
		{&remote.Error{Kind: remote.Stale}, 412},
		{&remote.Error{Kind: remote.TooLarge}, 413},
		{&remote.Error{Kind: remote.Conflict}, 409},
		{fmt.Errorf("wrapped: %w", fs.ErrCrossDevice), 502},
		{fs.ErrReadOnlyFS, 403},
		{fs.ErrIsDir, 405},
		{fs.ErrNotDir, 409},
		{fs.ErrNotSupported, 501},
		{fmt.Errorf("something else"), 500},
	}
	for _, c := range cases {
		if got := davfs.Status(c.err); got != c.want {
			t.Errorf("Status(%v) = %d; want %d", c.err, got, c.want)
		}
	}
}

// TestErrorStatuses checks that failures reach the client with the
// table's status and a body that says why, not the protocol layer's
// generic 404/405/500.
func TestErrorStatuses(t *testing.T) {
	m := newMem(map[string][]byte{pf + "/a.txt": []byte("alpha"), "Hub/Locked/Files/ro.txt": []byte("ro")})
	other := newMem(nil)
	m.SetReadOnly(mustLookup(t, m, "Hub/Locked/Files"), true)
	s := newServer(t, davfs.Options{}, fs.Account{Name: "acme", Backend: m}, fs.Account{Name: "other", Backend: other})
	base := url("acme", pf)

	check := func(what string, resp *http.Response, body string, status int, says string) {
		t.Helper()
		if resp.StatusCode != status || !strings.Contains(body, says) {
			t.Errorf("%s: %s %q; want %d saying %q", what, resp.Status, body, status, says)
		}
	}
	resp, body := s.do(t, "MOVE", base+"/a.txt", nil, "Destination", s.url+url("other", pf, "a.txt"))
	check("move between accounts", resp, body, http.StatusBadGateway, "cannot move between services, accounts or projects")
	if _, ok := m.Entry(pf + "/a.txt"); !ok {
		t.Error("refused move lost the source")
	}
	// What the service cannot move, COPY can: it reads and writes.
	resp, body = s.do(t, "COPY", base+"/a.txt", nil, "Destination", s.url+url("other", pf, "a.txt"))
	check("copy between accounts", resp, body, http.StatusCreated, "")
	if got, _ := other.Content(pf + "/a.txt"); string(got) != "alpha" {
		t.Errorf("copied between accounts: %q", got)
	}
	resp, body = s.do(t, http.MethodPut, "/new.txt", strings.NewReader("x"))
	check("PUT at the root", resp, body, http.StatusForbidden, "read-only")
	resp, body = s.do(t, "MKCOL", "/acme/Hub/Locked/Files/Sub", nil)
	check("MKCOL in a read-only folder", resp, body, http.StatusForbidden, "permission")
	resp, body = s.do(t, http.MethodPut, base+"/"+strings.Repeat("n", 256), strings.NewReader("x"))
	check("name too long", resp, body, http.StatusBadRequest, "")
	resp, body = s.do(t, http.MethodPut, base+"/rate%2525.txt", strings.NewReader("x"))
	check("non-canonical escape", resp, body, http.StatusBadRequest, "")
	resp, body = s.do(t, http.MethodPut, base, strings.NewReader("x"))
	check("PUT on a folder", resp, body, http.StatusMethodNotAllowed, "is a directory")
	resp, body = s.do(t, http.MethodGet, base+"/nothing.txt", nil)
	check("missing file", resp, body, http.StatusNotFound, "")
	resp, body = s.do(t, http.MethodPut, base+"/Missing/x.txt", strings.NewReader("x"))
	check("PUT below a missing folder", resp, body, http.StatusConflict, "")

	// Deleting an account or a read-only folder is refused before
	// anything below it is deleted.
	resp, body = s.do(t, http.MethodDelete, "/acme", nil)
	check("DELETE of an account", resp, body, http.StatusForbidden, "read-only")
	resp, body = s.do(t, http.MethodDelete, "/acme/Hub/Locked/Files", nil)
	check("DELETE of a read-only folder", resp, body, http.StatusForbidden, "does not let")
	if _, ok := m.Content("Hub/Locked/Files/ro.txt"); !ok {
		t.Error("a refused DELETE deleted a file below")
	}
	if _, ok := m.Content(pf + "/a.txt"); !ok {
		t.Error("a refused DELETE of the account deleted a file")
	}

	// The service is down at upload: 503, and the content stays staged.
	m.SetFault(func(ctx context.Context, op string, id remote.ID) error {
		if op == remotetest.OpUpload {
			return &remote.Error{Kind: remote.Unavailable, Op: "memory.Upload", Message: "service unavailable"}
		}
		return nil
	})
	resp, body = s.do(t, http.MethodPut, base+"/down.txt", strings.NewReader("kept"))
	check("upload while the service is down", resp, body, http.StatusServiceUnavailable, "service unavailable")
	m.SetFault(nil)
	resp, body = s.do(t, http.MethodGet, base+"/down.txt", nil)
	check("staged file after a failed upload", resp, body, http.StatusOK, "kept")
}

func mustLookup(t *testing.T, m *remotetest.Memory, path string) remote.ID {
	t.Helper()
	id, ok := m.Lookup(path)
	if !ok {
		t.Fatalf("no %s", path)
	}
	return id
}

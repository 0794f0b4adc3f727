package emulator

import (
	"context"
	"net/http"
	"net/url"
	"testing"
)

func TestGetResource(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.srv.Token()
	f := h.srv.AddFolder(RootID, "Folder with spaces")
	empty := h.srv.AddBlob(f, "empty.bin", Bytes(nil), "")

	root := h.resource(tok, RootID)
	if root.Path != RootName || root.Type != "resourceGroup" || root.ParentID != "" || len(root.Ancestors) != 0 || root.Size != nil {
		t.Fatalf("root: %+v", root)
	}
	folder := h.resource(tok, f)
	if folder.Path != "Project Root/Folder with spaces" || folder.ParentID != RootID || folder.ParentName != RootName || folder.Size != nil {
		t.Fatalf("folder: %+v", folder)
	}
	blob := h.resource(tok, empty)
	if blob.Size == nil || *blob.Size != 0 || blob.Type != "blob" {
		t.Fatalf("0-byte blob must carry $size 0: %+v", blob)
	}
	ms := h.resource(tok, h.srv.DefaultModelServer())
	if ms.Type != "modelServer" || ms.Name != DefaultModelServerName || len(ms.ConnectionURLs) != 2 {
		t.Fatalf("model server: %+v", ms)
	}

	st, b := h.api("GET", "get-resource", tok, url.Values{"resource-id": {"00000000-0000-4000-8000-000000000000"}}, nil)
	h.managerErr(st, b, ErrEntityNotFound)
	st, b = h.api("GET", "get-resource", tok, nil, nil)
	h.managerErr(st, b, ErrEntityValidation)
	st, b = h.api("GET", "get-resource", tok, url.Values{"resource-id": {serverRootID}}, nil)
	h.managerErr(st, b, ErrEntityNotFound)

	// UpdateBlob moves $modifiedDate forward even within one millisecond.
	before := h.resource(tok, empty).ModifiedDate
	h.srv.UpdateBlob(empty, Bytes([]byte("x")))
	h.srv.UpdateBlob(empty, Bytes([]byte("xy")))
	after := h.resource(tok, empty)
	if after.ModifiedDate < before+2 || *after.Size != 2 {
		t.Fatalf("after two updates: modified %d (before %d), size %d", after.ModifiedDate, before, *after.Size)
	}
	h.srv.DeleteResource(f)
	st, b = h.api("GET", "get-resource", tok, url.Values{"resource-id": {empty}}, nil)
	h.managerErr(st, b, ErrEntityNotFound)
}

func TestGetUser(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.srv.Token()
	var u userJSON
	st, b := h.api("GET", "get-user", tok, url.Values{"user-id": {userID("demo")}}, nil)
	h.must(st, b, &u)
	if u.Username != "demo" || !u.Active || u.Type != "user" {
		t.Fatalf("user: %+v", u)
	}
	st, b = h.api("GET", "get-user", tok, url.Values{"user-id": {userID("nobody")}}, nil)
	h.managerErr(st, b, ErrEntityNotFound)
}

func TestInheritedDefaultBlobServer(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.srv.Token()
	def := h.srv.DefaultModelServer()
	ms2 := h.srv.AddModelServer("Second", 0)
	a := h.srv.AddFolder(RootID, "A")
	b := h.srv.AddFolder(a, "B")
	c := h.srv.AddFolder(b, "C")
	h.srv.SetDefaultModelServer(b, ms2)
	blob := h.srv.AddBlob(c, "f.txt", Bytes([]byte("f")), "")

	for _, tc := range []struct{ folder, want string }{{RootID, def}, {a, def}, {b, ms2}, {c, ms2}} {
		var got string
		st, body := h.api("GET", "get-inherited-default-blob-server-id", tok, url.Values{"resource-group-id": {tc.folder}}, nil)
		h.must(st, body, &got)
		if got != tc.want {
			t.Errorf("folder %s: %s, want %s", tc.folder, got, tc.want)
		}
	}
	if got := h.resource(tok, blob).ModelServerID; got != ms2 {
		t.Errorf("AddBlob without server in C: hosted on %s, want %s", got, ms2)
	}
	st, body := h.api("GET", "get-inherited-default-blob-server-id", tok, url.Values{"resource-group-id": {blob}}, nil)
	h.managerErr(st, body, ErrEntityNotFound)
}

func TestGetTicketErrors(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.srv.Token()
	ms := h.srv.DefaultModelServer()
	cases := []struct {
		name string
		req  ticketRequest
		code int
	}{
		{"wrong type", ticketRequest{Type: "paidTicket", Resources: []string{ms}, Format: "base64"}, ErrEntityValidation},
		{"no resources", ticketRequest{Type: "freeTicket", Format: "base64"}, ErrEntityValidation},
		{"two resources", ticketRequest{Type: "freeTicket", Resources: []string{ms, ms}, Format: "base64"}, ErrEntityValidation},
		{"not a model server", ticketRequest{Type: "freeTicket", Resources: []string{RootID}, Format: "base64"}, ErrEntityNotFound},
		{"other user", ticketRequest{Type: "freeTicket", Resources: []string{ms}, Format: "base64", UserID: userID("eve")}, ErrAccessDenied},
	}
	for _, c := range cases {
		ctx := context.Background()
		if c.req.Resources == nil {
			ctx = withInvalidRequest(ctx) // resources: null breaks the request schema
		}
		st, b := h.apiCtx(ctx, "POST", "ticket-generator/get-ticket", tok, nil, c.req)
		if st != StatusBIMcloudError {
			t.Errorf("%s: status %d %s", c.name, st, b)
			continue
		}
		h.managerErr(st, b, c.code)
	}
	st, b := h.apiCtx(withInvalidRequest(context.Background()), "POST", "ticket-generator/get-ticket", tok, nil, ticketRequest{Type: "freeTicket", Resources: []string{ms}, Format: "hex"})
	h.managerErr(st, b, ErrEntityValidation)
	st, b = h.apiCtx(withInvalidRequest(context.Background()), "POST", "ticket-generator/get-ticket", tok, nil, []byte("{"))
	h.managerErr(st, b, ErrEntityValidation)
}

func TestInjectedManagerErrors(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.srv.Token()
	root := url.Values{"resource-id": {RootID}}
	h.srv.InjectError("get-resource", ErrResultLimitExceeded, 2)
	h.srv.InjectError("get-resource", http.StatusServiceUnavailable, 1)
	h.srv.InjectError("get-resource", http.StatusUnauthorized, 1)
	for range 2 {
		st, b := h.api("GET", "get-resource", tok, root, nil)
		h.managerErr(st, b, ErrResultLimitExceeded)
	}
	if st, b := h.api("GET", "get-resource", tok, root, nil); st != 503 || len(b) != 0 {
		t.Fatalf("injected 503: %d %s", st, b)
	}
	st, b := h.api("GET", "get-resource", tok, root, nil)
	h.oauthErr(st, b, 401, "invalid_token")
	st, b = h.api("GET", "get-resource", tok, root, nil)
	h.must(st, b, nil)
	// Other endpoints are unaffected by an injection for one op.
	h.srv.InjectError("get-user", ErrGeneric, 1)
	st, b = h.api("GET", "get-resource", tok, root, nil)
	h.must(st, b, nil)

	c := h.srv.Counters()
	if c["get-resource"] != 6 || c["fault.injected"] != 4 || c["fault.503"] != 1 {
		t.Fatalf("counters %v", c)
	}
	h.srv.ResetCounters()
	if len(h.srv.Counters()) != 0 {
		t.Fatal("ResetCounters left counters")
	}
}

func TestRate503(t *testing.T) {
	h := newHarness(t, Options{Rate503: 1})
	tok := h.srv.Token()
	for range 3 {
		if st, b := h.api("GET", "get-resource", tok, url.Values{"resource-id": {RootID}}, nil); st != 503 {
			t.Fatalf("Rate503=1: %d %s", st, b)
		}
	}
	// Logging in still works.
	st, b := h.tokenForm(url.Values{"grant_type": {"password"}, "username": {"demo"}, "password": {"demo"}, "client_id": {"c"}})
	h.must(st, b, nil)
	h.srv.SetOptions(Options{Rate503: 0.5, Seed: 42})
	n503 := 0
	for range 200 {
		st, _ := h.api("GET", "get-resource", tok, url.Values{"resource-id": {RootID}}, nil)
		if st == 503 {
			n503++
		}
	}
	if n503 < 50 || n503 > 150 {
		t.Fatalf("Rate503=0.5 gave %d/200", n503)
	}
	if got := h.srv.Counters()["fault.503"]; got != int64(n503+3) {
		t.Fatalf("fault.503 = %d, want %d", got, n503+3)
	}
}

func TestOptionsDefaults(t *testing.T) {
	srv := New(Options{Users: map[string]string{"x": "y"}})
	defer srv.Close()
	o := srv.Options()
	if o.PageCap != 1000 || o.TokenLifetime != DefaultTokenLifetime || o.TicketLifetime != DefaultTicketLifetime ||
		o.SessionLifetime != DefaultSessionLifetime || o.Users["x"] != "y" || len(o.Users) != 1 || o.RangeSupport {
		t.Fatalf("options %+v", o)
	}
	o.Users["x"] = "changed"
	if srv.Options().Users["x"] != "y" {
		t.Fatal("Options leaks the internal Users map")
	}
	srv.SetOptions(Options{})
	if u := srv.Options().Users; len(u) != 1 || u[DefaultUser] != DefaultPassword {
		t.Fatalf("default users %v", u)
	}
}

package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/bimfs/bimfs/remote/bimcloud/emulator/contract"
)

// TestWorkflow walks the vendor demo's download workflow end to end through
// the validating client: login (demo form), user, listing with paging,
// path lookup, model server, ticket, session, download, change feed, close.
func TestWorkflow(t *testing.T) {
	h := newHarness(t, Options{})
	srv := h.srv
	folder := srv.AddFolder(RootID, "Site A")
	sub := srv.AddFolder(folder, "Sub")
	text := Bytes([]byte("Hello, world!"))
	blob := srv.AddBlob(sub, "text1.txt", text, "")
	pic := srv.AddBlob(folder, "pic1.jpg", Synthetic(7, 300*KiB), "")

	// Password grant, form-encoded as managerapi.py sends it.
	form := url.Values{"grant_type": {"password"}, "username": {"demo"}, "password": {"demo"}, "client_id": {"example.com"}}
	st, _, b := h.do(context.Background(), "POST", srv.URL+apiRoot+"oauth2/token",
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(form.Encode()))
	var tok tokenResponse
	h.must(st, b, &tok)
	if tok.TokenType != "Bearer" || tok.AccessToken == "" || tok.RefreshToken == "" || tok.UserID == "" || tok.AccessTokenExp == 0 {
		t.Fatalf("token response %+v", tok)
	}

	var user userJSON
	st, b = h.api("GET", "get-user", tok.AccessToken, url.Values{"user-id": {tok.UserID}}, nil)
	h.must(st, b, &user)
	if user.Username != "demo" || user.ID != tok.UserID {
		t.Fatalf("user %+v", user)
	}

	// Path lookup as workflow.py get_resource(by_path=…).
	var found []resourceJSON
	st, b = h.api("POST", "get-resources-by-criterion", tok.AccessToken, nil, map[string]any{"$eq": map[string]any{"$path": "Project Root/Site A"}})
	h.must(st, b, &found)
	if len(found) != 1 || found[0].ID != folder || found[0].Type != "resourceGroup" {
		t.Fatalf("path lookup: %+v", found)
	}

	// Listing with the demo's paging parameters.
	var page []resourceJSON
	st, b = h.api("POST", "get-resources-by-criterion?"+url.Values{"sort-by": {"name"}, "skip": {"0"}, "limit": {"100"}}.Encode(),
		tok.AccessToken, nil, map[string]any{"$eq": map[string]any{"$parentId": folder}})
	h.must(st, b, &page)
	if len(page) != 2 || page[0].Name != "Sub" || page[1].Name != "pic1.jpg" {
		t.Fatalf("listing: %+v", page)
	}
	p := page[1]
	if p.ID != pic || p.Size == nil || *p.Size != 300*KiB || p.ModelServerID != srv.DefaultModelServer() ||
		p.Path != "Project Root/Site A/pic1.jpg" || p.LoweredPath != "project root/site a/pic1.jpg" ||
		p.ParentID != folder || p.ParentName != "Site A" || p.ModelServerName != DefaultModelServerName ||
		len(p.Ancestors) != 2 || p.Ancestors[0].ID != RootID || p.Ancestors[1].ID != folder || p.ModifiedDate == 0 {
		t.Fatalf("blob resource: %+v", p)
	}

	// Download as workflow.py does: blob.modelServerId → model server →
	// working URL → ticket → session → get-blob-content.
	tb := h.resource(tok.AccessToken, blob)
	base, sid := h.session(tok.AccessToken, tb.ModelServerID)
	st, hdr, got := h.content(base, sid, blob, nil)
	if st != 200 || hdr.Get("Content-Type") != ctOctetStream {
		t.Fatalf("get-blob-content: %d %v", st, hdr)
	}
	expectBytes(t, got, text)

	var sess struct {
		DataContentType string      `json:"data-content-type"`
		Data            sessionJSON `json:"data"`
	}
	st, _, b = h.do(context.Background(), "GET", base+"/session-service/1.0/get-session?session-id="+sid, nil, nil)
	h.must(st, b, &sess)
	if sess.DataContentType != ctSession || sess.Data.ID != sid || sess.Data.ExpirationTime <= sess.Data.CreationTime {
		t.Fatalf("get-session: %s", b)
	}

	// Change feed, demo style (POST, by path): a spec-strict server has
	// no such route; one that also serves the demo's form answers.
	var ch syncResponse
	st, b = h.api("POST", "get-blob-changes-for-sync", tok.AccessToken, nil, map[string]any{"path": "Project Root/Site A", "fromRevision": 0})
	if st != http.StatusNotFound {
		t.Fatalf("strict server: POST get-blob-changes-for-sync answered %d %s", st, b)
	}
	o := srv.Options()
	o.AcceptDemoForms = true
	srv.SetOptions(o)
	st, b = h.api("POST", "get-blob-changes-for-sync", tok.AccessToken, nil, map[string]any{"path": "Project Root/Site A", "resourceGroupId": nil, "fromRevision": 0})
	h.must(st, b, &ch)
	if len(ch.Created) != 2 || ch.EndRevision == 0 {
		t.Fatalf("sync from 0: %s", b)
	}
	srv.UpdateBlob(blob, Bytes([]byte("Hello, world!\nHello again!")))
	st, b = h.api("PUT", "get-blob-changes-for-sync", tok.AccessToken, nil, map[string]any{"resourceGroupId": folder, "fromRevision": ch.EndRevision})
	var ch2 syncResponse
	h.must(st, b, &ch2)
	if len(ch2.Updated) != 1 || ch2.Updated[0].ID != blob || ch2.EndRevision <= ch.EndRevision {
		t.Fatalf("sync after update: %s", b)
	}

	st, _, b = h.do(context.Background(), "POST", base+"/session-service/1.0/close-session?session-id="+sid, nil, nil)
	if st != 200 {
		t.Fatalf("close-session: %d %s", st, b)
	}
	st, _, b = h.content(base, sid, blob, nil)
	h.blobErr(st, b, StatusBIMcloudError, BlobErrSessionNotFound)
	if h.checker.Validated() < 15 {
		t.Fatalf("only %d exchanges validated", h.checker.Validated())
	}
}

// recorder is a testing.TB that records errors instead of failing, to show
// the contract check can fail.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Helper() {}

// TestContractCheckCatchesViolations feeds the validator exchanges that
// break the spec and expects complaints.
func TestContractCheckCatchesViolations(t *testing.T) {
	rec := &recorder{TB: t}
	h := newHarness(rec, Options{})
	mk := func(method, path string, reqCT string, reqBody string, status int, respCT, respBody string) {
		u, _ := url.Parse(h.srv.URL + path)
		x := &contract.Exchange{
			Method: method, Path: u.Path, Query: u.Query(), ReqHeader: http.Header{}, ReqBody: []byte(reqBody),
			Status: status, RespHeader: http.Header{"Content-Type": {respCT}}, RespBody: []byte(respBody),
		}
		if reqCT != "" {
			x.ReqHeader.Set("Content-Type", reqCT)
		}
		h.checker.Check(context.Background(), x, false)
	}
	cases := []struct {
		name string
		run  func()
	}{
		{"size as string", func() {
			mk("GET", apiRoot+"get-resource?resource-id=x", "", "", 200, ctJSON, `{"id":"x","$size":"12"}`)
		}},
		{"undeclared status", func() {
			mk("GET", apiRoot+"get-resource?resource-id=x", "", "", 418, ctJSON, `{}`)
		}},
		{"unknown path", func() {
			mk("GET", apiRoot+"no-such-endpoint", "", "", 200, ctJSON, `{}`)
		}},
		{"error code as string", func() {
			mk("GET", apiRoot+"get-resource?resource-id=x", "", "", 430, ctJSON, `{"error-code":"6","error-message":"x"}`)
		}},
		{"wrong session content type", func() {
			mk("GET", "/session-service/1.0/get-session?session-id=x", "", "", 200, ctJSON, `{"data":{}}`)
		}},
		{"short state", func() {
			mk("GET", apiRoot+"oauth2/get-authorization-code-by-state?state=short", "", "", 200, ctJSON, `{"status":"pending"}`)
		}},
	}
	for _, c := range cases {
		before := len(rec.errs)
		c.run()
		if len(rec.errs) == before {
			t.Errorf("%s: the contract check accepted a violation", c.name)
		}
	}
	// And a conforming exchange passes.
	before := len(rec.errs)
	mk("GET", apiRoot+"get-resource?resource-id=x", "", "", 200, ctJSON, `{"id":"x","$size":12,"$ancestors":[]}`)
	if len(rec.errs) != before {
		t.Errorf("conforming exchange rejected: %v", rec.errs[before:])
	}
}

// TestEveryRouteIsDocumented checks that each path the emulator serves is
// in the spec, apart from the listed undocumented ones.
func TestEveryRouteIsDocumented(t *testing.T) {
	doc, err := contract.Spec()
	if err != nil {
		t.Fatal(err)
	}
	served := []string{
		"/management/client/oauth2/authorize", "/management/client/oauth2/get-authorization-code-by-state",
		"/management/client/oauth2/token", "/management/client/get-resource", "/management/client/get-resources-by-criterion",
		"/management/client/get-user", "/management/client/get-inherited-default-blob-server-id",
		"/management/client/ticket-generator/get-ticket", "/management/client/get-blob-changes-for-sync",
		"/session-service/1.0/create-session", "/session-service/1.0/get-session", "/session-service/1.0/close-session",
		"/blob-store-service/1.0/get-blob-content",
	}
	for _, p := range served {
		if doc.Paths.Find(p) == nil {
			t.Errorf("%s is served but not in the spec", p)
		}
	}
	for p := range contract.UndocumentedPaths {
		if doc.Paths.Find(p) != nil {
			t.Errorf("%s is listed as undocumented but the spec has it", p)
		}
	}
}

// TestTicketFormats covers the three ticket encodings.
func TestTicketFormats(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.srv.Token()
	ms := h.srv.DefaultModelServer()
	base := h.blobServerURL(tok, ms)

	st, b := h.api("POST", "ticket-generator/get-ticket", tok, nil, ticketRequest{Type: "freeTicket", Resources: []string{ms}, Format: "base64"})
	if st != 200 || bytes.HasPrefix(b, []byte(`"`)) {
		t.Fatalf("bare base64 ticket: %d %s", st, b)
	}
	if st, b := h.createSession(base, "demo", string(b)); st != 200 {
		t.Fatalf("session with bare ticket: %d %s", st, b)
	}

	h.srv.SetOptions(Options{TicketJSONString: true})
	st, b = h.api("POST", "ticket-generator/get-ticket", tok, nil, ticketRequest{Type: "freeTicket", Resources: []string{ms}, Format: "base64"})
	var s string
	h.must(st, b, &s)
	if st, b := h.createSession(base, "demo", s); st != 200 {
		t.Fatalf("session with JSON-string ticket: %d %s", st, b)
	}
	// The quoted form itself is not a ticket.
	st, b = h.api("POST", "ticket-generator/get-ticket", tok, nil, ticketRequest{Type: "freeTicket", Resources: []string{ms}, Format: "base64"})
	h.must(st, b, nil)
	st, b = h.createSession(base, "demo", string(b))
	h.blobErr(st, b, http.StatusUnauthorized, BlobErrAuthenticationFailed)

	// lengthPrefixedBuffer (also the default): 4-byte big-endian length + bytes.
	for _, format := range []string{"lengthPrefixedBuffer", ""} {
		st, hdr, raw := h.do(context.Background(), "POST", h.srv.URL+apiRoot+"ticket-generator/get-ticket",
			http.Header{"Authorization": {"Bearer " + tok}, "Content-Type": {"application/json"}},
			must(json.Marshal(ticketRequest{Type: "freeTicket", Resources: []string{ms}, Format: format})))
		if st != 200 || hdr.Get("Content-Type") != ctOctetStream || len(raw) < 5 {
			t.Fatalf("format %q: %d %v %d bytes", format, st, hdr, len(raw))
		}
		n := int(raw[0])<<24 | int(raw[1])<<16 | int(raw[2])<<8 | int(raw[3])
		if n != len(raw)-4 {
			t.Fatalf("length prefix %d, payload %d", n, len(raw)-4)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

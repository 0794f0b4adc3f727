package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/bimfs/bimfs/remote/bimcloud/emulator/contract"
)

// Every request a test sends through a harness, and every response the
// emulator gives, is validated against the vendor's 2023.2 OpenAPI document
// by the contract package (openapi3filter). Documented deviations are
// rewritten to the spec's form first; see contract.specVariant.

// harness is an emulator plus an HTTP client whose every exchange is
// checked against the spec.
type harness struct {
	t       testing.TB
	srv     *Server
	hc      *http.Client
	tr      *http.Transport
	checker *contract.Checker
}

// withInvalidRequest marks a request that a test sends malformed on
// purpose: its response is still validated, the request is not.
func withInvalidRequest(ctx context.Context) context.Context {
	return contract.WithInvalidRequest(ctx)
}

func newHarness(t testing.TB, opts Options) *harness {
	t.Helper()
	srv := New(opts)
	t.Cleanup(srv.Close)
	h := &harness{t: t, srv: srv, tr: &http.Transport{}, checker: contract.New(t, srv.URL)}
	h.hc = &http.Client{Transport: h.checker.Transport(h.tr)}
	t.Cleanup(func() {
		h.tr.CloseIdleConnections()
		t.Logf("contract: %d exchanges validated against %s", h.checker.Validated(), contract.SpecFile)
	})
	return h
}

func (h *harness) allowUndocumented(path string) { h.checker.AllowPath(path) }

// ---- request helpers -------------------------------------------------------

// do sends a request and returns status, headers and body.
func (h *harness) do(ctx context.Context, method, rawURL string, hdr http.Header, body []byte) (int, http.Header, []byte) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		h.t.Fatalf("new request: %v", err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: read body: %v", method, rawURL, err)
	}
	return resp.StatusCode, resp.Header, b
}

// api calls a manager endpoint with a bearer token; body is JSON-encoded
// unless it is already []byte.
func (h *harness) api(method, op, token string, q url.Values, body any) (int, []byte) {
	h.t.Helper()
	return h.apiCtx(context.Background(), method, op, token, q, body)
}

func (h *harness) apiCtx(ctx context.Context, method, op, token string, q url.Values, body any) (int, []byte) {
	h.t.Helper()
	u := h.srv.URL + apiRoot + op
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	hdr := http.Header{}
	if token != "" {
		hdr.Set("Authorization", "Bearer "+token)
	}
	var b []byte
	switch v := body.(type) {
	case nil:
	case []byte:
		b = v
		hdr.Set("Content-Type", "application/json")
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			h.t.Fatal(err)
		}
		hdr.Set("Content-Type", "application/json")
	}
	status, _, resp := h.do(ctx, method, u, hdr, b)
	return status, resp
}

// must decodes a 200 JSON body into v.
func (h *harness) must(status int, body []byte, v any) {
	h.t.Helper()
	if status != http.StatusOK {
		h.t.Fatalf("status %d, body %s", status, body)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			h.t.Fatalf("decode %s: %v", body, err)
		}
	}
}

// managerErr asserts a 430 manager error with the given code.
func (h *harness) managerErr(status int, body []byte, code int) {
	h.t.Helper()
	if status != StatusBIMcloudError {
		h.t.Fatalf("status %d, want 430 (code %d); body %s", status, code, body)
	}
	var e managerError
	if err := json.Unmarshal(body, &e); err != nil {
		h.t.Fatalf("decode manager error %s: %v", body, err)
	}
	if e.Code != code || !strings.HasPrefix(e.Message, managerErrorNames[code]+": ") {
		h.t.Fatalf("error %d %q, want code %d (%s)", e.Code, e.Message, code, managerErrorNames[code])
	}
}

// blobErr asserts a blob-server error envelope with the given status and code.
func (h *harness) blobErr(status int, body []byte, wantStatus, code int) {
	h.t.Helper()
	if status != wantStatus {
		h.t.Fatalf("status %d, want %d (blob code %d); body %s", status, wantStatus, code, body)
	}
	var e struct {
		DataContentType string        `json:"data-content-type"`
		Data            blobErrorData `json:"data"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		h.t.Fatalf("decode blob error %s: %v", body, err)
	}
	if e.DataContentType != ctDetailedError || e.Data.Code != code || e.Data.Details.Reason != blobErrorNames[code] {
		h.t.Fatalf("blob error %+v, want code %d (%s)", e, code, blobErrorNames[code])
	}
}

func (h *harness) resource(token, id string) resourceJSON {
	h.t.Helper()
	var r resourceJSON
	st, b := h.api("GET", "get-resource", token, url.Values{"resource-id": {id}}, nil)
	h.must(st, b, &r)
	return r
}

// blobServerURL finds the working connection URL of a model server as a
// client must: substitute the templates, probe in order.
func (h *harness) blobServerURL(token, msID string) string {
	h.t.Helper()
	ms := h.resource(token, msID)
	mu, _ := url.Parse(h.srv.URL)
	for _, tmpl := range ms.ConnectionURLs {
		u := strings.ReplaceAll(tmpl, "$protocol", mu.Scheme+":")
		u = strings.ReplaceAll(u, "$hostname", mu.Hostname())
		req, _ := http.NewRequest("GET", strings.TrimSuffix(u, "/")+"/application-server-service/get-runtime-id", nil)
		resp, err := h.hc.Do(req)
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			return u
		}
	}
	h.t.Fatalf("model server %s: no working connection URL in %v", msID, ms.ConnectionURLs)
	return ""
}

// ticket asks for a base64 ticket and strips JSON quotes if present.
func (h *harness) ticket(token, msID string) string {
	h.t.Helper()
	st, b := h.api("POST", "ticket-generator/get-ticket", token, nil, ticketRequest{Type: "freeTicket", Resources: []string{msID}, Format: "base64"})
	h.must(st, b, nil)
	s := string(b)
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			h.t.Fatal(err)
		}
	}
	return s
}

func (h *harness) createSession(base, username, ticket string) (int, []byte) {
	h.t.Helper()
	body, _ := json.Marshal(map[string]any{
		"data-content-type": ctAuthRequest,
		"data":              map[string]string{"username": username, "ticket": ticket},
	})
	st, _, b := h.do(context.Background(), "POST", base+"/session-service/1.0/create-session", http.Header{"Content-Type": {ctAuthRequest}}, body)
	return st, b
}

// session opens a blob-server session on msID and returns the base URL and session ID.
func (h *harness) session(token, msID string) (base, sid string) {
	h.t.Helper()
	base = h.blobServerURL(token, msID)
	st, b := h.createSession(base, DefaultUser, h.ticket(token, msID))
	var env struct {
		Data sessionJSON `json:"data"`
	}
	h.must(st, b, &env)
	if env.Data.ID == "" {
		h.t.Fatalf("create-session: no id in %s", b)
	}
	return base, env.Data.ID
}

func (h *harness) content(base, sid, blobID string, hdr http.Header) (int, http.Header, []byte) {
	h.t.Helper()
	q := url.Values{"session-id": {sid}, "blob-id": {blobID}}
	return h.do(context.Background(), "GET", base+"/blob-store-service/1.0/get-blob-content?"+q.Encode(), hdr, nil)
}

func expectBytes(t *testing.T, got []byte, c Content) {
	t.Helper()
	want := make([]byte, c.Size())
	if _, err := c.ReadAt(want, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("content differs: got %d bytes, want %d", len(got), len(want))
	}
}

package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The contract check: every request a test sends through a harness, and
// every response the emulator gives, is validated against the vendor's
// 2023.2 OpenAPI document with openapi3filter. Where the emulator accepts
// or sends the vendor demo's form instead of the spec's, the exchange is
// first rewritten to the spec-conforming variant (see specVariant), so the
// rest of the exchange is still checked.

var (
	specOnce sync.Once
	specDoc  *openapi3.T
	specErr  error
)

// findSpecs walks up from the working directory to the directory holding
// shared/specs.
func findSpecs() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "shared", "specs")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no shared/specs directory above the working directory")
		}
		dir = parent
	}
}

func loadSpec(t testing.TB) *openapi3.T {
	t.Helper()
	specOnce.Do(func() {
		dir, err := findSpecs()
		if err != nil {
			specErr = err
			return
		}
		l := openapi3.NewLoader()
		doc, err := l.LoadFromFile(filepath.Join(dir, "bimcloud", "2023.2.yaml"))
		if err != nil {
			specErr = err
			return
		}
		// The vendor file has one example of the wrong type ($ancestors);
		// everything else validates.
		if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
			specErr = err
			return
		}
		specDoc = doc
	})
	if specErr != nil {
		t.Fatalf("load 2023.2.yaml: %v", specErr)
	}
	return specDoc
}

// undocumentedPaths are served by the emulator but absent from the spec.
var undocumentedPaths = map[string]string{
	"/application-server-service/get-runtime-id": "probe endpoint the vendor demo uses to pick a connection URL",
}

// harness is an emulator plus an HTTP client whose every exchange is
// checked against the spec.
type harness struct {
	t      testing.TB
	srv    *Server
	hc     *http.Client
	tr     *http.Transport
	router routers.Router
	host   string // manager host:port, used to route blob-server paths too

	validated atomic.Int64
	mu        sync.Mutex
	allowed   map[string]bool // extra undocumented paths a test expects
}

type invalidRequestKey struct{}

// withInvalidRequest marks a request that a test sends malformed on
// purpose: its response is still validated, the request is not.
func withInvalidRequest(ctx context.Context) context.Context {
	return context.WithValue(ctx, invalidRequestKey{}, true)
}

func newHarness(t testing.TB, opts Options) *harness {
	t.Helper()
	doc := loadSpec(t)
	srv := New(opts)
	t.Cleanup(srv.Close)

	// Match routes by path: the doc's servers are the vendor's hosts, so
	// they are replaced by the emulator's manager URL, and blob-server
	// requests are routed as if sent there (their paths are distinct).
	d := *doc
	d.Servers = openapi3.Servers{{URL: srv.URL}}
	router, err := gorillamux.NewRouter(&d)
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	h := &harness{t: t, srv: srv, router: router, tr: &http.Transport{}, allowed: map[string]bool{}}
	h.host = strings.TrimPrefix(srv.URL, "http://")
	h.hc = &http.Client{Transport: h}
	t.Cleanup(func() {
		h.tr.CloseIdleConnections()
		t.Logf("contract: %d exchanges validated against 2023.2.yaml", h.validated.Load())
	})
	return h
}

func (h *harness) allowUndocumented(path string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.allowed[path] = true
}

// RoundTrip sends the request, reads the whole response and validates the pair.
func (h *harness) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := h.tr.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, readErr := io.ReadAll(resp.Body)
	resp.Body.Close()
	if readErr == nil {
		h.validate(req, reqBody, resp, body)
	}
	resp.Body = &replayBody{r: bytes.NewReader(body), err: readErr}
	return resp, nil
}

// replayBody returns the bytes read and then the error that cut them short.
type replayBody struct {
	r   *bytes.Reader
	err error
}

func (b *replayBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF && b.err != nil {
		return n, b.err
	}
	return n, err
}

func (b *replayBody) Close() error { return nil }

// exchange is one request/response pair in the form openapi3filter checks.
type exchange struct {
	method, path string
	query        url.Values
	reqHeader    http.Header
	reqBody      []byte
	status       int
	respHeader   http.Header
	respBody     []byte
	skipRequest  bool
}

// specVariant rewrites the documented deviations into the spec's form.
// It returns a note when the exchange cannot be checked at all.
func specVariant(x *exchange) (skip string) {
	reqMT, _, _ := mime.ParseMediaType(x.reqHeader.Get("Content-Type"))
	respMT, _, _ := mime.ParseMediaType(x.respHeader.Get("Content-Type"))
	switch {
	case x.path == "/management/client/get-blob-changes-for-sync" && x.method == http.MethodPost:
		// Deviation: spec PUT, demo POST.
		x.method = http.MethodPut
	case x.path == "/management/client/oauth2/token" && reqMT == "application/x-www-form-urlencoded":
		// Deviation: spec JSON with "client-id", demo form with "client_id".
		v, err := url.ParseQuery(string(x.reqBody))
		if err == nil {
			m := map[string]string{}
			for k := range v {
				key := k
				if k == "client_id" {
					key = "client-id"
				}
				m[key] = v.Get(k)
			}
			x.reqBody, _ = json.Marshal(m)
			x.reqHeader = x.reqHeader.Clone()
			x.reqHeader.Set("Content-Type", "application/json")
		}
	case x.path == "/management/client/ticket-generator/get-ticket" && x.status == 200 && respMT == "application/json" &&
		!bytes.HasPrefix(x.respBody, []byte(`"`)):
		// Deviation: spec JSON string, demo reads bare base64 text.
		x.respBody, _ = json.Marshal(string(x.respBody))
	case x.path == "/management/client/oauth2/get-authorization-code-by-state" && x.status == 200:
		// Deviation: "code": null while pending; the schema types it string.
		var m map[string]any
		if json.Unmarshal(x.respBody, &m) == nil {
			if c, ok := m["code"]; ok && c == nil {
				delete(m, "code")
				x.respBody, _ = json.Marshal(m)
			}
		}
	case x.path == "/blob-store-service/1.0/get-blob-content" && x.status == http.StatusPartialContent:
		// Deviation: 206 only with Options.RangeSupport; the spec has no Range.
		x.status = http.StatusOK
		x.reqHeader = x.reqHeader.Clone()
		x.reqHeader.Del("Range")
	case x.path == "/blob-store-service/1.0/get-blob-content" && x.status == http.StatusRequestedRangeNotSatisfiable:
		return "416 exists only with Options.RangeSupport"
	case strings.HasPrefix(x.path, "/session-service/") || strings.HasPrefix(x.path, "/blob-store-service/") ||
		strings.HasPrefix(x.path, "/application-server-service/"):
		if x.status == http.StatusServiceUnavailable {
			if len(x.respBody) != 0 {
				return "" // fall through to validation, which will complain
			}
			return "blob-server 503 is not declared by the spec (injected fault)"
		}
	}
	return ""
}

func (h *harness) validate(req *http.Request, reqBody []byte, resp *http.Response, body []byte) {
	x := &exchange{
		method: req.Method, path: req.URL.Path, query: req.URL.Query(), reqHeader: req.Header.Clone(),
		reqBody: reqBody, status: resp.StatusCode, respHeader: resp.Header, respBody: body,
		skipRequest: req.Context().Value(invalidRequestKey{}) != nil,
	}
	if note := specVariant(x); note != "" {
		return
	}
	u := &url.URL{Scheme: "http", Host: h.host, Path: x.path, RawQuery: x.query.Encode()}
	vreq, err := http.NewRequest(x.method, u.String(), bytes.NewReader(x.reqBody))
	if err != nil {
		h.t.Errorf("contract: build request: %v", err)
		return
	}
	vreq.Header = x.reqHeader
	route, pathParams, err := h.router.FindRoute(vreq)
	if err != nil {
		h.mu.Lock()
		ok := h.allowed[x.path]
		h.mu.Unlock()
		if _, documented := undocumentedPaths[x.path]; documented || ok {
			h.validated.Add(1)
			return
		}
		h.t.Errorf("contract: %s %s is not a route of 2023.2.yaml: %v", x.method, x.path, err)
		return
	}
	ctx := context.Background()
	in := &openapi3filter.RequestValidationInput{
		Request: vreq, PathParams: pathParams, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}
	if !x.skipRequest {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			h.t.Errorf("contract: request %s %s does not match the spec: %v", x.method, x.path, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 x.status,
		Header:                 x.respHeader,
		Body:                   io.NopCloser(bytes.NewReader(x.respBody)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		h.t.Errorf("contract: response %d to %s %s does not match the spec: %v\nbody: %.300s", x.status, x.method, x.path, err, x.respBody)
	}
	h.validated.Add(1)
}

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

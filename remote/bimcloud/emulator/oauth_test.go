package emulator

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const (
	testState    = "d290f1ee-6c54-4b01-90e6-d701748f0851"
	testVerifier = "eaowlwoarpnxszyclnpkuckdynyfoyhsrvpfoavblctxyz0123"
)

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (h *harness) authorize(q url.Values) (int, []byte) {
	h.t.Helper()
	ctx := context.Background()
	if len(q.Get("state")) < 16 || q.Get("client_id") == "" || q.Get("code_challenge") != "" && len(q.Get("code_challenge")) < 43 {
		ctx = withInvalidRequest(ctx)
	}
	st, _, b := h.do(ctx, "GET", h.srv.URL+apiRoot+"oauth2/authorize?"+q.Encode(), nil, nil)
	return st, b
}

func (h *harness) poll(state string) codeByStateResponse {
	h.t.Helper()
	st, _, b := h.do(context.Background(), "GET", h.srv.URL+apiRoot+"oauth2/get-authorization-code-by-state?state="+url.QueryEscape(state), nil, nil)
	var r codeByStateResponse
	h.must(st, b, &r)
	return r
}

// tokenJSON posts the spec's JSON token request.
func (h *harness) tokenJSON(fields map[string]string) (int, []byte) {
	h.t.Helper()
	b, _ := json.Marshal(fields)
	st, _, resp := h.do(context.Background(), "POST", h.srv.URL+apiRoot+"oauth2/token", http.Header{"Content-Type": {"application/json"}}, b)
	return st, resp
}

// tokenForm posts the demo's form token request.
func (h *harness) tokenForm(v url.Values) (int, []byte) {
	h.t.Helper()
	st, _, resp := h.do(context.Background(), "POST", h.srv.URL+apiRoot+"oauth2/token",
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(v.Encode()))
	return st, resp
}

func (h *harness) oauthErr(status int, body []byte, wantStatus int, name string) {
	h.t.Helper()
	var e oauthError
	if status != wantStatus || json.Unmarshal(body, &e) != nil || e.Error != name {
		h.t.Fatalf("got %d %s, want %d %q", status, body, wantStatus, name)
	}
}

func TestAuthorizationCodeFlow(t *testing.T) {
	cases := []struct {
		name      string
		authorize url.Values
		token     map[string]string
		wantErr   string
	}{
		{"plain code exchange", url.Values{}, map[string]string{}, ""},
		{"PKCE S256", url.Values{"code_challenge_method": {"S256"}, "code_challenge": {s256(testVerifier)}},
			map[string]string{"code_verifier": testVerifier}, ""},
		{"PKCE plain", url.Values{"code_challenge_method": {"plain"}, "code_challenge": {testVerifier}},
			map[string]string{"code_verifier": testVerifier}, ""},
		{"PKCE method defaults to plain", url.Values{"code_challenge": {testVerifier}},
			map[string]string{"code_verifier": testVerifier}, ""},
		{"PKCE wrong verifier", url.Values{"code_challenge_method": {"S256"}, "code_challenge": {s256(testVerifier)}},
			map[string]string{"code_verifier": strings.Repeat("x", 50)}, "invalid_grant"},
		{"PKCE missing verifier", url.Values{"code_challenge_method": {"S256"}, "code_challenge": {s256(testVerifier)}},
			map[string]string{}, "invalid_grant"},
		{"redirect_uri must match", url.Values{"redirect_uri": {"https://example.com/cb"}},
			map[string]string{"redirect_uri": "https://example.com/other"}, "invalid_grant"},
		{"redirect_uri matches", url.Values{"redirect_uri": {"https://example.com/cb"}},
			map[string]string{"redirect_uri": "https://example.com/cb"}, ""},
		{"other client", url.Values{}, map[string]string{"client-id": "evil.example"}, "invalid_grant"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			q := url.Values{"state": {testState}, "client_id": {"example.com"}}
			for k, v := range c.authorize {
				q[k] = v
			}
			if st, b := h.authorize(q); st != 200 {
				t.Fatalf("authorize: %d %s", st, b)
			}
			r := h.poll(testState)
			if r.Status != "succeeded" || r.Code == nil {
				t.Fatalf("poll: %+v", r)
			}
			req := map[string]string{"grant_type": "authorization_code", "client-id": "example.com", "code": *r.Code}
			for k, v := range c.token {
				req[k] = v
			}
			st, b := h.tokenJSON(req)
			if c.wantErr != "" {
				h.oauthErr(st, b, 400, c.wantErr)
				return
			}
			var tok tokenResponse
			h.must(st, b, &tok)
			if tok.UserID != userID(DefaultUser) {
				t.Fatalf("user %q", tok.UserID)
			}
			// The token works; the code is single-use.
			if st, b := h.api("GET", "get-user", tok.AccessToken, url.Values{"user-id": {tok.UserID}}, nil); st != 200 {
				t.Fatalf("get-user: %d %s", st, b)
			}
			st, b = h.tokenJSON(req)
			h.oauthErr(st, b, 400, "invalid_grant")
		})
	}
}

func TestAuthorizeErrors(t *testing.T) {
	h := newHarness(t, Options{})
	ok := url.Values{"state": {testState}, "client_id": {"example.com"}}
	if st, b := h.authorize(ok); st != 200 {
		t.Fatalf("authorize: %d %s", st, b)
	}
	// A second authorize for the same state: 500 OauthError.
	st, b := h.authorize(ok)
	h.oauthErr(st, b, 500, "invalid_request")

	for name, q := range map[string]url.Values{
		"short state":     {"state": {"short"}, "client_id": {"x"}},
		"no client_id":    {"state": {testState + "2"}},
		"short challenge": {"state": {testState + "3"}, "client_id": {"x"}, "code_challenge": {"abc"}},
	} {
		st, b := h.authorize(q)
		if st != 500 {
			t.Errorf("%s: %d %s", name, st, b)
		}
	}
}

func TestAuthorizationPending(t *testing.T) {
	h := newHarness(t, Options{ConsentPolls: 2})
	other := testState + "-never-opened"
	if r := h.poll(other); r.Status != "pending" || r.Code != nil {
		t.Fatalf("unknown state: %+v", r)
	}
	if st, b := h.authorize(url.Values{"state": {testState}, "client_id": {"c"}, "username": {"demo"}}); st != 200 {
		t.Fatalf("authorize: %d %s", st, b)
	}
	for i := range 2 {
		if r := h.poll(testState); r.Status != "pending" {
			t.Fatalf("poll %d: %+v", i, r)
		}
	}
	if r := h.poll(testState); r.Status != "succeeded" || r.Code == nil {
		t.Fatalf("final poll: %+v", r)
	}
	// Too short a state is a request error.
	st, _, b := h.do(withInvalidRequest(context.Background()), "GET", h.srv.URL+apiRoot+"oauth2/get-authorization-code-by-state?state=x", nil, nil)
	h.managerErr(st, b, ErrEntityValidation)
}

func TestTokenGrants(t *testing.T) {
	h := newHarness(t, Options{Users: map[string]string{"alice": "secret", "bob": "pw"}})
	pw := func(user, pass string) url.Values {
		return url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass}, "client_id": {"c"}}
	}
	st, b := h.tokenForm(pw("alice", "secret"))
	var tok tokenResponse
	h.must(st, b, &tok)
	if tok.UserID != userID("alice") {
		t.Fatalf("user %s", tok.UserID)
	}
	st, b = h.tokenForm(pw("alice", "wrong"))
	h.oauthErr(st, b, 400, "invalid_grant")
	st, b = h.tokenForm(pw("mallory", "secret"))
	h.oauthErr(st, b, 400, "invalid_grant")

	// A spec-strict server refuses the demo's form refresh, spending
	// nothing; with AcceptDemoForms it takes it.
	st, b = h.tokenForm(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"c"}})
	h.oauthErr(st, b, 400, "invalid_request")
	o := h.srv.Options()
	o.AcceptDemoForms = true
	h.srv.SetOptions(o)
	// Refresh (form, as the demo) rotates: the old refresh token dies.
	st, b = h.tokenForm(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"c"}})
	var tok2 tokenResponse
	h.must(st, b, &tok2)
	if tok2.RefreshToken == tok.RefreshToken || tok2.AccessToken == tok.AccessToken || tok2.UserID != tok.UserID {
		t.Fatalf("refresh did not rotate: %+v", tok2)
	}
	st, b = h.tokenForm(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {"c"}})
	h.oauthErr(st, b, 400, "invalid_grant")
	// JSON refresh with the spec's "client-id"; another client may not use it.
	st, b = h.tokenJSON(map[string]string{"grant_type": "refresh_token", "refresh_token": tok2.RefreshToken, "client-id": "other"})
	h.oauthErr(st, b, 400, "invalid_grant")
	st, b = h.tokenJSON(map[string]string{"grant_type": "refresh_token", "refresh_token": tok2.RefreshToken, "client-id": "c"})
	var tok3 tokenResponse
	h.must(st, b, &tok3)
	// A server that reads only forms finds no grant in JSON.
	o.AcceptDemoForms, o.RefuseSpecForms = false, true
	h.srv.SetOptions(o)
	st, b = h.tokenJSON(map[string]string{"grant_type": "refresh_token", "refresh_token": tok3.RefreshToken, "client-id": "c"})
	h.oauthErr(st, b, 400, "invalid_request")
	st, b = h.tokenForm(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok3.RefreshToken}, "client_id": {"c"}})
	h.must(st, b, nil)
	o.RefuseSpecForms = false
	h.srv.SetOptions(o)

	// Each body format has its own spelling of the client field.
	st, b = h.tokenJSON(map[string]string{"grant_type": "password", "username": "bob", "password": "pw", "client_id": "c"})
	h.oauthErr(st, b, 400, "invalid_client")
	v := pw("bob", "pw")
	v.Del("client_id")
	v.Set("client-id", "c")
	st, b = h.tokenForm(v)
	h.oauthErr(st, b, 400, "invalid_client")

	st, b = h.tokenJSON(map[string]string{"grant_type": "client_credentials", "client-id": "c"})
	h.oauthErr(st, b, 400, "unsupported_grant_type")
	st, b = h.tokenJSON(map[string]string{"client-id": "c"})
	h.oauthErr(st, b, 400, "invalid_request")
	st, _, b = h.do(withInvalidRequest(context.Background()), "POST", h.srv.URL+apiRoot+"oauth2/token", http.Header{"Content-Type": {"text/plain"}}, []byte("x"))
	h.oauthErr(st, b, 400, "invalid_request")
}

func TestBearerChecks(t *testing.T) {
	h := newHarness(t, Options{})
	st, b := h.tokenForm(url.Values{"grant_type": {"password"}, "username": {"demo"}, "password": {"demo"}, "client_id": {"c"}})
	var tok tokenResponse
	h.must(st, b, &tok)
	root := url.Values{"resource-id": {RootID}}

	st, b = h.api("GET", "get-resource", tok.AccessToken, root, nil)
	h.must(st, b, nil)
	h.srv.ExpireTokens()
	st, b = h.api("GET", "get-resource", tok.AccessToken, root, nil)
	h.oauthErr(st, b, 401, "invalid_token")
	st, b = h.api("GET", "get-resource", "not-a-token", root, nil)
	h.oauthErr(st, b, 401, "invalid_token")
	if got := h.srv.Counters()["auth.401"]; got != 2 {
		t.Fatalf("auth.401 = %d", got)
	}
	// The refresh token survives access-token expiry (managerapi.py's retry).
	st, b = h.tokenJSON(map[string]string{"grant_type": "refresh_token", "refresh_token": tok.RefreshToken, "client-id": "c"})
	h.must(st, b, &tok)
	st, b = h.api("GET", "get-resource", tok.AccessToken, root, nil)
	h.must(st, b, nil)
	// No Authorization header at all: AuthenticationRequiredError.
	st, b = h.api("GET", "get-resource", "", root, nil)
	h.managerErr(st, b, ErrAuthenticationRequired)
	// A short TokenLifetime shows in access_token_exp.
	h.srv.SetOptions(Options{TokenLifetime: 90})
	st, b = h.tokenJSON(map[string]string{"grant_type": "refresh_token", "refresh_token": tok.RefreshToken, "client-id": "c"})
	var short tokenResponse
	h.must(st, b, &short)
	if short.AccessTokenExp > tok.AccessTokenExp-3000 {
		t.Fatalf("access_token_exp %d not earlier than the 1 h token's %d", short.AccessTokenExp, tok.AccessTokenExp)
	}
}

func TestInjectedOAuthErrors(t *testing.T) {
	h := newHarness(t, Options{})
	pw := url.Values{"grant_type": {"password"}, "username": {"demo"}, "password": {"demo"}, "client_id": {"c"}}
	h.srv.InjectError("token", ErrLdapConnection, 1)
	h.srv.InjectError("token", http.StatusInternalServerError, 1)
	h.srv.InjectError("token", http.StatusServiceUnavailable, 1)
	h.srv.InjectError("get-authorization-code-by-state", ErrGeneric, 1)
	h.srv.InjectError("authorize", http.StatusInternalServerError, 1)

	st, b := h.tokenForm(pw)
	var e oauthError
	if st != 500 || json.Unmarshal(b, &e) != nil || e.Inner == nil || e.Inner.Code != ErrLdapConnection {
		t.Fatalf("inner error: %d %s", st, b)
	}
	st, b = h.tokenForm(pw)
	h.oauthErr(st, b, 500, "server_error")
	// 503 is not declared for /token; send it outside the contract check.
	resp, err := http.Post(h.srv.URL+apiRoot+"oauth2/token", "application/x-www-form-urlencoded", strings.NewReader(pw.Encode()))
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("injected 503 on token: %v %v", resp, err)
	}
	resp.Body.Close()
	st, b = h.tokenForm(pw)
	h.must(st, b, nil)

	st, _, b = h.do(context.Background(), "GET", h.srv.URL+apiRoot+"oauth2/get-authorization-code-by-state?state="+testState, nil, nil)
	h.managerErr(st, b, ErrGeneric)
	st, b = h.authorize(url.Values{"state": {testState}, "client_id": {"c"}})
	h.oauthErr(st, b, 500, "server_error")
	// The failed authorize stored nothing: the state is still free.
	if st, b := h.authorize(url.Values{"state": {testState}, "client_id": {"c"}}); st != 200 {
		t.Fatalf("authorize after injected failure: %d %s", st, b)
	}
}

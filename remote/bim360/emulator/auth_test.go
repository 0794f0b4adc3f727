package emulator

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	testRedirect = "http://127.0.0.1:8765/callback"
	testVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-verifier-0123"
)

// authorize runs GET authorize with extra query parameters and returns the
// redirect Location (or fails on a non-302).
func authorize(c *client, extra url.Values) *url.URL {
	c.t.Helper()
	q := url.Values{
		"client_id":     {DefaultClientID},
		"response_type": {"code"},
		"redirect_uri":  {testRedirect},
		"scope":         {"data:read data:write data:create"},
		"state":         {"st-1.2_x"},
	}
	for k, v := range extra {
		q[k] = v
	}
	resp, b := c.do(http.MethodGet, "/authentication/v2/authorize?"+q.Encode(), nil, nil)
	if resp.StatusCode != http.StatusFound {
		c.t.Fatalf("authorize: status %d body %s", resp.StatusCode, b)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		c.t.Fatal(err)
	}
	return u
}

type tokenReply struct {
	Status       int
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Error        string `json:"error"`
}

// postForm POSTs form to the token (or revoke) endpoint, with Basic client
// credentials when basic is set.
func postForm(c *client, endpoint string, form url.Values, basic bool) tokenReply {
	c.t.Helper()
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	if basic {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(DefaultClientID+":"+DefaultClientSecret)))
	}
	resp, b := c.do(http.MethodPost, endpoint, strings.NewReader(form.Encode()), h)
	r := tokenReply{Status: resp.StatusCode}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &r); err != nil {
			c.t.Fatalf("%s: body %s: %v", endpoint, b, err)
		}
	}
	return r
}

func pkceCode(c *client) string {
	c.t.Helper()
	u := authorize(c, url.Values{"code_challenge": {S256Challenge(testVerifier)}, "code_challenge_method": {"S256"}})
	if u.Query().Get("state") != "st-1.2_x" || u.Query().Get("code") == "" || !strings.HasPrefix(u.String(), testRedirect+"?") {
		c.t.Fatalf("redirect = %s", u)
	}
	return u.Query().Get("code")
}

func hubsStatus(c *client, token string) int {
	c.t.Helper()
	resp, _ := c.do(http.MethodGet, "/project/v1/hubs", nil, http.Header{"Authorization": {"Bearer " + token}})
	return resp.StatusCode
}

func TestPKCEFlow(t *testing.T) {
	s := newServer(t, Options{})
	c := newClient(t, s)
	code := pkceCode(c)
	tok := postForm(c, "/authentication/v2/token", url.Values{
		"grant_type": {"authorization_code"}, "client_id": {DefaultClientID},
		"code": {code}, "code_verifier": {testVerifier}, "redirect_uri": {testRedirect},
	}, false)
	if tok.Status != 200 || tok.AccessToken == "" || tok.RefreshToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn != 3600 {
		t.Fatalf("token = %+v", tok)
	}
	if st := hubsStatus(c, tok.AccessToken); st != 200 {
		t.Errorf("hubs with PKCE token: %d", st)
	}
	// Codes are single use.
	again := postForm(c, "/authentication/v2/token", url.Values{
		"grant_type": {"authorization_code"}, "client_id": {DefaultClientID},
		"code": {code}, "code_verifier": {testVerifier}, "redirect_uri": {testRedirect},
	}, false)
	if again.Status != 400 || again.Error != "invalid_grant" {
		t.Errorf("reused code: %+v", again)
	}
}

func TestTokenFailures(t *testing.T) {
	s := newServer(t, Options{})
	c := newClient(t, s)
	exchange := func(mod func(url.Values), basic bool) tokenReply {
		f := url.Values{
			"grant_type": {"authorization_code"}, "client_id": {DefaultClientID},
			"code": {pkceCode(c)}, "code_verifier": {testVerifier}, "redirect_uri": {testRedirect},
		}
		mod(f)
		return postForm(c, "/authentication/v2/token", f, basic)
	}
	for _, tc := range []struct {
		name   string
		mod    func(url.Values)
		basic  bool
		status int
		err    string
	}{
		{"wrong verifier", func(f url.Values) { f.Set("code_verifier", strings.Repeat("x", 43)) }, false, 400, "invalid_grant"},
		{"missing verifier", func(f url.Values) { f.Del("code_verifier") }, false, 400, "invalid_grant"},
		{"redirect mismatch", func(f url.Values) { f.Set("redirect_uri", "http://127.0.0.1:9/other") }, false, 400, "invalid_grant"},
		{"unknown code", func(f url.Values) { f.Set("code", "nope") }, false, 400, "invalid_grant"},
		{"unknown client", func(f url.Values) { f.Set("client_id", "other") }, false, 401, "invalid_client"},
		{"no client", func(f url.Values) { f.Del("client_id") }, false, 401, "invalid_client"},
		{"header and body", func(f url.Values) {}, true, 400, "invalid_request"},
		{"bad grant", func(f url.Values) { f.Set("grant_type", "password") }, false, 400, "unsupported_grant_type"},
		{"wrong secret", func(f url.Values) { f.Set("client_secret", "bad") }, false, 401, "invalid_client"},
	} {
		if r := exchange(tc.mod, tc.basic); r.Status != tc.status || r.Error != tc.err || r.AccessToken != "" {
			t.Errorf("%s: %+v, want %d %s", tc.name, r, tc.status, tc.err)
		}
	}

	// An expired code (5 minutes) is refused.
	code := pkceCode(c)
	s.Advance(6 * time.Minute)
	r := postForm(c, "/authentication/v2/token", url.Values{
		"grant_type": {"authorization_code"}, "client_id": {DefaultClientID},
		"code": {code}, "code_verifier": {testVerifier}, "redirect_uri": {testRedirect},
	}, false)
	if r.Status != 400 || r.Error != "invalid_grant" {
		t.Errorf("expired code: %+v", r)
	}

	// A public client without PKCE cannot exchange a code; a confidential
	// one (Basic) can.
	plain := authorize(c, nil).Query().Get("code")
	r = postForm(c, "/authentication/v2/token", url.Values{
		"grant_type": {"authorization_code"}, "client_id": {DefaultClientID}, "code": {plain}, "redirect_uri": {testRedirect},
	}, false)
	if r.Status != 401 {
		t.Errorf("public client without PKCE: %+v", r)
	}
	plain = authorize(c, nil).Query().Get("code")
	r = postForm(c, "/authentication/v2/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {plain}, "redirect_uri": {testRedirect},
	}, true)
	if r.Status != 200 || r.RefreshToken == "" {
		t.Errorf("confidential client: %+v", r)
	}
}

func TestAuthorizeValidation(t *testing.T) {
	s := newServer(t, Options{RedirectURI: testRedirect})
	c := newClient(t, s)
	for _, tc := range []struct {
		name  string
		extra url.Values
		err   string
	}{
		{"plain method", url.Values{"code_challenge": {S256Challenge(testVerifier)}, "code_challenge_method": {"plain"}}, "invalid_request"},
		{"challenge without method", url.Values{"code_challenge": {S256Challenge(testVerifier)}}, "invalid_request"},
		{"response type", url.Values{"response_type": {"id_token"}}, "unsupported_response_type"},
		{"unknown scope", url.Values{"scope": {"data:read everything"}}, "invalid_scope"},
		{"bad state", url.Values{"state": {"a b"}}, "invalid_request"},
	} {
		u := authorize(c, tc.extra)
		if u.Query().Get("error") != tc.err || u.Query().Get("code") != "" {
			t.Errorf("%s: redirect %s, want error=%s", tc.name, u, tc.err)
		}
	}
	// Errors about the client or redirect_uri are not redirected.
	for name, q := range map[string]url.Values{
		"client":   {"client_id": {"nope"}, "response_type": {"code"}, "redirect_uri": {testRedirect}, "scope": {"data:read"}},
		"redirect": {"client_id": {DefaultClientID}, "response_type": {"code"}, "redirect_uri": {"http://127.0.0.1:1/elsewhere"}, "scope": {"data:read"}},
	} {
		resp, _ := c.do(http.MethodGet, "/authentication/v2/authorize?"+q.Encode(), nil, nil)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("bad %s: status %d location %q", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// Without a registered RedirectURI, only loopback http URIs are accepted.
	s.SetOptions(Options{})
	q := url.Values{"client_id": {DefaultClientID}, "response_type": {"code"}, "redirect_uri": {"https://example.com/cb"}, "scope": {"data:read"}}
	if resp, _ := c.do(http.MethodGet, "/authentication/v2/authorize?"+q.Encode(), nil, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("non-loopback redirect: status %d", resp.StatusCode)
	}
	q.Set("redirect_uri", "http://localhost:4242/cb")
	if resp, _ := c.do(http.MethodGet, "/authentication/v2/authorize?"+q.Encode(), nil, nil); resp.StatusCode != http.StatusFound {
		t.Errorf("localhost redirect: status %d", resp.StatusCode)
	}
}

func TestRefreshRotation(t *testing.T) {
	s := newServer(t, Options{})
	c := newClient(t, s)
	first := postForm(c, "/authentication/v2/token", url.Values{
		"grant_type": {"authorization_code"}, "client_id": {DefaultClientID},
		"code": {pkceCode(c)}, "code_verifier": {testVerifier}, "redirect_uri": {testRedirect},
	}, false)
	refresh := func(rt string) tokenReply {
		return postForm(c, "/authentication/v2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {DefaultClientID}, "refresh_token": {rt}}, false)
	}
	second := refresh(first.RefreshToken)
	if second.Status != 200 || second.RefreshToken == "" || second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatalf("refresh: %+v", second)
	}
	if old := refresh(first.RefreshToken); old.Status != 400 || old.Error != "invalid_grant" {
		t.Errorf("old refresh token reused: %+v", old)
	}
	third := refresh(second.RefreshToken)
	if third.Status != 200 {
		t.Fatalf("new refresh token: %+v", third)
	}
	// Narrowing the scope is allowed, widening is not.
	narrow := postForm(c, "/authentication/v2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {DefaultClientID}, "refresh_token": {third.RefreshToken}, "scope": {"data:read"}}, false)
	if narrow.Status != 200 {
		t.Fatalf("narrowed refresh: %+v", narrow)
	}
	wide := postForm(c, "/authentication/v2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {DefaultClientID}, "refresh_token": {narrow.RefreshToken}, "scope": {"data:read account:write"}}, false)
	if wide.Status != 400 || wide.Error != "invalid_scope" {
		t.Errorf("widened refresh: %+v", wide)
	}

	// ExpireTokens kills access tokens but not refresh tokens.
	tok := refresh(postForm(c, "/authentication/v2/token", url.Values{
		"grant_type": {"authorization_code"}, "client_id": {DefaultClientID},
		"code": {pkceCode(c)}, "code_verifier": {testVerifier}, "redirect_uri": {testRedirect},
	}, false).RefreshToken)
	if hubsStatus(c, tok.AccessToken) != 200 {
		t.Fatal("fresh token refused")
	}
	s.ExpireTokens()
	if st := hubsStatus(c, tok.AccessToken); st != 401 {
		t.Errorf("expired token: status %d", st)
	}
	again := refresh(tok.RefreshToken)
	if again.Status != 200 || hubsStatus(c, again.AccessToken) != 200 {
		t.Errorf("refresh after ExpireTokens: %+v", again)
	}
}

func TestTokenLifetimeAndRevoke(t *testing.T) {
	s := newServer(t, Options{TokenLifetime: 10 * time.Second})
	c := newClient(t, s)
	tok := postForm(c, "/authentication/v2/token", url.Values{
		"grant_type": {"authorization_code"}, "client_id": {DefaultClientID},
		"code": {pkceCode(c)}, "code_verifier": {testVerifier}, "redirect_uri": {testRedirect},
	}, false)
	if tok.ExpiresIn != 10 {
		t.Errorf("expires_in = %d", tok.ExpiresIn)
	}
	s.Advance(11 * time.Second)
	if st := hubsStatus(c, tok.AccessToken); st != 401 {
		t.Errorf("token past its lifetime: %d", st)
	}
	fresh := postForm(c, "/authentication/v2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {DefaultClientID}, "refresh_token": {tok.RefreshToken}}, false)
	if fresh.Status != 200 {
		t.Fatalf("refresh: %+v", fresh)
	}
	// Revoke the access token, then the refresh token.
	if r := postForm(c, "/authentication/v2/revoke", url.Values{"token": {fresh.AccessToken}, "token_type_hint": {"access_token"}, "client_id": {DefaultClientID}}, false); r.Status != 200 {
		t.Fatalf("revoke access: %+v", r)
	}
	if st := hubsStatus(c, fresh.AccessToken); st != 401 {
		t.Errorf("revoked access token: %d", st)
	}
	if r := postForm(c, "/authentication/v2/revoke", url.Values{"token": {fresh.RefreshToken}, "token_type_hint": {"refresh_token"}}, true); r.Status != 200 {
		t.Fatalf("revoke refresh: %+v", r)
	}
	if r := postForm(c, "/authentication/v2/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {DefaultClientID}, "refresh_token": {fresh.RefreshToken}}, false); r.Status != 400 {
		t.Errorf("revoked refresh token: %+v", r)
	}
	if r := postForm(c, "/authentication/v2/revoke", url.Values{"token": {"x"}, "client_id": {DefaultClientID}}, false); r.Status != 400 {
		t.Errorf("revoke without token_type_hint: %+v", r)
	}
}

func TestClientCredentials(t *testing.T) {
	s := newServer(t, Options{})
	pid := s.AddProject(s.AddHub("H"), "P")
	c := newClient(t, s)
	r := postForm(c, "/authentication/v2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"data:read"}}, true)
	if r.Status != 200 || r.AccessToken == "" || r.RefreshToken != "" {
		t.Fatalf("client_credentials: %+v", r)
	}
	// 2-legged tokens browse BIM 360 with or without x-user-id.
	for _, user := range []string{"", "USER42"} {
		h := http.Header{"Authorization": {"Bearer " + r.AccessToken}}
		if user != "" {
			h.Set("x-user-id", user)
		}
		resp, _ := c.do(http.MethodGet, "/project/v1/hubs/"+encodeID(s.st.projects[pid].hub.id)+"/projects", nil, h)
		if resp.StatusCode != 200 {
			t.Errorf("2-legged (x-user-id %q): %d", user, resp.StatusCode)
		}
	}
	if r := postForm(c, "/authentication/v2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"data:read"}, "client_id": {DefaultClientID}}, false); r.Status != 401 {
		t.Errorf("client_credentials without secret: %+v", r)
	}
	if r := postForm(c, "/authentication/v2/token", url.Values{"grant_type": {"client_credentials"}}, true); r.Status != 400 || r.Error != "invalid_scope" {
		t.Errorf("client_credentials without scope: %+v", r)
	}
	// A token without data:read is refused with 403.
	w := postForm(c, "/authentication/v2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"data:write"}}, true)
	if st := hubsStatus(c, w.AccessToken); st != 403 {
		t.Errorf("token without data:read: %d", st)
	}
}

func TestBearerRequired(t *testing.T) {
	s := newServer(t, Options{})
	c := newClient(t, s)
	for name, h := range map[string]http.Header{
		"missing": nil,
		"basic":   {"Authorization": {"Basic Zm9vOmJhcg=="}},
		"unknown": {"Authorization": {"Bearer not-a-token"}},
	} {
		resp, b := c.do(http.MethodGet, "/project/v1/hubs", nil, h)
		var e struct {
			DeveloperMessage string `json:"developerMessage"`
			ErrorCode        string `json:"errorCode"`
		}
		if resp.StatusCode != 401 || json.Unmarshal(b, &e) != nil || e.DeveloperMessage == "" || e.ErrorCode == "" {
			t.Errorf("%s: status %d body %s", name, resp.StatusCode, b)
		}
	}
	resp, _ := c.do(http.MethodGet, "/oss/v2/buckets/wip.dm.prod/objects/x/signeds3download", nil, nil)
	if resp.StatusCode != 401 {
		t.Errorf("OSS without token: %d", resp.StatusCode)
	}
}

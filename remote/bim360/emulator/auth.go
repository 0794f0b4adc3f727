package emulator

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// OAuth lifetimes from the Authentication v2 spec (authorize description).
const (
	codeLifetime    = 5 * time.Minute
	refreshLifetime = 15 * 24 * time.Hour
)

// knownScopes are the scopes authorize and token accept (the spec's Scopes
// enum, without the resource-specific form).
var knownScopes = map[string]bool{
	"user:read": true, "user:write": true, "user-profile:read": true, "viewables:read": true,
	"data:read": true, "data:write": true, "data:create": true, "data:search": true,
	"bucket:create": true, "bucket:read": true, "bucket:update": true, "bucket:delete": true,
	"code:all": true, "account:read": true, "account:write": true, "openid": true,
}

// authState holds issued codes and tokens.
type authState struct {
	mu sync.Mutex
	// mu protects the following.
	codes   map[string]*authCode
	access  map[string]*accessToken
	refresh map[string]*refreshToken
	// serviceKeys are the registered service-account keys, by key ID.
	serviceKeys map[string]*serviceKey
}

type authCode struct {
	clientID, redirectURI, challenge, scope string
	expires                                 time.Time
}

type accessToken struct {
	clientID, userID, scope string
	threeLegged             bool
	expires                 time.Time
	expired                 bool // set by ExpireTokens
}

type refreshToken struct {
	clientID, userID, scope string
	expires                 time.Time
}

func newAuthState() *authState {
	return &authState{
		codes:   map[string]*authCode{},
		access:  map[string]*accessToken{},
		refresh: map[string]*refreshToken{},
	}
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hasScope(scopes, want string) bool {
	for _, s := range strings.Fields(scopes) {
		if s == want {
			return true
		}
	}
	return false
}

func validScopes(scope string) bool {
	f := strings.Fields(scope)
	if len(f) == 0 || len(f) > 50 || len(scope) > 2000 {
		return false
	}
	for _, s := range f {
		if !knownScopes[s] {
			return false
		}
	}
	return true
}

// validState checks the documented alphabet: alphanumerics and , . _ -
func validState(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(",._-", c)) {
			return false
		}
	}
	return true
}

// validVerifier checks RFC 7636 code_verifier syntax and the spec's
// 43–128 length.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~", c)) {
			return false
		}
	}
	return true
}

// S256Challenge derives a PKCE S256 code_challenge from a verifier.
func S256Challenge(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

func (s *Server) redirectAllowed(uri string, opts Options) bool {
	if opts.RedirectURI != "" {
		return uri == opts.RedirectURI
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || u.Fragment != "" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// handleAuthorize implements GET /authentication/v2/authorize. The user
// always consents at once: the answer is the redirect to redirect_uri.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request, _ *call) {
	opts := s.Options()
	q := r.URL.Query()
	if q.Get("client_id") != opts.ClientID {
		writeOAuthError(w, http.StatusBadRequest, "invalid_client", "unknown client_id")
		return
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" || !s.redirectAllowed(redirect, opts) {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "redirect_uri does not match the registered callback URL")
		return
	}
	state := q.Get("state")
	fail := func(code, desc string) {
		redirectWith(w, redirect, url.Values{"error": {code}, "error_description": {desc}}, state)
	}
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "only response_type=code is supported")
		return
	case !validScopes(q.Get("scope")):
		fail("invalid_scope", "scope is missing or holds an unknown scope")
		return
	case !validState(state):
		fail("invalid_request", "state may only contain alphanumerics , . _ -")
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if challenge != "" || method != "" {
		if method != "S256" {
			fail("invalid_request", "code_challenge_method must be S256")
			return
		}
		if !validVerifier(challenge) {
			fail("invalid_request", "malformed code_challenge")
			return
		}
	}
	code := randomToken(24)
	s.auth.mu.Lock()
	s.auth.codes[code] = &authCode{
		clientID: opts.ClientID, redirectURI: redirect, challenge: challenge,
		scope: q.Get("scope"), expires: s.now().Add(codeLifetime),
	}
	s.auth.mu.Unlock()
	redirectWith(w, redirect, url.Values{"code": {code}}, state)
}

// redirectWith answers 302 to base with params (and state) added to its
// query. The spec declares an application/json body for the 302.
func redirectWith(w http.ResponseWriter, base string, params url.Values, state string) {
	u, _ := url.Parse(base)
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	if state != "" {
		q.Set("state", state)
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Location", u.String())
	writeJSON(w, http.StatusFound, struct{}{})
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// clientAuth authenticates the client of a token or revoke request: HTTP
// Basic or client_id (plus optional client_secret) in the form, never both.
// It reports whether a secret proved the client's identity; on failure it
// has written the error.
func (s *Server) clientAuth(w http.ResponseWriter, r *http.Request, opts Options) (secretOK, ok bool) {
	bodyID, bodySecret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	id, secret, basic := r.BasicAuth()
	if basic && (bodyID != "" || bodySecret != "") {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "client credentials were sent both in the Authorization header and in the body")
		return false, false
	}
	if !basic {
		if r.Header.Get("Authorization") != "" {
			writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "malformed Authorization header")
			return false, false
		}
		id, secret = bodyID, bodySecret
	}
	if id == "" {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication is missing")
		return false, false
	}
	if id != opts.ClientID {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "unknown client")
		return false, false
	}
	if basic || secret != "" {
		if subtle.ConstantTimeCompare([]byte(secret), []byte(opts.ClientSecret)) != 1 {
			writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
			return false, false
		}
		return true, true
	}
	return false, true
}

func parseForm(w http.ResponseWriter, r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return false
	}
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "malformed form body")
		return false
	}
	return true
}

// handleToken implements POST /authentication/v2/token.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request, _ *call) {
	opts := s.Options()
	if !parseForm(w, r) {
		return
	}
	secretOK, ok := s.clientAuth(w, r, opts)
	if !ok {
		return
	}
	f := r.PostForm
	now := s.now()
	switch f.Get("grant_type") {
	case "authorization_code":
		s.auth.mu.Lock()
		code := s.auth.codes[f.Get("code")]
		delete(s.auth.codes, f.Get("code")) // single use, whatever happens next
		s.auth.mu.Unlock()
		switch {
		case code == nil || !now.Before(code.expires) || code.clientID != opts.ClientID:
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "the authorization code is invalid, expired or already used")
			return
		case f.Get("redirect_uri") != code.redirectURI:
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match the one sent to authorize")
			return
		case code.challenge == "" && !secretOK:
			writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "a public client must use PKCE")
			return
		case code.challenge != "":
			v := f.Get("code_verifier")
			if !validVerifier(v) || subtle.ConstantTimeCompare([]byte(S256Challenge(v)), []byte(code.challenge)) != 1 {
				writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
				return
			}
		}
		s.writeTokens(w, opts, demoUserID, code.scope, true)
	case "refresh_token":
		rt := f.Get("refresh_token")
		s.auth.mu.Lock()
		old := s.auth.refresh[rt]
		valid := old != nil && now.Before(old.expires) && old.clientID == opts.ClientID
		if valid {
			delete(s.auth.refresh, rt) // rotation: a refresh token works once
		}
		s.auth.mu.Unlock()
		if !valid {
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "the refresh token is invalid, expired or already used")
			return
		}
		scope := old.scope
		if want := f.Get("scope"); want != "" {
			for _, sc := range strings.Fields(want) {
				if !hasScope(old.scope, sc) {
					writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "the requested scope exceeds the granted scope")
					return
				}
			}
			scope = want
		}
		s.writeTokens(w, opts, old.userID, scope, true)
	case "client_credentials":
		if !secretOK {
			writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client_credentials needs the client secret")
			return
		}
		if !validScopes(f.Get("scope")) {
			writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "scope is missing or holds an unknown scope")
			return
		}
		s.writeTokens(w, opts, "", f.Get("scope"), false)
	case jwtBearerGrant:
		s.handleJWTBearer(w, r, opts, secretOK)
	case "":
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "unsupported grant_type")
	}
}

// tokenResponse is the spec's threeLeggedToken / twoLeggedToken.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

func (s *Server) issueAccess(opts Options, userID, scope string, threeLegged bool) (string, time.Time) {
	tok := randomToken(32)
	exp := s.now().Add(opts.TokenLifetime)
	s.auth.mu.Lock()
	s.auth.access[tok] = &accessToken{clientID: opts.ClientID, userID: userID, scope: scope, threeLegged: threeLegged, expires: exp}
	s.auth.mu.Unlock()
	return tok, exp
}

func (s *Server) writeTokens(w http.ResponseWriter, opts Options, userID, scope string, threeLegged bool) {
	tok, _ := s.issueAccess(opts, userID, scope, threeLegged)
	resp := tokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(opts.TokenLifetime / time.Second)}
	if resp.ExpiresIn < 1 {
		resp.ExpiresIn = 1
	}
	if threeLegged {
		resp.RefreshToken = randomToken(32)
		s.auth.mu.Lock()
		s.auth.refresh[resp.RefreshToken] = &refreshToken{clientID: opts.ClientID, userID: userID, scope: scope, expires: s.now().Add(refreshLifetime)}
		s.auth.mu.Unlock()
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}

// handleRevoke implements POST /authentication/v2/revoke. Unknown tokens
// are not an error (RFC 7009); the 200 answer has no body.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request, _ *call) {
	opts := s.Options()
	if !parseForm(w, r) {
		return
	}
	if _, ok := s.clientAuth(w, r, opts); !ok {
		return
	}
	tok, hint := r.PostForm.Get("token"), r.PostForm.Get("token_type_hint")
	if tok == "" || (hint != "access_token" && hint != "refresh_token") {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "token and token_type_hint (access_token or refresh_token) are required")
		return
	}
	s.auth.mu.Lock()
	if a := s.auth.access[tok]; a != nil && a.clientID == opts.ClientID {
		delete(s.auth.access, tok)
	}
	if rt := s.auth.refresh[tok]; rt != nil && rt.clientID == opts.ClientID {
		delete(s.auth.refresh, tok)
	}
	s.auth.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// authenticate checks the bearer token of an API request and answers 401
// (or 403 for a token without data:read) itself when it fails.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*accessToken, bool) {
	h := r.Header.Get("Authorization")
	tok, found := strings.CutPrefix(h, "Bearer ")
	if !found || tok == "" {
		writeAuthError(w, http.StatusUnauthorized, "AUTH-010", "The Authorization header is missing or is not a Bearer token.")
		return nil, false
	}
	now := s.now()
	s.auth.mu.Lock()
	a := s.auth.access[tok]
	var cp accessToken
	if a != nil {
		cp = *a
	}
	s.auth.mu.Unlock()
	if a == nil || cp.expired || !now.Before(cp.expires) {
		writeAuthError(w, http.StatusUnauthorized, "AUTH-006", "The token is invalid or has expired.")
		return nil, false
	}
	if !hasScope(cp.scope, "data:read") {
		writeAuthError(w, http.StatusForbidden, "AUTH-012", "The token does not have the data:read scope.")
		return nil, false
	}
	return &cp, true
}

// writeAuthError sends the APS gateway's error shape.
func writeAuthError(w http.ResponseWriter, status int, code, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	writeJSON(w, status, map[string]string{
		"developerMessage": msg,
		"moreInfo":         "https://aps.autodesk.com/en/docs/oauth/v2/developers_guide/error_handling/",
		"errorCode":        code,
	})
}

// ExpireTokens makes every access token issued so far invalid. Refresh
// tokens stay valid.
func (s *Server) ExpireTokens() {
	s.auth.mu.Lock()
	for _, a := range s.auth.access {
		a.expired = true
	}
	s.auth.mu.Unlock()
}

// Token returns a fresh 3-legged access token (scopes data:read data:write
// data:create) for tests that skip the OAuth flow.
func (s *Server) Token() string {
	tok, _ := s.issueAccess(s.Options(), demoUserID, "data:read data:write data:create", true)
	return tok
}

package bim360

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/httpx"
)

// Scopes are requested for every token: reading needs data:read; the write
// path needs data:write (PATCH) and data:create (storage, items, versions,
// folders).
var Scopes = []string{"data:read", "data:write", "data:create"}

// DefaultRedirectURI is the loopback callback Login listens on when
// Config.RedirectURI is empty. The APS app must list exactly this URL as its
// callback; a fixed port is needed because APS compares the whole URL.
const DefaultRedirectURI = "http://127.0.0.1:8765/callback"

// loginTimeout bounds how long Login waits for the browser; the
// authorization code itself lives 5 minutes.
const loginTimeout = 10 * time.Minute

const (
	authorizePath = "/authentication/v2/authorize"
	tokenPath     = "/authentication/v2/token"
)

// oauthConfig is the authorization-code configuration of cfg. Public clients
// (no secret) send client_id in the form body; confidential ones use Basic
// authentication, as the token endpoint documents. Sending both gives 400.
func (cfg *Config) oauthConfig(redirect string) *oauth2.Config {
	style := oauth2.AuthStyleInParams
	if cfg.ClientSecret != "" {
		style = oauth2.AuthStyleInHeader
	}
	return &oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   cfg.BaseURL + authorizePath,
			TokenURL:  cfg.BaseURL + tokenPath,
			AuthStyle: style,
		},
		RedirectURL: redirect,
		Scopes:      Scopes,
	}
}

// oauthContext makes the oauth2 package send its token requests with the
// base client: TLS settings apply, and no bearer token rides along.
func (cfg *Config) oauthContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, cfg.baseClient())
}

// refreshFunc renews a three-legged token with its refresh token. APS
// refresh tokens are single-use; httpx.TokenSource persists the rotated one
// before anything else can use the old.
func (cfg *Config) refreshFunc() httpx.RefreshFunc {
	oc := cfg.oauthConfig(cfg.RedirectURI)
	return func(ctx context.Context, old *oauth2.Token) (*oauth2.Token, error) {
		if old == nil || old.RefreshToken == "" {
			return nil, cfg.loginNeeded("token.refresh", "the stored login has no refresh token", nil)
		}
		tok, err := oc.TokenSource(cfg.oauthContext(ctx), &oauth2.Token{RefreshToken: old.RefreshToken}).Token()
		if err != nil {
			return nil, cfg.tokenError(ctx, "token.refresh", err)
		}
		return tok, nil
	}
}

// clientCredentialsFunc fetches two-legged tokens (client credentials with
// Basic authentication). There is nothing to persist: a new token can
// always be had.
func (cfg *Config) clientCredentialsFunc() httpx.RefreshFunc {
	cc := &clientcredentials.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		TokenURL:     cfg.BaseURL + tokenPath,
		Scopes:       Scopes,
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
	return func(ctx context.Context, _ *oauth2.Token) (*oauth2.Token, error) {
		tok, err := cc.Token(cfg.oauthContext(ctx))
		if err != nil {
			return nil, cfg.tokenError(ctx, "token.clientCredentials", err)
		}
		return tok, nil
	}
}

// tokenError maps a failure of the token endpoint to a *remote.Error.
// invalid_grant means the refresh token or code is spent, expired or
// revoked: only a new login helps.
func (cfg *Config) tokenError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return &remote.Error{Kind: remote.Canceled, Op: op, Err: ctx.Err()}
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return &remote.Error{Kind: remote.Unavailable, Op: op, Message: httpx.RedactError(err)}
	}
	status := 0
	var e *remote.Error
	if re.Response != nil {
		status = re.Response.StatusCode
		errors.As(DecodeError(op, re.Response, re.Body), &e)
		e.RetryAfter = httpx.RetryAfter(re.Response.Header, time.Now())
	} else {
		e = &remote.Error{Op: op}
	}
	if re.ErrorCode != "" {
		e.Code = re.ErrorCode
		e.Message = re.ErrorDescription
	}
	switch re.ErrorCode {
	case "invalid_grant":
		return cfg.loginNeeded(op, "the login expired or was revoked", err)
	case "invalid_client", "unauthorized_client":
		e.Kind = remote.Unauthenticated
		e.Message = strings.TrimSpace("the client ID or secret of account " + cfg.Account + " was rejected; check its configuration. " + e.Message)
	case "invalid_scope":
		e.Kind = remote.Permission
	default:
		e.Kind = remote.KindForStatus(status)
		if status == 0 {
			e.Kind = remote.Unavailable
		}
	}
	return e
}

// loginNeeded is the error that tells the user how to recover.
func (cfg *Config) loginNeeded(op, why string, cause error) error {
	return &remote.Error{
		Kind:    remote.Unauthenticated,
		Op:      op,
		Message: fmt.Sprintf("%s; run `bimfs login %s`", why, cfg.Account),
		Err:     cause,
	}
}

// Login runs the three-legged authorization-code flow with PKCE (S256) for
// a public client: it listens on the loopback redirect URI, calls open with
// the authorize URL (printing the URL on stderr if open is nil or fails),
// waits for the browser to come back with a code and a matching state,
// exchanges the code and saves the token in cfg.TokenStore.
//
// A redirect URI with port 0 listens on a free port and sends that port;
// this only works with servers that accept any loopback port (tests).
// For a two-legged configuration Login only checks that the client
// credentials are accepted, for a service account that its signed
// assertion is: neither stores a token.
func Login(ctx context.Context, cfg Config, open func(url string) error) error {
	const op = "bim360.Login"
	if err := cfg.setDefaults(); err != nil {
		return err
	}
	if cfg.ServiceAccount != "" {
		return cfg.loginServiceAccount(ctx, op)
	}
	if cfg.TwoLegged {
		_, err := cfg.clientCredentialsFunc()(ctx, nil)
		return err
	}
	if cfg.TokenStore == nil {
		return remote.Errorf(remote.Invalid, op, "no token store configured for account %s", cfg.Account)
	}
	ru, err := url.Parse(cfg.RedirectURI)
	if err != nil || ru.Scheme != "http" || !isLoopback(ru.Hostname()) || ru.Port() == "" {
		return remote.Errorf(remote.Invalid, op, "redirect URI %q must be http://127.0.0.1:<port>/<path> (loopback)", cfg.RedirectURI)
	}
	host := ru.Hostname()
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, ru.Port()))
	if err != nil {
		return &remote.Error{Kind: remote.Unavailable, Op: op, Message: "cannot listen for the login callback on " + ru.Host, Err: err}
	}
	if ru.Port() == "0" {
		ru.Host = net.JoinHostPort(ru.Hostname(), fmt.Sprint(ln.Addr().(*net.TCPAddr).Port))
	}
	redirect := ru.String()
	path := ru.Path
	if path == "" {
		path = "/"
	}

	state, err := randomState()
	if err != nil {
		ln.Close()
		return err
	}
	verifier := oauth2.GenerateVerifier()
	oc := cfg.oauthConfig(redirect)
	authURL := oc.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))

	cb := &callback{path: path, state: state, done: make(chan callbackResult, 1)}
	srv := &http.Server{Handler: cb, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()

	if open == nil || open(authURL) != nil {
		fmt.Fprintf(os.Stderr, "To sign in to %s, open this address in a browser:\n\n  %s\n\n", cfg.Account, authURL)
	}

	wctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()
	var res callbackResult
	select {
	case res = <-cb.done:
	case <-wctx.Done():
		if ctx.Err() != nil {
			return &remote.Error{Kind: remote.Canceled, Op: op, Err: ctx.Err()}
		}
		return remote.Errorf(remote.Unauthenticated, op, "no answer from the browser within %v", loginTimeout)
	}
	if res.err != "" {
		return &remote.Error{Kind: remote.Unauthenticated, Op: op, Code: res.err, Message: "authorization refused: " + res.desc}
	}
	tok, err := oc.Exchange(cfg.oauthContext(ctx), res.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return cfg.tokenError(ctx, "token.exchange", err)
	}
	if err := cfg.TokenStore.Save(tok); err != nil {
		return &remote.Error{Kind: remote.NoSpace, Op: op, Message: "saving the token", Err: err}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// randomState returns an unguessable state value made only of the
// characters the authorize endpoint allows (alphanumerics, "-", "_").
func randomState() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

type callbackResult struct {
	code, err, desc string
}

// callback serves the redirect URI. Requests with a wrong state are
// answered and ignored, so a stray or forged request cannot end the login.
type callback struct {
	path  string
	state string
	once  sync.Once
	done  chan callbackResult
}

func (c *callback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != c.path {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(c.state)) != 1 {
		http.Error(w, "bimfs: this login answer does not belong to the running login (state mismatch).", http.StatusBadRequest)
		return
	}
	res := callbackResult{code: q.Get("code"), err: q.Get("error"), desc: q.Get("error_description")}
	if res.code == "" && res.err == "" {
		http.Error(w, "bimfs: the login answer has no code.", http.StatusBadRequest)
		return
	}
	c.once.Do(func() { c.done <- res })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	msg := "Login complete. You can close this window and return to bimfs."
	if res.err != "" {
		msg = "Login failed: " + html.EscapeString(res.err+" "+res.desc)
	}
	fmt.Fprintf(w, "<!doctype html><title>bimfs login</title><p>%s</p>\n", msg)
}

// Logout revokes the stored refresh token (POST /authentication/v2/revoke,
// revoke) and deletes the token file. The file is deleted even when the
// revocation fails (offline, token already expired); the error is still
// reported so the user knows the server may keep the grant until it expires.
func Logout(ctx context.Context, cfg Config) error {
	const op = "bim360.Logout"
	if err := cfg.setDefaults(); err != nil {
		return err
	}
	if cfg.TwoLegged || cfg.TokenStore == nil {
		return nil
	}
	tok, err := cfg.TokenStore.Load()
	if remote.IsKind(err, remote.Unauthenticated) {
		return nil // not logged in
	}
	if err != nil {
		cfg.TokenStore.Delete()
		return &remote.Error{Kind: remote.Invalid, Op: op, Message: "reading the stored login", Err: err}
	}
	revokeErr := cfg.revoke(ctx, tok.RefreshToken)
	if err := cfg.TokenStore.Delete(); err != nil {
		return &remote.Error{Kind: remote.KindUnknown, Op: op, Message: "deleting the token file", Err: err}
	}
	return revokeErr
}

func (cfg *Config) revoke(ctx context.Context, refresh string) error {
	const op = "bim360.Revoke"
	if refresh == "" {
		return nil
	}
	form := url.Values{"token": {refresh}, "token_type_hint": {"refresh_token"}}
	if cfg.ClientSecret == "" {
		form.Set("client_id", cfg.ClientID)
	}
	hc := &httpx.Client{HTTP: cfg.baseClient(), MaxAttempts: cfg.MaxAttempts, MaxRetryAfter: cfg.MaxRetryWait, Logger: cfg.Logger, DecodeError: DecodeError}
	resp, err := hc.Do(ctx, op, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.BaseURL+"/authentication/v2/revoke", strings.NewReader(form.Encode()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cfg.ClientSecret != "" {
			req.SetBasicAuth(url.QueryEscape(cfg.ClientID), url.QueryEscape(cfg.ClientSecret))
		}
		return req, nil
	})
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

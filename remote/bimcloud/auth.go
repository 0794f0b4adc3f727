package bimcloud

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/oauth2"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/httpx"
)

// How long Login waits for the user to finish the browser page, and how
// often it asks. workflow.py polls once a second, 300 times.
var (
	loginPollInterval = time.Second
	loginTimeout      = 5 * time.Minute
)

// loginMeta is what a login knows besides the token: the blob-server
// session needs the user's name, and only the token response says whose
// token it is. It is kept beside the token file (httpx.TokenStore meta).
type loginMeta struct {
	ManagerURL string `json:"manager_url"`
	UserID     string `json:"user_id"`
	Username   string `json:"username,omitempty"`
}

// oauthConfig describes the Manager's OAuth2 endpoints to x/oauth2, which
// does the token requests in the demo's form: form encoding with client_id
// in the body, for the password grant (the demo's only) and as the
// fallback of the spec's JSON requests (tokenrequest.go).
//
// x/oauth2 is used only for the token endpoint. Token lifetimes come from
// the non-standard "access_token_exp" (absolute UNIX seconds), which
// x/oauth2 does not read (it knows only "expires_in"), and the 401
// refresh-once-and-retry plus persistence of rotated tokens is
// httpx.BearerTransport/TokenSource, shared with the BIM 360 client.
// (managerapi.py's refresh_on_expiration keeps the rotated refresh token
// in memory only; here every new token is saved at once.)
func oauthConfig(cfg Config) *oauth2.Config {
	return &oauth2.Config{
		ClientID: cfg.ClientID,
		Endpoint: oauth2.Endpoint{
			AuthURL:   cfg.apiURL("oauth2/authorize", nil),
			TokenURL:  cfg.apiURL("oauth2/token", nil),
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
}

// tokenContext makes x/oauth2 send through the configured base client.
func tokenContext(ctx context.Context, cfg Config) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, cfg.HTTP)
}

// adoptToken sets tok.Expiry from access_token_exp and returns the user_id
// of the token response.
func adoptToken(tok *oauth2.Token) (*oauth2.Token, string) {
	if exp, ok := number(tok.Extra("access_token_exp")); ok && exp > 0 {
		tok.Expiry = time.Unix(int64(exp), 0)
	}
	user, _ := tok.Extra("user_id").(string)
	// Keep only standard fields: Raw holds the whole response, tokens
	// included, and must not linger.
	return &oauth2.Token{
		AccessToken:  tok.AccessToken,
		TokenType:    tok.TokenType,
		RefreshToken: tok.RefreshToken,
		Expiry:       tok.Expiry,
	}, user
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(n, 64)
		return f, err == nil
	}
	return 0, false
}

const opRefresh = "bimcloud.RefreshToken"

// tokenError maps a failed token request to a *remote.Error.
func tokenError(cfg Config, op string, err error) error {
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re):
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		e := &remote.Error{Op: op, Status: status, Code: re.ErrorCode, Kind: remote.Unauthenticated}
		if status >= 500 && re.ErrorCode != "invalid_grant" {
			e.Kind = remote.Unavailable
		}
		if status == http.StatusTooManyRequests {
			e.Kind = remote.Throttled
		}
		e.Message = "the Manager refused the login"
		if re.ErrorCode != "" {
			e.Message += ": " + re.ErrorCode
		}
		if re.ErrorDescription != "" {
			e.Message += " (" + re.ErrorDescription + ")"
		}
		if e.Kind == remote.Unauthenticated && op == opRefresh {
			e.Message += loginHint(cfg.Account)
		}
		return e
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &remote.Error{Kind: remote.Canceled, Op: op, Err: err}
	}
	return &remote.Error{Kind: remote.Unavailable, Op: op, Message: httpx.RedactError(err)}
}

// refreshGrant exchanges a refresh token (grant_type=refresh_token).
func refreshGrant(ctx context.Context, cfg Config, refreshToken string) (*oauth2.Token, string, error) {
	const op = opRefresh
	if refreshToken == "" {
		return nil, "", errorf(remote.Unauthenticated, op, "no refresh token stored%s", loginHint(cfg.Account))
	}
	tok, err := tokenGrant(ctx, cfg, map[string]string{"grant_type": "refresh_token", "refresh_token": refreshToken},
		func(ctx context.Context) (*oauth2.Token, error) {
			return oauthConfig(cfg).TokenSource(tokenContext(ctx, cfg), &oauth2.Token{RefreshToken: refreshToken}).Token()
		})
	if err != nil {
		return nil, "", tokenError(cfg, op, err)
	}
	tok, user := adoptToken(tok)
	return tok, user, nil
}

// LoginPassword logs in with the password grant (for scripts: `bimfs login
// <account> --password-stdin`) and stores the token.
//
// Spec vs demo: the 2023.2 spec documents only the authorization_code and
// refresh_token grants; managerapi.py uses grant_type=password with
// username and password, which BIMcloud Managers accept.
func LoginPassword(ctx context.Context, cfg Config, username, password string) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	tok, err := oauthConfig(cfg).PasswordCredentialsToken(tokenContext(ctx, cfg), username, password)
	if err != nil {
		return tokenError(cfg, "bimcloud.LoginPassword", err)
	}
	return finishLogin(ctx, cfg, tok)
}

// Login runs the browser login: open shows the user the Manager's
// authorize page, Login polls get-authorization-code-by-state until the
// user has signed in, then exchanges the code (with its PKCE verifier) for
// tokens and stores them.
//
// Spec vs demo: the demo sends neither code_challenge nor code_verifier;
// the spec documents both and the client sends them (S256). Neither sends
// redirect_uri: the state poll delivers the code, and the spec requires
// redirect_uri on /token only when /authorize had one. (managerapi.py
// also builds the authorize URL without encoding its parameters; here
// url.Values encodes them.)
func Login(ctx context.Context, cfg Config, open func(url string) error) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	state, err := randomState()
	if err != nil {
		return err
	}
	verifier := oauth2.GenerateVerifier()
	q := url.Values{
		"client_id":             {cfg.ClientID},
		"state":                 {state},
		"code_challenge_method": {"S256"},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(verifier)},
	}
	if err := open(cfg.apiURL("oauth2/authorize", q)); err != nil {
		return fmt.Errorf("bimcloud: opening the login page: %w", err)
	}
	code, err := pollAuthorizationCode(ctx, cfg, state)
	if err != nil {
		return err
	}
	tok, err := tokenGrant(ctx, cfg, map[string]string{"grant_type": "authorization_code", "code": code, "code_verifier": verifier},
		func(ctx context.Context) (*oauth2.Token, error) {
			return oauthConfig(cfg).Exchange(tokenContext(ctx, cfg), code, oauth2.VerifierOption(verifier))
		})
	if err != nil {
		return tokenError(cfg, "bimcloud.Login", err)
	}
	return finishLogin(ctx, cfg, tok)
}

// randomState returns 32 random bytes in base64url (43 characters; the
// spec asks for 16 to 2048).
func randomState() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// pollAuthorizationCode asks GET oauth2/get-authorization-code-by-state
// until the status is "succeeded".
func pollAuthorizationCode(ctx context.Context, cfg Config, state string) (string, error) {
	const op = "bimcloud.GetAuthorizationCodeByState"
	ctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()
	c := cfg.anonClient()
	u := cfg.apiURL("oauth2/get-authorization-code-by-state", url.Values{"state": {state}})
	for {
		var r struct {
			Status string  `json:"status"`
			Code   *string `json:"code"`
		}
		if err := c.JSON(ctx, op, http.MethodGet, u, "", nil, nil, &r); err != nil {
			if remote.IsKind(err, remote.Canceled) && ctx.Err() == context.DeadlineExceeded {
				return "", errorf(remote.Unauthenticated, op, "nobody signed in on the login page within %v", loginTimeout)
			}
			return "", err
		}
		switch r.Status {
		case "succeeded":
			if r.Code == nil || *r.Code == "" {
				return "", errorf(remote.Unavailable, op, "login succeeded but the Manager sent no authorization code")
			}
			return *r.Code, nil
		case "pending":
		default:
			return "", errorf(remote.Unavailable, op, "unexpected login status %q", r.Status)
		}
		t := time.NewTimer(loginPollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			if ctx.Err() == context.DeadlineExceeded {
				return "", errorf(remote.Unauthenticated, op, "nobody signed in on the login page within %v", loginTimeout)
			}
			return "", &remote.Error{Kind: remote.Canceled, Op: op, Err: ctx.Err()}
		case <-t.C:
		}
	}
}

// finishLogin learns whose token tok is, then stores the token and the
// user's ID and name.
func finishLogin(ctx context.Context, cfg Config, raw *oauth2.Token) error {
	tok, userID := adoptToken(raw)
	if userID == "" {
		return errorf(remote.Unavailable, "bimcloud.Login", "the token response has no user_id")
	}
	ts := httpx.NewTokenSource(cfg.Account, tok, nil, nil)
	ts.Early = time.Nanosecond // the token is brand new; use it even if short-lived
	user, err := getUser(ctx, cfg.managerClient(ts), cfg, userID)
	if err != nil {
		return err
	}
	if err := cfg.TokenStore.Save(tok); err != nil {
		return fmt.Errorf("bimcloud: saving the login: %w", err)
	}
	meta := loginMeta{ManagerURL: cfg.ManagerURL, UserID: userID, Username: user.Username}
	if err := cfg.TokenStore.SaveMeta(meta); err != nil {
		return fmt.Errorf("bimcloud: saving the login: %w", err)
	}
	cfg.Logger.Info("logged in", "user", user.Username, "expires", tok.Expiry)
	return nil
}

// User is the part of the spec's User schema the client needs.
type User struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Name     string `json:"name"`
}

// getUser is GET management/client/get-user.
func getUser(ctx context.Context, c *httpx.Client, cfg Config, id string) (*User, error) {
	const op = "bimcloud.GetUser"
	var u User
	if err := c.JSON(ctx, op, http.MethodGet, cfg.apiURL("get-user", url.Values{"user-id": {id}}), "", nil, nil, &u); err != nil {
		return nil, err
	}
	if u.Username == "" {
		return nil, errorf(remote.Unavailable, op, "user %s has no username", id)
	}
	return &u, nil
}

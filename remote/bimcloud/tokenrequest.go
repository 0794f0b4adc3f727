package bimcloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"

	"golang.org/x/oauth2"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/httpx"
)

// Token requests in the spec's form first.
//
// Spec vs demo: the spec's GetTokenRequest is a JSON body with a
// "client-id" field; managerapi.py posts application/x-www-form-urlencoded
// with "client_id". The client sends the refresh_token and
// authorization_code grants as JSON first. A Manager that reads only forms
// finds no grant in JSON and refuses the request before acting on it:
// 404/405/415, or 400 with invalid_request or unsupported_grant_type (RFC
// 6749 §5.2; the route exists for both forms, so a refusal of the body is
// the only sign). Only then is the form sent, through x/oauth2, and the
// choice is remembered per Manager URL (login and mounts of one Manager in
// this process share it). invalid_grant is never a reason to try the other
// form: the grant itself was refused, and a refresh token must not be sent
// twice.

// tokenForms maps a Manager URL to the callForm its token endpoint takes.
var tokenForms sync.Map

// tokenResponse is GetTokenResponse.
type tokenResponse struct {
	AccessToken    string  `json:"access_token"`
	TokenType      string  `json:"token_type"`
	RefreshToken   string  `json:"refresh_token"`
	ExpiresIn      float64 `json:"expires_in"`
	AccessTokenExp any     `json:"access_token_exp"`
	UserID         string  `json:"user_id"`
}

// tokenGrant runs one grant: fields (the spec's JSON body, client-id
// added) first, demo (the same grant as a form) when the Manager refuses
// the JSON form. A Manager remembered to take the form gets it first, and
// the JSON form again should it refuse the form (an upgraded server).
func tokenGrant(ctx context.Context, cfg Config, fields map[string]string, demo func(ctx context.Context) (*oauth2.Token, error)) (*oauth2.Token, error) {
	spec := func(ctx context.Context) (*oauth2.Token, error) { return postTokenJSON(ctx, cfg, fields) }
	forms := [2]callForm{formSpec, formDemo}
	sends := [2]func(context.Context) (*oauth2.Token, error){spec, demo}
	if f, _ := tokenForms.Load(cfg.ManagerURL); f == formDemo {
		forms[0], forms[1] = forms[1], forms[0]
		sends[0], sends[1] = sends[1], sends[0]
	}
	tok, err := sends[0](ctx)
	if err == nil {
		tokenForms.Store(cfg.ManagerURL, forms[0])
		return tok, nil
	}
	if !formRefused(err) {
		return nil, err
	}
	cfg.Logger.Info("the Manager refused the form of a token request; trying the other form",
		"refused", formName(forms[0]), "next", formName(forms[1]), "err", httpx.RedactError(err))
	tok, err = sends[1](ctx)
	if err == nil {
		tokenForms.Store(cfg.ManagerURL, forms[1])
		cfg.Logger.Info("the Manager takes token requests in this form; using it from now on", "form", formName(forms[1]))
	}
	return tok, err
}

// formRefused reports whether a token request failed because the Manager
// did not understand its form, before acting on it.
func formRefused(err error) bool {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		return false
	}
	switch re.Response.StatusCode {
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusUnsupportedMediaType:
		return true
	case http.StatusBadRequest:
		return re.ErrorCode == "invalid_request" || re.ErrorCode == "unsupported_grant_type"
	}
	return false
}

func formName(f callForm) string {
	if f == formDemo {
		return "vendor demo's form body"
	}
	return "spec's JSON body"
}

// postTokenJSON posts the spec's GetTokenRequest. A refusal is an
// *oauth2.RetrieveError, as x/oauth2 returns for the form, so that
// tokenError and formRefused treat both forms alike.
func postTokenJSON(ctx context.Context, cfg Config, fields map[string]string) (*oauth2.Token, error) {
	body := map[string]string{"client-id": cfg.ClientID}
	for k, v := range fields {
		body[k] = v
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.apiURL("oauth2/token", nil), bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := cfg.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &remote.Error{Kind: remote.Unavailable, Op: "bimcloud.Token", Message: httpx.RedactError(err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, &remote.Error{Kind: remote.Unavailable, Op: "bimcloud.Token", Message: httpx.RedactError(err)}
	}
	if resp.StatusCode != http.StatusOK {
		var o oauthErrorBody
		_ = json.Unmarshal(raw, &o)
		// Body is left out: it may hold tokens.
		return nil, &oauth2.RetrieveError{Response: resp, ErrorCode: o.Error, ErrorDescription: o.Description}
	}
	var tr tokenResponse
	if err := json.Unmarshal(raw, &tr); err != nil || tr.AccessToken == "" {
		return nil, &remote.Error{Kind: remote.Unavailable, Op: "bimcloud.Token", Message: "the Manager sent a token response without an access token"}
	}
	if tr.TokenType == "" {
		tr.TokenType = "Bearer"
	}
	tok := &oauth2.Token{AccessToken: tr.AccessToken, TokenType: tr.TokenType, RefreshToken: tr.RefreshToken}
	extra := map[string]any{"user_id": tr.UserID}
	if tr.AccessTokenExp != nil {
		extra["access_token_exp"] = tr.AccessTokenExp
	}
	return tok.WithExtra(extra), nil
}

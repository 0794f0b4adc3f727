package emulator

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestStandardOAuth2Client runs the PKCE flow and a refresh with
// golang.org/x/oauth2, as a desktop client would.
func TestStandardOAuth2Client(t *testing.T) {
	s := newServer(t, Options{})
	c := newClient(t, s)
	conf := &oauth2.Config{
		ClientID:    DefaultClientID,
		RedirectURL: testRedirect,
		Scopes:      []string{"data:read", "data:write", "data:create"},
		Endpoint: oauth2.Endpoint{
			AuthURL:   s.URL + "/authentication/v2/authorize",
			TokenURL:  s.URL + "/authentication/v2/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
	verifier := oauth2.GenerateVerifier()
	resp, _ := c.do(http.MethodGet, conf.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier)), nil, nil)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || loc.Query().Get("state") != "state-1" {
		t.Fatalf("authorize: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	ctx := context.Background()
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if hubsStatus(c, tok.AccessToken) != 200 {
		t.Fatal("access token refused")
	}
	first := tok.RefreshToken
	tok.Expiry = time.Now().Add(-time.Minute)
	fresh, err := conf.TokenSource(ctx, tok).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.RefreshToken == "" || fresh.RefreshToken == first || hubsStatus(c, fresh.AccessToken) != 200 {
		t.Errorf("refresh did not rotate: %q", fresh.RefreshToken)
	}
	// A wrong verifier surfaces as an oauth2.RetrieveError with invalid_grant.
	resp, _ = c.do(http.MethodGet, conf.AuthCodeURL("state-2", oauth2.S256ChallengeOption(verifier)), nil, nil)
	loc, _ = url.Parse(resp.Header.Get("Location"))
	_, err = conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
	re, ok := err.(*oauth2.RetrieveError)
	if !ok || re.ErrorCode != "invalid_grant" {
		t.Errorf("wrong verifier: %v", err)
	}
}

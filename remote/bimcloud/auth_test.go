package bimcloud

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bimcloud/emulator"
	"github.com/bimfs/bimfs/remote/httpx"
)

func storedToken(t *testing.T, cfg Config) *oauth2.Token {
	t.Helper()
	tok, err := cfg.TokenStore.Load()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func checkMode0600(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
}

func TestLoginPassword(t *testing.T) {
	s := newServer(t, emulator.Options{Users: map[string]string{"anna": "s3cret pass"}, TokenLifetime: 2 * time.Hour})
	cfg, logs := testConfig(t, s)

	_, err := New(t.Context(), cfg)
	mustKind(t, err, remote.Unauthenticated)
	if !strings.Contains(err.Error(), "bimfs login acct") {
		t.Fatalf("error does not say how to log in: %v", err)
	}

	err = LoginPassword(t.Context(), cfg, "anna", "wrong")
	mustKind(t, err, remote.Unauthenticated)
	if _, err := os.Stat(cfg.TokenStore.Path); !os.IsNotExist(err) {
		t.Fatalf("failed login left a token file: %v", err)
	}

	before := time.Now()
	if err := LoginPassword(t.Context(), cfg, "anna", "s3cret pass"); err != nil {
		t.Fatal(err)
	}
	checkMode0600(t, cfg.TokenStore.Path)
	checkMode0600(t, cfg.TokenStore.MetaPath())
	tok := storedToken(t, cfg)
	// Expiry comes from access_token_exp (now + TokenLifetime), to the second.
	if d := tok.Expiry.Sub(before.Add(2 * time.Hour)); d < -2*time.Second || d > 2*time.Second {
		t.Fatalf("stored expiry %v, want about %v", tok.Expiry, before.Add(2*time.Hour))
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token stored")
	}
	var meta loginMeta
	if err := cfg.TokenStore.LoadMeta(&meta); err != nil || meta.Username != "anna" || meta.UserID == "" || meta.ManagerURL != s.URL {
		t.Fatalf("login data %+v, %v", meta, err)
	}

	b, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mustReadNewBlob(t, s, b)
	if strings.Contains(logs.String(), "s3cret") || strings.Contains(logs.String(), tok.AccessToken) || strings.Contains(logs.String(), tok.RefreshToken) {
		t.Fatal("a secret reached the log")
	}

	// A login for another manager is not used by mistake.
	other := cfg
	other.ManagerURL = "http://127.0.0.1:1"
	_, err = New(t.Context(), other)
	mustKind(t, err, remote.Unauthenticated)
}

// browser plays the user: it loads the authorize page, which the emulator
// answers by signing the default user in.
func browser(t *testing.T, tamper func(q url.Values)) func(string) error {
	return func(raw string) error {
		u, err := url.Parse(raw)
		if err != nil {
			return err
		}
		q := u.Query()
		if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) < 43 || len(q.Get("state")) < 16 || q.Get("client_id") == "" {
			t.Errorf("authorize URL lacks PKCE, state or client_id: %s", raw)
		}
		if tamper != nil {
			tamper(q)
			u.RawQuery = q.Encode()
		}
		resp, err := http.Get(u.String())
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("authorize page: HTTP %d", resp.StatusCode)
		}
		return nil
	}
}

func TestLoginBrowserPKCE(t *testing.T) {
	old := loginPollInterval
	loginPollInterval = time.Millisecond
	t.Cleanup(func() { loginPollInterval = old })

	s := newServer(t, emulator.Options{ConsentPolls: 3})
	cfg, _ := testConfig(t, s)
	if err := Login(t.Context(), cfg, browser(t, nil)); err != nil {
		t.Fatal(err)
	}
	if n := s.Counters()["get-authorization-code-by-state"]; n != 4 {
		t.Fatalf("%d polls, want 4 (3 pending, then succeeded)", n)
	}
	checkMode0600(t, cfg.TokenStore.Path)
	b, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.List(t.Context(), RootID); err != nil {
		t.Fatal(err)
	}

	// A code whose challenge does not match our verifier is refused: the
	// client really sends the verifier it made the challenge from.
	cfg2, _ := testConfig(t, s)
	err = Login(t.Context(), cfg2, browser(t, func(q url.Values) {
		q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier()))
	}))
	mustKind(t, err, remote.Unauthenticated)
}

func TestTokenExpiryRefreshOnce(t *testing.T) {
	s := newServer(t, emulator.Options{})
	b, cfg := loggedIn(t, s)
	first := storedToken(t, cfg)
	if _, err := b.List(t.Context(), RootID); err != nil {
		t.Fatal(err)
	}
	s.ResetCounters()
	s.ExpireTokens()
	if _, err := b.List(t.Context(), RootID); err != nil {
		t.Fatalf("List after expiry: %v", err)
	}
	c := s.Counters()
	if c["auth.401"] != 1 || c["token"] != 1 {
		t.Fatalf("401s %d, token calls %d; want one each", c["auth.401"], c["token"])
	}
	// The rotated refresh token was persisted: a new process can refresh.
	second := storedToken(t, cfg)
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatal("refreshed token not saved")
	}
	b2, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	s.ExpireTokens()
	if _, err := b2.List(t.Context(), RootID); err != nil {
		t.Fatalf("new backend after another expiry: %v", err)
	}
}

// access_token_exp is honoured: a token close to expiry is refreshed before
// use instead of waiting for a 401.
func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	s := newServer(t, emulator.Options{TokenLifetime: 20 * time.Second})
	b, _ := loggedIn(t, s)
	s.ResetCounters()
	if _, err := b.List(t.Context(), RootID); err != nil {
		t.Fatal(err)
	}
	if c := s.Counters(); c["token"] != 1 || c["auth.401"] != 0 {
		t.Fatalf("token calls %d, 401s %d; want a refresh ahead of expiry and no 401", c["token"], c["auth.401"])
	}
}

func TestRefreshFailsNeedsLogin(t *testing.T) {
	s := newServer(t, emulator.Options{})
	b, cfg := loggedIn(t, s)
	// The stored refresh token has been used elsewhere (it rotates): a
	// copy of the login on another machine refreshed. The refresh is
	// refused and the user must log in again. (A mount sharing the token
	// file would adopt the rotated token instead.)
	otherCfg := cfg
	otherCfg.TokenStore = &httpx.TokenStore{Path: filepath.Join(t.TempDir(), "acct.json")}
	for _, p := range [][2]string{{cfg.TokenStore.Path, otherCfg.TokenStore.Path}, {cfg.TokenStore.MetaPath(), otherCfg.TokenStore.MetaPath()}} {
		data, err := os.ReadFile(p[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p[1], data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	other, err := New(t.Context(), otherCfg)
	if err != nil {
		t.Fatal(err)
	}
	s.ExpireTokens()
	if _, err := other.List(t.Context(), RootID); err != nil {
		t.Fatal(err)
	}
	other.Close()
	_, err = b.List(t.Context(), RootID) // b still holds the used refresh token
	mustKind(t, err, remote.Unauthenticated)
	if !strings.Contains(err.Error(), "bimfs login acct") {
		t.Fatalf("error does not say how to log in: %v", err)
	}
}

// A token the server keeps refusing after one refresh is a login problem,
// not a loop.
func TestRepeated401(t *testing.T) {
	s := newServer(t, emulator.Options{})
	b, _ := loggedIn(t, s)
	s.ResetCounters()
	s.InjectError("get-resource", http.StatusUnauthorized, 2)
	_, err := b.Stat(t.Context(), RootID)
	mustKind(t, err, remote.Unauthenticated)
	if !strings.Contains(err.Error(), "bimfs login acct") {
		t.Fatalf("error does not say how to log in: %v", err)
	}
	if n := s.Counters()["token"]; n != 1 {
		t.Fatalf("%d refreshes, want exactly 1", n)
	}
	if _, err := b.Stat(t.Context(), RootID); err != nil {
		t.Fatalf("after the injected 401s: %v", err)
	}
}

// A login stored without the user's ID (older versions) learns it from a
// refresh when a blob-server session first needs the user name.
func TestMissingLoginDataRecovered(t *testing.T) {
	s := newServer(t, emulator.Options{})
	cfg, _ := testConfig(t, s)
	if err := LoginPassword(t.Context(), cfg, "demo", "demo"); err != nil {
		t.Fatal(err)
	}
	if err := cfg.TokenStore.DeleteMeta(); err != nil {
		t.Fatal(err)
	}
	b, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mustReadNewBlob(t, s, b)
	var meta loginMeta
	raw, _ := os.ReadFile(cfg.TokenStore.MetaPath())
	if err := json.Unmarshal(raw, &meta); err != nil || meta.Username != "demo" {
		t.Fatalf("login data not restored: %s, %v", raw, err)
	}
}

// TestCancelDuringRefreshStaysLoggedIn: Ctrl-C while the token is being
// refreshed (the Manager is slow) cancels the caller only. The refresh
// finishes, the rotated refresh token is stored, and the account stays
// logged in, for this mount and for the next one.
func TestCancelDuringRefreshStaysLoggedIn(t *testing.T) {
	s := newServer(t, emulator.Options{})
	b, cfg := loggedIn(t, s)
	first := storedToken(t, cfg)
	s.ExpireTokens()
	o := s.Options()
	o.Latency = 400 * time.Millisecond
	s.SetOptions(o)
	s.ResetCounters()

	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(600*time.Millisecond, cancel) // after the 401, during the refresh
	_, err := b.List(ctx, RootID)
	mustKind(t, err, remote.Canceled)

	o.Latency = 0
	s.SetOptions(o)
	if _, err := b.List(t.Context(), RootID); err != nil {
		t.Fatalf("List after a cancelled refresh: %v", err)
	}
	if c := s.Counters(); c["token"] != 1 {
		t.Fatalf("%d token calls; want the one cancelled refresh, finished and kept", c["token"])
	}
	second := storedToken(t, cfg)
	if second.RefreshToken == first.RefreshToken {
		t.Fatal("the rotated refresh token was not stored")
	}
	b2, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	s.ExpireTokens()
	if _, err := b2.List(t.Context(), RootID); err != nil {
		t.Fatalf("next mount after a cancelled refresh: %v", err)
	}
}

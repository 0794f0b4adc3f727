package bim360

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bim360/emulator"
	"github.com/bimfs/bimfs/remote/httpx"
)

func TestEmulatorTokenRefresh(t *testing.T) {
	e := newEnv(t, emulator.Options{Seed: 10})
	e.s.AddHub("H")
	ctx := context.Background()
	before, err := e.cfg.TokenStore.Load()
	if err != nil {
		t.Fatal(err)
	}
	// A second mount sharing the token file adopts the rotated token; a
	// mount with a copy of the file elsewhere holds a spent refresh token.
	shared := e.backend(e.cfg)
	copyCfg := e.cfg
	copyCfg.TokenStore = &httpx.TokenStore{Path: filepath.Join(t.TempDir(), "copy.json")}
	if err := copyCfg.TokenStore.Save(before); err != nil {
		t.Fatal(err)
	}
	stale := e.backend(copyCfg)

	e.s.ExpireTokens()
	if _, err := e.b.List(ctx, rootID); err != nil {
		t.Fatalf("List after token expiry: %v", err)
	}
	after, err := e.cfg.TokenStore.Load()
	if err != nil {
		t.Fatal(err)
	}
	if after.RefreshToken == before.RefreshToken || after.AccessToken == before.AccessToken {
		t.Error("the rotated token was not persisted")
	}
	if fi, err := os.Stat(e.cfg.TokenStore.Path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, %v", fi.Mode(), err)
	}

	if _, err := shared.List(ctx, rootID); err != nil {
		t.Fatalf("second mount of the same token file: %v", err)
	}
	if again, _ := e.cfg.TokenStore.Load(); again == nil || again.RefreshToken != after.RefreshToken {
		t.Error("the second mount refreshed again instead of adopting the stored token")
	}
	_, err = stale.List(ctx, rootID)
	if !remote.IsKind(err, remote.Unauthenticated) || !strings.Contains(err.Error(), "bimfs login test") {
		t.Fatalf("refresh with a spent token: %v", err)
	}
	checkNoSecrets(t, e)
}

func TestNewWithoutLogin(t *testing.T) {
	_, err := New(context.Background(), Config{
		Account: "site", ClientID: "c", BaseURL: "http://127.0.0.1:1",
		TokenStore: &httpx.TokenStore{Path: filepath.Join(t.TempDir(), "none.json")},
	})
	if !remote.IsKind(err, remote.Unauthenticated) || !strings.Contains(err.Error(), "bimfs login site") {
		t.Fatalf("err %v", err)
	}
}

func TestEmulatorTwoLegged(t *testing.T) {
	s := emulator.New(emulator.Options{Seed: 11})
	defer s.Close()
	s.AddHub("H")
	cfg := Config{Account: "srv", BaseURL: s.URL, ClientID: emulator.DefaultClientID, ClientSecret: emulator.DefaultClientSecret,
		TwoLegged: true, UserID: "EMULATORUSER1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	b, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	list, err := b.List(context.Background(), rootID)
	if err != nil || len(list) != 1 {
		t.Fatalf("%v %v", list, err)
	}
	cfg.ClientSecret = "wrong"
	b, err = New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.List(context.Background(), rootID)
	if !remote.IsKind(err, remote.Unauthenticated) {
		t.Fatalf("wrong secret: %v", err)
	}
	if err := Login(context.Background(), cfg, nil); !remote.IsKind(err, remote.Unauthenticated) || !strings.Contains(err.Error(), "client ID or secret") {
		t.Fatalf("Login with wrong secret: %v", err)
	}
}

func TestLoginForgedCallback(t *testing.T) {
	s := emulator.New(emulator.Options{Seed: 12})
	defer s.Close()
	cfg := Config{Account: "t", BaseURL: s.URL, ClientID: emulator.DefaultClientID, RedirectURI: "http://127.0.0.1:0/cb",
		TokenStore: &httpx.TokenStore{Path: filepath.Join(t.TempDir(), "t.json")}}
	var authURL *url.URL
	err := Login(context.Background(), cfg, func(u string) error {
		authURL, _ = url.Parse(u)
		q := authURL.Query()
		redirect := q.Get("redirect_uri")
		resp, err := http.Get(redirect + "?code=stolen&state=forged")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("forged callback answered %s", resp.Status)
		}
		return browser(t)(u)
	})
	if err != nil {
		t.Fatal(err)
	}
	q := authURL.Query()
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Get("scope") != "data:read data:write data:create" ||
		q.Get("response_type") != "code" || q.Get("client_id") != emulator.DefaultClientID || len(q.Get("state")) < 20 {
		t.Errorf("authorize query %v", q)
	}
	tok, err := cfg.TokenStore.Load()
	if err != nil || tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("stored token %v, %v", tok, err)
	}
}

func TestLoginDenied(t *testing.T) {
	s := emulator.New(emulator.Options{Seed: 13})
	defer s.Close()
	cfg := Config{Account: "t", BaseURL: s.URL, ClientID: emulator.DefaultClientID, RedirectURI: "http://127.0.0.1:0/cb",
		TokenStore: &httpx.TokenStore{Path: filepath.Join(t.TempDir(), "t.json")}}
	err := Login(context.Background(), cfg, func(u string) error {
		au, _ := url.Parse(u)
		q := au.Query()
		resp, err := http.Get(q.Get("redirect_uri") + "?error=access_denied&error_description=user+said+no&state=" + url.QueryEscape(q.Get("state")))
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	if !remote.IsKind(err, remote.Unauthenticated) || !strings.Contains(err.Error(), "user said no") {
		t.Fatalf("err %v", err)
	}
	if _, err := os.Stat(cfg.TokenStore.Path); !os.IsNotExist(err) {
		t.Error("a token was stored after a refused login")
	}
}

func TestEmulatorLogout(t *testing.T) {
	e := newEnv(t, emulator.Options{Seed: 16})
	ctx := context.Background()
	if err := Logout(ctx, e.cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.cfg.TokenStore.Path); !os.IsNotExist(err) {
		t.Errorf("token file still there: %v", err)
	}
	// The backend built before the logout holds the revoked refresh token.
	e.s.ExpireTokens()
	if _, err := e.b.List(ctx, rootID); !remote.IsKind(err, remote.Unauthenticated) {
		t.Errorf("List after logout: %v", err)
	}
	if _, err := New(ctx, e.cfg); !remote.IsKind(err, remote.Unauthenticated) {
		t.Errorf("New after logout: %v", err)
	}
	if err := Logout(ctx, e.cfg); err != nil {
		t.Errorf("second logout: %v", err)
	}
}

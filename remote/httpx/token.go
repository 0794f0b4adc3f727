package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/bimfs/bimfs/remote"
)

// TokenStore keeps one account's tokens in a file readable only by its
// owner. Writes are atomic (temp file, fsync, rename) because refresh tokens
// are single-use: losing the rotated one would force a new login.
type TokenStore struct {
	Path string
}

// TokenPath returns the default token file of account under the user's
// config directory (e.g. ~/.config/bimfs/tokens/<account>.json).
func TokenPath(account string) (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "bimfs", "tokens", account+".json"), nil
}

// Load reads the stored token. A missing file yields an Unauthenticated
// error that tells the user to log in.
func (s *TokenStore) Load() (*oauth2.Token, error) {
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, &remote.Error{Kind: remote.Unauthenticated, Op: "token.load", Message: "no stored login (" + s.Path + ")"}
	}
	if err != nil {
		return nil, err
	}
	var tok oauth2.Token
	if err := json.Unmarshal(b, &tok); err != nil {
		return nil, fmt.Errorf("token file %s is corrupt: %w", s.Path, err)
	}
	return &tok, nil
}

// Save writes tok with mode 0600 in a directory of mode 0700.
func (s *TokenStore) Save(tok *oauth2.Token) error {
	b, err := json.Marshal(tok)
	if err != nil {
		return err
	}
	return writePrivate(s.Path, b)
}

// writePrivate replaces path atomically with b, readable only by its owner
// (temp file with mode 0600, fsync, rename; directory mode 0700).
func writePrivate(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Delete removes the stored token; a missing file is not an error.
func (s *TokenStore) Delete() error {
	err := os.Remove(s.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// RefreshFunc obtains a new token given the current one (whose
// RefreshToken may be empty for client-credentials flows).
type RefreshFunc func(ctx context.Context, old *oauth2.Token) (*oauth2.Token, error)

// TokenSource hands out a valid access token, refreshing it shortly before
// it expires or when a server rejected it, and persisting every new token.
// One refresh runs at a time so a rotated refresh token is used only once.
type TokenSource struct {
	// Account names the login in error messages ("run bimfs login <Account>").
	Account string
	Refresh RefreshFunc
	// Store, if set, receives every refreshed token.
	Store *TokenStore
	// Early refreshes this long before expiry (default 1 minute).
	Early time.Duration

	mu  sync.Mutex // protects tok
	tok *oauth2.Token
}

// NewTokenSource returns a source starting from tok (which may be nil for
// client-credentials flows).
func NewTokenSource(account string, tok *oauth2.Token, refresh RefreshFunc, store *TokenStore) *TokenSource {
	return &TokenSource{Account: account, Refresh: refresh, Store: store, tok: tok}
}

// Token returns a usable access token.
func (s *TokenSource) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	early := s.Early
	if early == 0 {
		early = time.Minute
	}
	if s.tok != nil && s.tok.AccessToken != "" && (s.tok.Expiry.IsZero() || time.Until(s.tok.Expiry) > early) {
		return s.tok.AccessToken, nil
	}
	if s.Refresh == nil {
		return "", s.loginError(nil)
	}
	old := s.tok
	if old == nil {
		old = &oauth2.Token{}
	}
	tok, err := s.Refresh(ctx, old)
	if err != nil {
		if ctx.Err() != nil {
			return "", &remote.Error{Kind: remote.Canceled, Op: "token.refresh", Err: ctx.Err()}
		}
		if k := remote.KindOf(err); k == remote.Unavailable || k == remote.Throttled {
			return "", err
		}
		return "", s.loginError(err)
	}
	if tok.RefreshToken == "" && old.RefreshToken != "" {
		tok.RefreshToken = old.RefreshToken
	}
	s.tok = tok
	if s.Store != nil {
		if err := s.Store.Save(tok); err != nil {
			return "", fmt.Errorf("saving refreshed token: %w", err)
		}
	}
	return tok.AccessToken, nil
}

// Invalidate marks access as rejected by the server so the next Token call
// refreshes. Tokens other than the current one are ignored: another request
// may already have refreshed.
func (s *TokenSource) Invalidate(access string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && s.tok.AccessToken == access {
		s.tok.Expiry = time.Unix(1, 0)
	}
}

// Current returns a copy of the current token, or nil.
func (s *TokenSource) Current() *oauth2.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok == nil {
		return nil
	}
	t := *s.tok
	return &t
}

func (s *TokenSource) loginError(cause error) error {
	return &remote.Error{
		Kind:    remote.Unauthenticated,
		Op:      "token.refresh",
		Message: fmt.Sprintf("login for account %q expired or was revoked; run `bimfs login %s`", s.Account, s.Account),
		Err:     cause,
	}
}

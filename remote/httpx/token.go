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

// DefaultRefreshTimeout bounds one refresh, file lock included.
const DefaultRefreshTimeout = time.Minute

// TokenSource hands out a valid access token, refreshing it shortly before
// it expires or when a server rejected it, and persisting every new token.
//
// Refresh tokens may be single-use, so a refresh must never be lost half
// way or spent twice:
//   - One refresh runs at a time per source; callers that need a token
//     meanwhile wait for it.
//   - The refresh runs on its own context (context.WithoutCancel of the
//     first caller's, bounded by RefreshTimeout): a caller that gives up
//     (Ctrl-C) returns at once, while the refresh goes on and stores the
//     rotated token.
//   - With a Store, the refresh holds an exclusive lock on a file beside the
//     token file (TokenStore.Lock) and reads the token file again first: if
//     another process of the same account refreshed meanwhile, its token is
//     adopted instead of spending the old refresh token a second time.
type TokenSource struct {
	// Account names the login in error messages ("run bimfs login <Account>").
	Account string
	Refresh RefreshFunc
	// Store, if set, receives every refreshed token and is locked across
	// each refresh.
	Store *TokenStore
	// Early refreshes this long before expiry (default 1 minute).
	Early time.Duration
	// RefreshTimeout bounds one refresh; zero means DefaultRefreshTimeout.
	RefreshTimeout time.Duration

	mu       sync.Mutex // protects tok and inflight; never held across a refresh
	tok      *oauth2.Token
	inflight *refreshCall
}

// refreshCall is one refresh in progress; done is closed when tok and err
// are set.
type refreshCall struct {
	done chan struct{}
	tok  string
	err  error
}

// NewTokenSource returns a source starting from tok (which may be nil for
// client-credentials flows).
func NewTokenSource(account string, tok *oauth2.Token, refresh RefreshFunc, store *TokenStore) *TokenSource {
	return &TokenSource{Account: account, Refresh: refresh, Store: store, tok: tok}
}

// usable reports whether tok can be sent now.
func (s *TokenSource) usable(tok *oauth2.Token) bool {
	early := s.Early
	if early == 0 {
		early = time.Minute
	}
	return tok != nil && tok.AccessToken != "" && (tok.Expiry.IsZero() || time.Until(tok.Expiry) > early)
}

// Token returns a usable access token, refreshing it if needed. When ctx
// ends first Token returns a Canceled error, but a refresh it started runs
// to its end and keeps the new token.
func (s *TokenSource) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	if s.usable(s.tok) {
		tok := s.tok.AccessToken
		s.mu.Unlock()
		return tok, nil
	}
	if s.Refresh == nil {
		s.mu.Unlock()
		return "", s.loginError(nil)
	}
	call := s.inflight
	if call == nil {
		call = &refreshCall{done: make(chan struct{})}
		s.inflight = call
		var old *oauth2.Token
		if s.tok != nil {
			t := *s.tok // Invalidate may change s.tok meanwhile
			old = &t
		}
		timeout := s.RefreshTimeout
		if timeout <= 0 {
			timeout = DefaultRefreshTimeout
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		go func() {
			defer cancel()
			tok, err := s.refresh(rctx, old)
			s.mu.Lock()
			if tok != nil {
				// Kept even when saving failed: the old refresh token may
				// be spent already.
				s.tok = tok
			}
			if err == nil {
				call.tok = tok.AccessToken
			}
			call.err = err
			s.inflight = nil
			s.mu.Unlock()
			close(call.done)
		}()
	}
	s.mu.Unlock()
	select {
	case <-call.done:
		return call.tok, call.err
	case <-ctx.Done():
		return "", &remote.Error{Kind: remote.Canceled, Op: "token.refresh", Err: ctx.Err()}
	}
}

// refresh obtains the token that follows old: under the store's lock, the
// stored token if another process already refreshed, else a new one from
// Refresh, saved before the lock is released. If saving fails the new
// token is returned with the error.
func (s *TokenSource) refresh(ctx context.Context, old *oauth2.Token) (*oauth2.Token, error) {
	if old == nil {
		old = &oauth2.Token{}
	}
	if s.Store != nil {
		unlock, err := s.Store.Lock(ctx)
		if err != nil {
			return nil, &remote.Error{Kind: remote.Unavailable, Op: "token.refresh", Message: "locking the token file", Err: err}
		}
		defer unlock()
		if cur, err := s.Store.Load(); err == nil && cur.AccessToken != old.AccessToken {
			// Another process (or a new login) wrote a token after ours.
			if s.usable(cur) {
				return cur, nil
			}
			if cur.RefreshToken != "" {
				old = cur // ours may be spent already; theirs is the live one
			}
		}
	}
	tok, err := s.Refresh(ctx, old)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &remote.Error{Kind: remote.Unavailable, Op: "token.refresh", Message: "the token refresh timed out", Err: ctx.Err()}
		}
		if k := remote.KindOf(err); k == remote.Unavailable || k == remote.Throttled {
			return nil, err
		}
		return nil, s.loginError(err)
	}
	if tok.RefreshToken == "" && old.RefreshToken != "" {
		tok.RefreshToken = old.RefreshToken
	}
	if s.Store != nil {
		if err := s.Store.Save(tok); err != nil {
			return tok, fmt.Errorf("saving refreshed token: %w", err)
		}
	}
	return tok, nil
}

// Invalidate marks access as rejected by the server so the next Token call
// refreshes. Tokens other than the current one are ignored: another request
// may already have refreshed.
func (s *TokenSource) Invalidate(access string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && s.tok.AccessToken == access {
		t := *s.tok
		t.Expiry = time.Unix(1, 0)
		s.tok = &t
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

package httpx

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/bimfs/bimfs/remote"
)

// rotatingServer issues tokens whose refresh tokens are single-use, like
// APS and BIMcloud: spending one twice is invalid_grant.
type rotatingServer struct {
	*httptest.Server
	mu        sync.Mutex
	live      map[string]bool
	n         int
	refreshes atomic.Int32
	reused    atomic.Int32
	delay     time.Duration
}

func newRotatingServer(t *testing.T, first string, delay time.Duration) *rotatingServer {
	rs := &rotatingServer{live: map[string]bool{first: true}, delay: delay}
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(rs.delay)
		rt := r.FormValue("refresh_token")
		rs.mu.Lock()
		ok := rs.live[rt]
		delete(rs.live, rt)
		rs.n++
		next := fmt.Sprintf("r%d", rs.n+1)
		if ok {
			rs.live[next] = true
		}
		rs.mu.Unlock()
		rs.refreshes.Add(1)
		if !ok {
			rs.reused.Add(1)
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "a-" + next, "refresh_token": next, "expires_in": 3600})
	}))
	t.Cleanup(rs.Close)
	return rs
}

// refreshVia is a RefreshFunc that posts the refresh token to url.
func refreshVia(u string) RefreshFunc {
	return func(ctx context.Context, old *oauth2.Token) (*oauth2.Token, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
		if err != nil {
			return nil, err
		}
		req.URL.RawQuery = url.Values{"refresh_token": {old.RefreshToken}}.Encode()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, &remote.Error{Kind: remote.Unavailable, Op: "refresh", Err: err}
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, &remote.Error{Kind: remote.Unauthenticated, Op: "refresh", Status: resp.StatusCode, Message: "invalid_grant"}
		}
		var body struct {
			Access  string `json:"access_token"`
			Refresh string `json:"refresh_token"`
			Expires int    `json:"expires_in"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			return nil, err
		}
		return &oauth2.Token{AccessToken: body.Access, RefreshToken: body.Refresh, Expiry: time.Now().Add(time.Duration(body.Expires) * time.Second)}, nil
	}
}

func expiredToken(refresh string) *oauth2.Token {
	return &oauth2.Token{AccessToken: "old", RefreshToken: refresh, Expiry: time.Now().Add(-time.Minute)}
}

// TestCancelDuringRefreshKeepsLogin: a caller that gives up (Ctrl-C) while
// its refresh is on the wire returns at once; the refresh still completes
// and stores the rotated token, so the account stays logged in.
func TestCancelDuringRefreshKeepsLogin(t *testing.T) {
	rs := newRotatingServer(t, "r1", 300*time.Millisecond)
	store := &TokenStore{Path: filepath.Join(t.TempDir(), "acct.json")}
	if err := store.Save(expiredToken("r1")); err != nil {
		t.Fatal(err)
	}
	src := NewTokenSource("acct", expiredToken("r1"), refreshVia(rs.URL), store)

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := src.Token(ctx)
	if !remote.IsKind(err, remote.Canceled) {
		t.Fatalf("cancelled Token: %v, want Canceled", err)
	}
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Fatalf("cancelled Token returned after %v, not at once", d)
	}
	// The next caller gets the token the abandoned refresh obtained; no
	// refresh token is spent twice.
	tok, err := src.Token(context.Background())
	if err != nil || tok != "a-r2" {
		t.Fatalf("Token after cancel: %q %v", tok, err)
	}
	saved, err := store.Load()
	if err != nil || saved.RefreshToken != "r2" || saved.AccessToken != "a-r2" {
		t.Fatalf("stored %+v %v", saved, err)
	}
	if rs.refreshes.Load() != 1 || rs.reused.Load() != 0 {
		t.Fatalf("%d refreshes, %d reused refresh tokens", rs.refreshes.Load(), rs.reused.Load())
	}
	// And a fresh source (a remount) starts from the stored login.
	src2 := NewTokenSource("acct", saved, refreshVia(rs.URL), store)
	src2.Invalidate(saved.AccessToken)
	if tok, err := src2.Token(context.Background()); err != nil || tok != "a-r3" {
		t.Fatalf("remount refresh: %q %v", tok, err)
	}
}

// TestTwoSourcesShareTokenFile: two token sources of one account (as two
// mounts would have) start from the same expired token. The file lock and
// the re-read under it make exactly one of them refresh; the other adopts
// the rotated token instead of spending the old refresh token again.
func TestTwoSourcesShareTokenFile(t *testing.T) {
	rs := newRotatingServer(t, "r1", 50*time.Millisecond)
	path := filepath.Join(t.TempDir(), "acct.json")
	if err := (&TokenStore{Path: path}).Save(expiredToken("r1")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	toks := make([]string, 2)
	errs := make([]error, 2)
	for i := range 2 {
		store := &TokenStore{Path: path}
		tok, err := store.Load()
		if err != nil {
			t.Fatal(err)
		}
		src := NewTokenSource("acct", tok, refreshVia(rs.URL), store)
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks[i], errs[i] = src.Token(context.Background())
		}()
	}
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil || toks[i] != "a-r2" {
			t.Fatalf("source %d: %q %v", i, toks[i], errs[i])
		}
	}
	if rs.refreshes.Load() != 1 || rs.reused.Load() != 0 {
		t.Fatalf("%d refreshes, %d reused refresh tokens", rs.refreshes.Load(), rs.reused.Load())
	}
}

// Environment of the child processes of TestTwoProcessesShareTokenFile.
const (
	envRotationFile = "BIMFS_TEST_ROTATION_TOKEN_FILE"
	envRotationURL  = "BIMFS_TEST_ROTATION_URL"
)

// TestTwoProcessesShareTokenFile runs the rotation race with two real
// processes (this test binary, re-executed), which share nothing but the
// token file and its lock.
func TestTwoProcessesShareTokenFile(t *testing.T) {
	if path := os.Getenv(envRotationFile); path != "" {
		rotationChild(t, path, os.Getenv(envRotationURL))
		return
	}
	rs := newRotatingServer(t, "r1", 100*time.Millisecond)
	path := filepath.Join(t.TempDir(), "acct.json")
	if err := (&TokenStore{Path: path}).Save(expiredToken("r1")); err != nil {
		t.Fatal(err)
	}
	cmds := make([]*exec.Cmd, 2)
	outs := make([][]byte, 2)
	var wg sync.WaitGroup
	for i := range cmds {
		cmds[i] = exec.Command(os.Args[0], "-test.run=^TestTwoProcessesShareTokenFile$", "-test.count=1")
		cmds[i].Env = append(os.Environ(), envRotationFile+"="+path, envRotationURL+"="+rs.URL)
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], _ = cmds[i].CombinedOutput()
		}()
	}
	wg.Wait()
	for i, c := range cmds {
		if !c.ProcessState.Success() {
			t.Fatalf("process %d failed:\n%s", i, outs[i])
		}
	}
	if rs.refreshes.Load() != 1 || rs.reused.Load() != 0 {
		t.Fatalf("%d refreshes, %d reused refresh tokens", rs.refreshes.Load(), rs.reused.Load())
	}
	saved, err := (&TokenStore{Path: path}).Load()
	if err != nil || saved.RefreshToken != "r2" {
		t.Fatalf("stored %+v %v", saved, err)
	}
}

// rotationChild is one process of TestTwoProcessesShareTokenFile.
func rotationChild(t *testing.T, path, u string) {
	store := &TokenStore{Path: path}
	tok, err := store.Load()
	if err != nil {
		t.Fatal(err)
	}
	src := NewTokenSource("acct", tok, refreshVia(u), store)
	got, err := src.Token(context.Background())
	if err != nil || got != "a-r2" {
		t.Fatalf("child: %q %v", got, err)
	}
}

package httpx

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/bimfs/bimfs/remote"
)

func fastClient() *Client {
	return &Client{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, MaxAttempts: 4}
}

func get(url string) func(ctx context.Context) (*http.Request, error) {
	return func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	}
}

func TestRetriesThrottleAndUnavailable(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(429)
		case 2:
			w.WriteHeader(503)
		default:
			io.WriteString(w, "ok")
		}
	}))
	defer srv.Close()
	resp, err := fastClient().Do(context.Background(), "t", get(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" || n.Load() != 3 {
		t.Fatalf("body %q after %d calls", b, n.Load())
	}
}

func TestGivesUpWithTypedError(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(429)
		io.WriteString(w, `{"developerMessage":"Quota limit exceeded."}`)
	}))
	defer srv.Close()
	_, err := fastClient().Do(context.Background(), "op", get(srv.URL))
	if !remote.IsKind(err, remote.Throttled) || n.Load() != 4 {
		t.Fatalf("err %v after %d calls", err, n.Load())
	}
	if !strings.Contains(err.Error(), "Quota limit exceeded") {
		t.Fatalf("message lost: %v", err)
	}
}

func TestRetryAfterTooLongFailsAtOnce(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(429)
	}))
	defer srv.Close()
	_, err := fastClient().Do(context.Background(), "op", get(srv.URL))
	var re *remote.Error
	if !errors.As(err, &re) || re.Kind != remote.Throttled || re.RetryAfter != time.Hour || n.Load() != 1 {
		t.Fatalf("err %v after %d calls", err, n.Load())
	}
}

func TestPostNotRepeatedAfter500(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(500)
	}))
	defer srv.Close()
	err := fastClient().JSON(context.Background(), "op", http.MethodPost, srv.URL, "", nil, map[string]int{"a": 1}, nil)
	if !remote.IsKind(err, remote.Unavailable) || n.Load() != 1 {
		t.Fatalf("err %v after %d calls", err, n.Load())
	}
}

func TestConnectionResetRetried(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
			return
		}
		io.WriteString(w, `{"x":7}`)
	}))
	defer srv.Close()
	var out struct{ X int }
	if err := fastClient().JSON(context.Background(), "op", http.MethodGet, srv.URL, "", nil, nil, &out); err != nil || out.X != 7 {
		t.Fatalf("out %+v err %v", out, err)
	}
}

func TestClosedPortIsUnavailable(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	_, err := fastClient().Do(context.Background(), "op", get("http://"+addr+"/x"))
	if !remote.IsKind(err, remote.Unavailable) {
		t.Fatalf("err %v", err)
	}
}

func TestCancelStopsWaiting(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(429)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	_, err := fastClient().Do(ctx, "op", get(srv.URL))
	if !remote.IsKind(err, remote.Canceled) {
		t.Fatalf("err %v", err)
	}
}

func TestRetryAfterForms(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := http.Header{}
	h.Set("Retry-After", "2")
	if d := RetryAfter(h, now); d != 2*time.Second {
		t.Fatal(d)
	}
	h.Set("Retry-After", now.Add(5*time.Second).Format(http.TimeFormat))
	if d := RetryAfter(h, now); d != 5*time.Second {
		t.Fatal(d)
	}
	h.Set("Retry-After", "soon")
	if d := RetryAfter(h, now); d != 0 {
		t.Fatal(d)
	}
}

func TestRedaction(t *testing.T) {
	got := RedactURL("https://user:pw@s3.example.test/b/k?X-Amz-Signature=secret&X-Amz-Expires=60")
	if strings.Contains(got, "secret") || strings.Contains(got, "pw") || !strings.Contains(got, "/b/k") {
		t.Fatal(got)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	_, err := http.Get("http://" + addr + "/k?sig=topsecret")
	if msg := RedactError(err); strings.Contains(msg, "topsecret") {
		t.Fatal(msg)
	}
}

func TestBearerRefreshOn401(t *testing.T) {
	var refreshes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer fresh" {
			w.WriteHeader(401)
			return
		}
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	}))
	defer srv.Close()
	dir := t.TempDir()
	store := &TokenStore{Path: filepath.Join(dir, "tok", "acct.json")}
	src := NewTokenSource("acct", &oauth2.Token{AccessToken: "stale", RefreshToken: "r1", Expiry: time.Now().Add(time.Hour)},
		func(ctx context.Context, old *oauth2.Token) (*oauth2.Token, error) {
			refreshes.Add(1)
			if old.RefreshToken != "r1" {
				t.Errorf("refresh token %q", old.RefreshToken)
			}
			return &oauth2.Token{AccessToken: "fresh", RefreshToken: "r2", Expiry: time.Now().Add(time.Hour)}, nil
		}, store)
	c := &Client{HTTP: &http.Client{Transport: &BearerTransport{Source: src}}}
	var out map[string]string
	if err := c.JSON(context.Background(), "op", http.MethodPost, srv.URL, "", nil, map[string]string{"k": "v"}, &out); err != nil {
		t.Fatal(err)
	}
	if out["k"] != "v" || refreshes.Load() != 1 {
		t.Fatalf("out %v refreshes %d", out, refreshes.Load())
	}
	fi, err := os.Stat(store.Path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	saved, err := store.Load()
	if err != nil || saved.RefreshToken != "r2" {
		t.Fatalf("saved %+v %v", saved, err)
	}
}

func TestRefreshFailureTellsUserToLogin(t *testing.T) {
	src := NewTokenSource("work", &oauth2.Token{AccessToken: "x", Expiry: time.Now().Add(-time.Hour)},
		func(ctx context.Context, old *oauth2.Token) (*oauth2.Token, error) {
			return nil, &remote.Error{Kind: remote.Unauthenticated, Message: "invalid_grant"}
		}, nil)
	c := &Client{HTTP: &http.Client{Transport: &BearerTransport{Source: src}}}
	_, err := c.Do(context.Background(), "op", get("http://127.0.0.1:1/"))
	if !remote.IsKind(err, remote.Unauthenticated) || !strings.Contains(err.Error(), "bimfs login work") {
		t.Fatalf("err %v", err)
	}
}

func TestMissingTokenFile(t *testing.T) {
	_, err := (&TokenStore{Path: filepath.Join(t.TempDir(), "none.json")}).Load()
	if !remote.IsKind(err, remote.Unauthenticated) {
		t.Fatal(err)
	}
}

// A 503 asking for an hour must not park the caller: every status gets
// the Retry-After cap of 429.
func TestRetryAfterCappedFor503(t *testing.T) {
	for _, status := range []int{503, 502} {
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(status)
		}))
		start := time.Now()
		_, err := fastClient().Do(context.Background(), "op", get(srv.URL))
		srv.Close()
		var re *remote.Error
		if !errors.As(err, &re) || re.Kind != remote.Unavailable || re.RetryAfter != time.Hour || n.Load() != 1 {
			t.Fatalf("status %d: err %v after %d calls", status, err, n.Load())
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("status %d: waited %v", status, d)
		}
	}
}

// MaxRetryAfter is the cap: a wait within it is honoured and retried.
func TestMaxRetryAfterOption(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(503)
			return
		}
		w.WriteHeader(200)
	}))
	defer srv.Close()
	c := fastClient()
	c.MaxRetryAfter = 500 * time.Millisecond
	if _, err := c.Do(context.Background(), "op", get(srv.URL)); !remote.IsKind(err, remote.Unavailable) || n.Load() != 1 {
		t.Fatalf("cap 0.5s: err %v after %d calls", err, n.Load())
	}
	n.Store(0)
	c.MaxRetryAfter = 2 * time.Second
	resp, err := c.Do(context.Background(), "op", get(srv.URL))
	if err != nil || n.Load() != 2 {
		t.Fatalf("cap 2s: err %v after %d calls", err, n.Load())
	}
	resp.Body.Close()
}

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestCallInContext checks that a transport below the client sees the
// operation name and the attempt number of every request.
func TestCallInContext(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	var seen []Call
	c := fastClient()
	c.HTTP = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		call, ok := CallFrom(r.Context())
		if !ok {
			t.Error("request without Call")
		}
		seen = append(seen, call)
		return http.DefaultTransport.RoundTrip(r)
	})}
	resp, err := c.Do(context.Background(), "test.Get", get(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(seen) != 2 || seen[0] != (Call{"test.Get", 1}) || seen[1] != (Call{"test.Get", 2}) {
		t.Fatalf("calls %+v", seen)
	}
}

// TestThrottledTokenRequestIsRetried: a 429 from the token endpoint reaches
// the client as a typed Throttled error from below; the request was never
// sent, so it is retried after the wait asked for instead of failing.
func TestThrottledTokenRequestIsRetried(t *testing.T) {
	var n atomic.Int32
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if n.Add(1) == 1 {
			return nil, &remote.Error{Kind: remote.Throttled, Op: "token", RetryAfter: 10 * time.Millisecond}
		}
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("ok")), Header: http.Header{}, Request: r}, nil
	})
	c := &Client{HTTP: &http.Client{Transport: rt}}
	resp, err := c.Do(context.Background(), "op", get("http://127.0.0.1:1/x"))
	if err != nil || n.Load() != 2 {
		t.Fatalf("err %v after %d attempts", err, n.Load())
	}
	resp.Body.Close()
	// A typed error of another kind is still final at once.
	n.Store(0)
	rt2 := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		n.Add(1)
		return nil, &remote.Error{Kind: remote.Unauthenticated, Op: "token"}
	})
	c = &Client{HTTP: &http.Client{Transport: rt2}}
	if _, err := c.Do(context.Background(), "op", get("http://127.0.0.1:1/x")); !remote.IsKind(err, remote.Unauthenticated) || n.Load() != 1 {
		t.Fatalf("unauthenticated: %v after %d attempts", err, n.Load())
	}
}

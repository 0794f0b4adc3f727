package bimcloud

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bimcloud/emulator"
	"github.com/bimfs/bimfs/remote/bimcloud/emulator/contract"
	"github.com/bimfs/bimfs/remote/httpx"
)

// logBuffer collects log output of one test, safe for concurrent writers.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newServer(t *testing.T, o emulator.Options) *emulator.Server {
	t.Helper()
	s := emulator.New(o)
	t.Cleanup(s.Close)
	return s
}

// testConfig returns a config for s with a private token file and all
// logging (debug included) captured in logs.
func testConfig(t testing.TB, s *emulator.Server) (Config, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	// Every exchange is checked against the spec, the client's request
	// bodies included; against a spec-strict server every request must be
	// in the spec's form.
	checker := contract.New(t, s.URL)
	if o := s.Options(); !o.AcceptDemoForms && !o.RefuseSpecForms {
		checker.RequireSpecForms()
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return Config{
		Account:      "acct",
		ManagerURL:   s.URL,
		HTTP:         &http.Client{Transport: checker.Transport(tr)},
		TokenStore:   &httpx.TokenStore{Path: filepath.Join(t.TempDir(), "acct.json")},
		Logger:       slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		PollInterval: 5 * time.Millisecond,
		MaxAttempts:  3,
	}, logs
}

// loggedIn logs the default user in with the password grant and returns
// the backend.
func loggedIn(t *testing.T, s *emulator.Server) (*Backend, Config) {
	t.Helper()
	b, cfg, _ := loggedInLogs(t, s)
	return b, cfg
}

// loggedInLogs is loggedIn that also returns the captured log.
func loggedInLogs(t *testing.T, s *emulator.Server) (*Backend, Config, *logBuffer) {
	t.Helper()
	cfg, logs := testConfig(t, s)
	if err := LoginPassword(t.Context(), cfg, emulator.DefaultUser, emulator.DefaultPassword); err != nil {
		t.Fatalf("LoginPassword: %v", err)
	}
	b, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b, cfg, logs
}

func readAll(t *testing.T, b *Backend, id string, v remote.Version, off, n int64) ([]byte, error) {
	t.Helper()
	rc, err := b.ReadRange(t.Context(), remote.ID(id), v, off, n)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// mustReadNewBlob adds a small blob to s and checks that b reads it back
// whole: one trip through the Manager, a ticket and a blob-server session.
func mustReadNewBlob(t *testing.T, s *emulator.Server, b *Backend) {
	t.Helper()
	id := s.AddBlob(emulator.RootID, "a.txt", emulator.Bytes([]byte("abc")), "")
	e := stat(t, b, id)
	if data, err := readAll(t, b, id, e.Version, 0, 3); err != nil || string(data) != "abc" {
		t.Fatalf("read back %q, %v; want \"abc\"", data, err)
	}
}

func stat(t *testing.T, b *Backend, id string) remote.Entry {
	t.Helper()
	e, err := b.Stat(t.Context(), remote.ID(id))
	if err != nil {
		t.Fatalf("Stat(%s): %v", id, err)
	}
	return e
}

func mustKind(t *testing.T, err error, k remote.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want kind %v", k)
	}
	if got := remote.KindOf(err); got != k {
		t.Fatalf("error %v has kind %v, want %v", err, got, k)
	}
}

func byName(es []remote.Entry) map[string]remote.Entry {
	m := map[string]remote.Entry{}
	for _, e := range es {
		m[e.Name] = e
	}
	return m
}

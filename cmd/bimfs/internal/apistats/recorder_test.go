package apistats

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote/httpx"
)

func TestCountsAndLogsEachRequest(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	var logBuf bytes.Buffer
	rec := New(slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	c := &httpx.Client{HTTP: &http.Client{Transport: rec.Transport(nil)}, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}
	resp, err := c.Do(context.Background(), "demo.Get", func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/file?signature=SECRET", nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// A request outside the retrying client is counted by method and host.
	if r, err := rec.Transport(nil).RoundTrip(httptestReq(t, srv.URL)); err == nil {
		r.Body.Close()
	}

	snap := rec.Snapshot()
	if len(snap) != 2 {
		t.Fatalf("endpoints %+v", snap)
	}
	var got Endpoint
	for _, e := range snap {
		if e.Name == "demo.Get" {
			got = e
		}
	}
	if got.Requests != 2 || got.Retries != 1 || got.Throttled != 1 || got.Errors != 1 || got.BytesReceived != 5 {
		t.Fatalf("demo.Get %+v", got)
	}
	log := logBuf.String()
	if strings.Count(log, "api call") != 3 || !strings.Contains(log, "status=429") || !strings.Contains(log, "attempt=2") {
		t.Fatalf("log:\n%s", log)
	}
	if strings.Contains(log, "SECRET") {
		t.Fatalf("the log shows a signed query:\n%s", log)
	}
}

func httptestReq(t *testing.T, url string) *http.Request {
	req, err := http.NewRequest(http.MethodPost, url+"/token", strings.NewReader("grant_type=x"))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

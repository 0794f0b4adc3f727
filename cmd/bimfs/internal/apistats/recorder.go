// Package apistats observes every HTTP request the service clients send:
// it counts calls, errors, throttling and bytes per API operation and, when
// asked, logs one line per request with a redacted URL.
package apistats

import (
	"io"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bimfs/bimfs/remote/httpx"
)

// Endpoint is the snapshot of one API operation's counters.
type Endpoint struct {
	// Name is the operation ("bim360.GetFolderContents"), or METHOD host
	// for requests sent outside the retrying client (token refreshes).
	Name string `json:"name"`
	// Requests counts HTTP exchanges, retries included.
	Requests int64 `json:"requests"`
	// Retries counts the requests that repeated an earlier attempt.
	Retries int64 `json:"retries"`
	// Errors counts transport failures and responses with status >= 400.
	Errors int64 `json:"errors"`
	// Throttled counts 429 responses.
	Throttled int64 `json:"throttled"`
	// BytesSent and BytesReceived count request and response bodies.
	BytesSent     int64 `json:"bytesSent"`
	BytesReceived int64 `json:"bytesReceived"`
	// Seconds is the total time to response headers.
	Seconds float64 `json:"seconds"`
}

type counters struct {
	requests, retries, errors, throttled, sent, received, nanos atomic.Int64
}

// Recorder collects counters; the zero value is not usable, see New.
type Recorder struct {
	log *slog.Logger // nil: no per-request lines
	mu  sync.Mutex   // guards byName (not the counters)
	by  map[string]*counters
}

// New returns a Recorder. With log set, every request is logged at debug
// level as "api call".
func New(log *slog.Logger) *Recorder {
	return &Recorder{log: log, by: map[string]*counters{}}
}

func (r *Recorder) counters(name string) *counters {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.by[name]
	if !ok {
		c = &counters{}
		r.by[name] = c
	}
	return c
}

// Snapshot returns the counters of every operation seen so far, by name.
func (r *Recorder) Snapshot() []Endpoint {
	r.mu.Lock()
	names := make([]string, 0, len(r.by))
	for n := range r.by {
		names = append(names, n)
	}
	cs := make([]*counters, 0, len(names))
	sort.Strings(names)
	for _, n := range names {
		cs = append(cs, r.by[n])
	}
	r.mu.Unlock()
	out := make([]Endpoint, len(names))
	for i, c := range cs {
		out[i] = Endpoint{
			Name: names[i], Requests: c.requests.Load(), Retries: c.retries.Load(), Errors: c.errors.Load(),
			Throttled: c.throttled.Load(), BytesSent: c.sent.Load(), BytesReceived: c.received.Load(),
			Seconds: time.Duration(c.nanos.Load()).Seconds(),
		}
	}
	return out
}

// Transport wraps base (nil: http.DefaultTransport) so every request
// passes through the recorder.
func (r *Recorder) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{r: r, base: base}
}

type transport struct {
	r    *Recorder
	base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	call, ok := httpx.CallFrom(req.Context())
	name := call.Op
	if !ok || name == "" {
		name = req.Method + " " + req.URL.Host
	}
	c := t.r.counters(name)
	c.requests.Add(1)
	if call.Attempt > 1 {
		c.retries.Add(1)
	}
	if req.ContentLength > 0 {
		c.sent.Add(req.ContentLength)
	}
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	took := time.Since(start)
	c.nanos.Add(int64(took))
	status := 0
	if err != nil {
		c.errors.Add(1)
	} else {
		status = resp.StatusCode
		if status >= 400 {
			c.errors.Add(1)
		}
		if status == http.StatusTooManyRequests {
			c.throttled.Add(1)
		}
		resp.Body = &countingBody{ReadCloser: resp.Body, n: &c.received}
	}
	if t.r.log != nil {
		attrs := []any{"op", name, "method", req.Method, "url", httpx.RedactURL(req.URL.String()),
			"status", status, "duration", took.Round(time.Microsecond)}
		if call.Attempt > 1 {
			attrs = append(attrs, "attempt", call.Attempt)
		}
		if err != nil {
			attrs = append(attrs, "err", httpx.RedactError(err))
		}
		t.r.log.Debug("api call", attrs...)
	}
	return resp, err
}

// countingBody adds the bytes read from a response body to n.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

package emulator

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	assetsemu "github.com/bimfs/bimfs/remote/bim360/assets/emulator"
	dcemu "github.com/bimfs/bimfs/remote/bim360/dataconnector/emulator"
)

// Defaults for zero-valued Options fields.
const (
	DefaultClientID      = "demo-client"
	DefaultClientSecret  = "demo-secret"
	DefaultTokenLifetime = time.Hour
	DefaultRateWindow    = time.Minute
	// DefaultMinPartSize is the smallest part OSS accepts for any part of
	// a multipart upload but the last (oss.yaml status "TooSmall").
	DefaultMinPartSize = 5 << 20
	// MaxPartSize is S3's largest part.
	MaxPartSize = 5 << 30
	// MaxParts is S3's largest part number.
	MaxParts = 10000
	// UploadLifetime is how long an upload session stays open (the upload
	// tutorial's 24 hours; uploadExpiration in signeds3upload answers).
	UploadLifetime = 24 * time.Hour
)

// Options are the emulator's knobs. The zero value is a fast, fault-free
// server with the demo client registered.
type Options struct {
	// AcceptDemoForms also accepts request bodies in the form the APS
	// tutorials send where it breaks the spec: a Deleted version (POST
	// versions, versions:autodesk.core:Deleted) without attributes.name,
	// which VersionPayload requires. Off, the emulator is as strict as the
	// spec and answers such bodies 400.
	AcceptDemoForms bool
	// Latency is added to every request before it is handled.
	Latency time.Duration
	// BytesPerSecond caps the body rate of each S3 GET (per request, which is
	// per connection for HTTP/1.1). 0 means unlimited.
	BytesPerSecond int64
	// Rate429 and Rate503 are the probabilities that an API or S3 request is
	// answered 429 (with Retry-After) or 503 instead of being served. On the
	// S3 endpoint both produce S3's own throttling answer, 503 SlowDown.
	Rate429, Rate503 float64
	// RateReset is the probability that an S3 GET is aborted part-way
	// through its body (the connection is closed).
	RateReset float64
	// RetryAfter is the Retry-After sent with injected 429s, rounded up to
	// whole seconds; 0 means 1 second.
	RetryAfter time.Duration
	// RateLimits enforces the documented per-client, per-endpoint limits
	// (50/300/800 per minute for DM, 1000 per minute for all of OSS).
	RateLimits bool
	// RateWindow is the length of a rate-limit window; 0 means one minute.
	// Tests shorten it so a client's Retry-After wait stays short.
	RateWindow time.Duration
	// URLLifetime overrides the lifetime of signed S3 URLs (rounded up to
	// whole seconds). 0 means minutesExpiration from the request (default 2).
	URLLifetime time.Duration
	// UploadURLLifetime overrides the lifetime of signed S3 upload (PUT)
	// URLs; 0 means URLLifetime, or else minutesExpiration from the
	// request. Tests set it short and Advance the clock to expire URLs
	// between signeds3upload and the PUT.
	UploadURLLifetime time.Duration
	// MinPartSize is the smallest size allowed for every part of an
	// upload but the last; 0 means DefaultMinPartSize. Tests lower it to
	// upload small multipart objects.
	MinPartSize int64
	// PartDir, if set, is a directory uploaded parts are written to
	// instead of memory; the files are removed when their object is
	// replaced, their upload expires, or the server closes.
	PartDir string
	// FailComplete makes the next FailComplete calls to complete an upload
	// (POST signeds3upload) fail with FailCompleteStatus before doing
	// anything, so a client's retry can be tested. SetOptions restarts the
	// count.
	FailComplete int
	// FailCompleteStatus is the status of those failures; 0 means 500.
	FailCompleteStatus int
	// TokenLifetime is the access token lifetime; 0 means one hour.
	TokenLifetime time.Duration
	// ClientID and ClientSecret identify the registered app; empty means
	// DefaultClientID / DefaultClientSecret.
	ClientID, ClientSecret string
	// RedirectURI, if set, is the only redirect_uri authorize accepts;
	// otherwise any http loopback URI (127.0.0.1, [::1], localhost) is.
	RedirectURI string
	// RelativeLinks makes JSON:API links (self/next/related…) relative
	// paths, as in the spec's examples, instead of absolute URLs.
	RelativeLinks bool
	// Seed makes IDs and fault decisions reproducible.
	Seed int64
}

func (o Options) withDefaults() Options {
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.ClientSecret == "" {
		o.ClientSecret = DefaultClientSecret
	}
	if o.TokenLifetime <= 0 {
		o.TokenLifetime = DefaultTokenLifetime
	}
	if o.RateWindow <= 0 {
		o.RateWindow = DefaultRateWindow
	}
	if o.MinPartSize <= 0 {
		o.MinPartSize = DefaultMinPartSize
	}
	if o.FailCompleteStatus == 0 {
		o.FailCompleteStatus = http.StatusInternalServerError
	}
	return o
}

// Server is a running emulator. Its builder methods (AddHub, AddFile, …) may
// be called while it serves requests.
type Server struct {
	// URL is the APS base URL, e.g. http://127.0.0.1:PORT.
	URL string
	// DataConnector is the Data Connector API served on the same host.
	DataConnector *dcemu.Service
	// Assets is the Assets, Locations and Relationship APIs served on the
	// same host.
	Assets *assetsemu.Service

	st     *store
	parts  *partStore
	auth   *authState
	faults *faults
	srv    *http.Server
	ln     net.Listener
	log    *slog.Logger
	// s3Key signs S3 URLs; fixed per server.
	s3Key []byte

	mu sync.Mutex
	// mu protects the following.
	opts        Options
	clockOffset time.Duration
	counters    map[string]int64
	signedRes   map[string]signedResource // OSS signed URLs by hash
	observe     func(exchange)            // test hook: sees every non-S3 exchange
	inflight    int                       // observed handlers still running
	failedComps int                       // completes failed on purpose since SetOptions
}

// New starts an emulator on 127.0.0.1 with an ephemeral port. It serves
// until Close.
func New(opts Options) *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic("emulator: listen on loopback: " + err.Error())
	}
	s := &Server{
		URL:       "http://" + ln.Addr().String(),
		st:        newStore(opts.Seed),
		parts:     newPartStore(),
		ln:        ln,
		log:       slog.Default().With("component", "bim360-emulator"),
		opts:      opts.withDefaults(),
		counters:  map[string]int64{},
		signedRes: map[string]signedResource{},
	}
	s.s3Key = make([]byte, 32)
	_, _ = rand.Read(s.s3Key)
	s.auth = newAuthState()
	s.faults = newFaults(opts.Seed)
	s.DataConnector = dcemu.New(dcemu.Options{}, s.now)
	s.Assets = assetsemu.New(assetsemu.Options{}, s.now)
	s.srv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	go func() { _ = s.srv.Serve(ln) }()
	return s
}

// Close stops the server and closes every connection, including transfers
// in progress.
func (s *Server) Close() {
	_ = s.srv.Close()
	s.parts.closeAll()
}

// SetOptions replaces the knobs; requests already in progress keep the old
// values. Zero fields take their defaults. Seed is only read by New: the ID
// and fault generators are not reseeded.
func (s *Server) SetOptions(o Options) {
	s.mu.Lock()
	s.opts = o.withDefaults()
	s.failedComps = 0
	s.mu.Unlock()
}

// Options returns the current knobs, defaults filled in.
func (s *Server) Options() Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts
}

// Advance moves the emulator's clock forward by d, so token, code and
// signed-URL expiry can be tested without sleeping.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	s.clockOffset += d
	s.mu.Unlock()
}

func (s *Server) now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nowLocked()
}

// nowLocked is now for callers holding mu.
func (s *Server) nowLocked() time.Time { return time.Now().Add(s.clockOffset) }

// Counters returns the number of requests received per operation since the
// last ResetCounters, whatever their outcome. Operation names are listed in
// the package's Op* constants, e.g. OpFolderContents "GET folder contents".
func (s *Server) Counters() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int64, len(s.counters))
	for k, v := range s.counters {
		m[k] = v
	}
	return m
}

// ResetCounters sets every counter to zero.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	s.counters = map[string]int64{}
	s.mu.Unlock()
}

func (s *Server) count(op string) {
	s.mu.Lock()
	s.counters[op]++
	s.mu.Unlock()
}

// sleepCtx waits d or until ctx ends; it reports whether d elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

package emulator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand"
	"net"
	"net/http"
	"sync"
	"time"
)

// Defaults applied to zero fields of Options.
const (
	DefaultTokenLifetime   = time.Hour
	DefaultTicketLifetime  = 5 * time.Minute
	DefaultSessionLifetime = time.Hour
	DefaultPageCap         = 1000
	// DefaultUploadLifetime is the idle timeout of batch and upload sessions.
	DefaultUploadLifetime = time.Hour
	// DefaultJobDuration is how long a job nobody polls takes to finish.
	DefaultJobDuration = time.Second
	// DefaultJobRetention is how long finished jobs stay visible ("a few
	// minutes" per the spec).
	DefaultJobRetention = 3 * time.Minute
	// DefaultMaxPartSize bounds the length of one put-blob-content-part.
	DefaultMaxPartSize = 256 << 20
	// DefaultUser and DefaultPassword form the only account when Options.Users is empty.
	DefaultUser     = "demo"
	DefaultPassword = "demo"
	// DefaultModelServerName names the model server New creates.
	DefaultModelServerName = "Model Server 1"
)

// Options are the emulator's knobs. The zero value is a fast, fault-free
// server with the defaults above. Options can be changed at any time with
// SetOptions; requests already streaming keep the options they started with.
type Options struct {
	// Latency is added before every response, on the manager and on the blob servers.
	Latency time.Duration
	// BytesPerSecond caps the rate at which blob content is sent on one
	// connection (0 = unlimited).
	BytesPerSecond int64

	// Rate503 is the probability (0..1) that a request is answered with a
	// bare 503 instead of being served. The OAuth endpoints are spared.
	Rate503 float64
	// RateReset is the probability (0..1) that a get-blob-content response is
	// aborted mid-body (the connection is closed before Content-Length bytes).
	RateReset float64
	// Seed seeds the fault dice and the generated IDs, so runs repeat.
	Seed int64

	// TokenLifetime sets access_token_exp = now + TokenLifetime.
	TokenLifetime time.Duration
	// TicketLifetime is how long a blob-server ticket can open sessions;
	// create-session with an older ticket fails with blob error 4.
	TicketLifetime time.Duration
	// SessionLifetime is a blob-server session's idle timeout; every call
	// with the session extends it. Calls with an expired session fail with
	// blob error 11.
	SessionLifetime time.Duration

	// RangeSupport makes get-blob-content honour a single "Range: bytes=a-b"
	// header with 206. The 2023.2 spec documents no Range support, so it is
	// off by default and Range headers are ignored (full 200 response).
	RangeSupport bool
	// RevisionHeader makes get-blob-content send an ETag naming the blob
	// and its content revision (emulator: the spec declares no response
	// headers), so that clients can prove which revision the bytes are.
	RevisionHeader bool
	// PageCap is the most results one get-resources-by-criterion call
	// returns, whatever limit the caller asks for (default 1000, as the real
	// server).
	PageCap int
	// ConsentPolls is how many get-authorization-code-by-state polls answer
	// "pending" after the authorize page was opened, before "succeeded".
	ConsentPolls int
	// TicketJSONString makes get-ticket (format base64) return the ticket as
	// a JSON string, as the spec declares, instead of bare base64 text, as
	// the vendor demo reads it. Clients must accept both.
	TicketJSONString bool

	// UploadLifetime is the idle timeout of batch upload and upload
	// sessions; calls with an expired one fail with blob error 17
	// (begin-upload: BlobNamespaceNotFound) or 14 (UploadSessionNotFound).
	UploadLifetime time.Duration
	// UploadDir, if set, makes upload parts spill to temporary files in
	// that directory instead of memory, so gigabyte uploads cost no RAM.
	// The files are removed by Close. Either way a part's bytes are held
	// once: committed content reads the stored parts in place.
	UploadDir string
	// MaxPartSize bounds one put-blob-content-part (default
	// DefaultMaxPartSize); longer parts fail with blob error 13.
	MaxPartSize int64
	// JobDuration is how long a delete job nobody polls takes to finish;
	// get-job moves a job on by one state per call regardless.
	JobDuration time.Duration
	// JobRetention is how long a finished job stays visible to get-job.
	JobRetention time.Duration

	// AcceptDemoForms also serves the vendor demo's form of calls where it
	// differs from the spec's (POST for update-blob-parent and
	// get-blob-changes-for-sync; a form body with client_id for the
	// oauth2/token refresh and code grants). Off, the emulator is as strict
	// as the spec: the demo's verb gets 404, its token form 400.
	AcceptDemoForms bool
	// RefuseSpecForms serves only the demo's form of those calls (the
	// spec's verb gets 404), playing a server the demo was written
	// against; clients test their fallback with it.
	RefuseSpecForms bool

	// Users maps user name to password for the password grant and the
	// authorize page; default {"demo": "demo"}.
	Users map[string]string
}

// withDefaults returns o with every unset knob at its default. Users is
// copied so that later changes to the caller's map do not reach a running
// server.
func (o Options) withDefaults() Options {
	positiveOr(&o.TokenLifetime, DefaultTokenLifetime)
	positiveOr(&o.TicketLifetime, DefaultTicketLifetime)
	positiveOr(&o.SessionLifetime, DefaultSessionLifetime)
	positiveOr(&o.PageCap, DefaultPageCap)
	positiveOr(&o.UploadLifetime, DefaultUploadLifetime)
	positiveOr(&o.MaxPartSize, DefaultMaxPartSize)
	positiveOr(&o.JobDuration, DefaultJobDuration)
	positiveOr(&o.JobRetention, DefaultJobRetention)
	if len(o.Users) == 0 {
		o.Users = map[string]string{DefaultUser: DefaultPassword}
	} else {
		o.Users = maps.Clone(o.Users)
	}
	return o
}

// positiveOr sets *v to def unless it is positive: a zero or negative
// duration, cap or size in Options means "use the default".
func positiveOr[T ~int | ~int64](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Server is a running emulator. All methods are safe for concurrent use.
type Server struct {
	// URL is the manager's base URL, e.g. http://127.0.0.1:PORT. The API
	// lives below URL + "/management/client/".
	URL string

	manager *listener

	// mu protects every field below, and the state of all nodes, tokens,
	// tickets and sessions. Content is immutable and read without it.
	mu            sync.Mutex
	opts          Options
	rng           *rand.Rand
	store         *store
	auth          *authState
	tickets       map[string]*ticket
	sessions      map[string]*session
	blobServers   map[string]*blobServer // by model server ID
	defaultServer string                 // model server ID
	counters      map[string]int64
	injected      map[string][]int // op → codes still to inject, in order
	jobs          map[string]*job
	batches       map[string]*batch  // by batch upload session ID
	namespaces    map[string]*batch  // by namespace-name
	uploads       map[string]*upload // by upload session ID
	spill         *spillDir          // nil unless Options.UploadDir
	closed        bool
}

// listener is one HTTP server on a 127.0.0.1 port.
type listener struct {
	ln  net.Listener
	srv *http.Server
	url string
}

func listen(h http.Handler) *listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("emulator: listen on loopback: %v", err))
	}
	l := &listener{
		ln:  ln,
		url: "http://" + ln.Addr().String(),
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			// The emulator's own faults (aborted bodies) are expected; keep
			// net/http's per-connection noise out of test logs.
			ErrorLog: slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug),
		},
	}
	go func() {
		if err := l.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("emulator: serve", "addr", l.url, "err", err)
		}
	}()
	return l
}

func (l *listener) close() {
	// Close, not Shutdown: streaming downloads must not hold up a test's cleanup.
	_ = l.srv.Close()
}

// closedLoopbackPort returns a 127.0.0.1 port that nothing listens on: it
// was just bound and released. Connecting to it fails fast with ECONNREFUSED.
func closedLoopbackPort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("emulator: listen on loopback: %v", err))
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port
}

// New starts a manager and one blob server (the default model server, named
// DefaultModelServerName, with one unreachable connection URL listed before
// the working one). The tree holds only the root "Project Root".
func New(opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{
		opts:        opts,
		rng:         rand.New(rand.NewSource(opts.Seed)),
		tickets:     map[string]*ticket{},
		sessions:    map[string]*session{},
		blobServers: map[string]*blobServer{},
		counters:    map[string]int64{},
		injected:    map[string][]int{},
		jobs:        map[string]*job{},
		batches:     map[string]*batch{},
		namespaces:  map[string]*batch{},
		uploads:     map[string]*upload{},
	}
	s.auth = newAuthState()
	s.store = newStore(s.newUUID)
	s.manager = listen(s.managerHandler())
	s.URL = s.manager.url
	s.defaultServer = s.AddModelServer(DefaultModelServerName, 1)
	return s
}

// Close stops the manager and every blob server, cutting open connections.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	bss := make([]*blobServer, 0, len(s.blobServers))
	for _, b := range s.blobServers {
		bss = append(bss, b)
	}
	s.mu.Unlock()
	s.manager.close()
	for _, b := range bss {
		b.l.close()
	}
	s.mu.Lock()
	sp := s.spill
	s.spill = nil
	s.mu.Unlock()
	sp.remove()
}

// SetOptions replaces the options; zero fields take their defaults. The
// fault dice are reseeded only when Seed changes.
func (s *Server) SetOptions(o Options) {
	o = o.withDefaults()
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.Seed != s.opts.Seed {
		s.rng = rand.New(rand.NewSource(o.Seed))
	}
	s.opts = o
}

// Options returns the options in force, with defaults filled in.
func (s *Server) Options() Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.opts
	o.Users = maps.Clone(o.Users)
	return o
}

// Counters returns a snapshot of the request counters. Keys are operation
// names (the last path segment, e.g. "get-resources-by-criterion",
// "get-blob-content", "get-runtime-id", "token") counting every request
// received, plus:
//
//	"get-blob-content.bytes"  content bytes written
//	"fault.503"               injected 503 answers (Rate503 or InjectError)
//	"fault.reset"             aborted content bodies
//	"fault.injected"          answers forced by InjectError
//	"auth.401"                requests refused for a stale or unknown token
//	"unknown-route"           blob-server requests to paths it does not serve
func (s *Server) Counters() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.counters)
}

// ResetCounters zeroes all counters.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.counters)
}

// newUUID returns a lower-case UUID (version 4 layout) from the seeded
// generator, so IDs repeat from run to run. Callers hold s.mu.
func (s *Server) newUUID() string {
	var b [16]byte
	s.rng.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// randomHex returns n random bytes as hex. Callers hold s.mu.
func (s *Server) randomHex(n int) string {
	b := make([]byte, n)
	s.rng.Read(b)
	return fmt.Sprintf("%x", b)
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

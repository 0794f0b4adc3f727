package davserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"
)

// Server is the export listening on its address.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	url  string
	done chan error
}

// Start checks cfg (see Config.Check), reads its certificate and
// htpasswd file, and serves h until Shutdown. Every failure to start
// says why.
func Start(cfg Config, h http.Handler, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	addr, err := cfg.Check()
	if err != nil {
		return nil, err
	}
	var tlsConf *tls.Config
	if cfg.TLS() {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("WebDAV TLS certificate %s and key %s: %w", cfg.CertFile, cfg.KeyFile, err)
		}
		if fi, err := os.Stat(cfg.KeyFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
			log.Warn("the TLS key file can be read by other users; chmod 600 it", "path", cfg.KeyFile)
		}
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	handler := h
	host, _, _ := net.SplitHostPort(addr) // checked by Check
	if IsLoopback(host) && cfg.HtpasswdFile == "" {
		handler = loopbackHostsOnly(handler, log)
	}
	if cfg.HtpasswdFile != "" {
		users, err := LoadHtpasswd(cfg.HtpasswdFile)
		if err != nil {
			return nil, err
		}
		handler = RequireAuth(users, h, log)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("WebDAV listener: %w", err)
	}
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
		ln = tls.NewListener(ln, tlsConf)
	}
	s := &Server{
		srv: &http.Server{
			Handler: accessLog(handler, log),
			// Slow clients may take their time with bodies (a GET of a
			// model over a slow link), not with headers.
			ReadHeaderTimeout: 30 * time.Second,
			IdleTimeout:       5 * time.Minute,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		},
		ln:   ln,
		url:  scheme + "://" + ln.Addr().String() + "/",
		done: make(chan error, 1),
	}
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	log.Info("serving WebDAV", "url", s.url, "tls", tlsConf != nil, "auth", cfg.HtpasswdFile != "")
	return s, nil
}

// URL is the base URL of the export.
func (s *Server) URL() string { return s.url }

// Done delivers the error that stopped serving (nil after Shutdown).
func (s *Server) Done() <-chan error { return s.done }

// Shutdown stops accepting requests and waits, until ctx ends, for those
// in progress: a PUT being uploaded finishes its upload.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// RequireAuth answers 401 to requests without a valid Basic user and
// password. The password never reaches a log; a failed attempt logs the
// user name and the client's address.
func RequireAuth(users *Htpasswd, h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, password, ok := r.BasicAuth()
		if ok && users.Check(user, password) {
			h.ServeHTTP(w, r)
			return
		}
		if ok {
			log.Warn("WebDAV login failed", "user", user, "client", r.RemoteAddr)
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="bimfs", charset="UTF-8"`)
		http.Error(w, "401 Unauthorized: log in with a user of the server's htpasswd file", http.StatusUnauthorized)
	})
}

// loopbackHostsOnly refuses requests that name another host than this
// computer. An export without users trusts whoever reaches it, which on
// loopback is this computer's users — and a web page in their browser
// that rebinds its own host name to 127.0.0.1 (DNS rebinding). Such a
// page's requests still carry its name in Host; a WebDAV client's carry
// localhost or a loopback address.
func loopbackHostsOnly(h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if hh, _, err := net.SplitHostPort(host); err == nil {
			host = hh
		}
		if !IsLoopback(host) {
			log.Warn("refused a WebDAV request for another host name (DNS rebinding?)", "host", r.Host, "client", r.RemoteAddr)
			http.Error(w, "421 Misdirected Request: this server answers only to localhost and loopback addresses", http.StatusMisdirectedRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// accessLog logs every request at debug level: method, path, status and
// time; never headers (they carry credentials and lock tokens).
func accessLog(h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !log.Enabled(r.Context(), slog.LevelDebug) {
			h.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		log.Debug("webdav", "method", r.Method, "path", r.URL.Path, "status", rec.status, "took", time.Since(start).Round(time.Millisecond))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController and io.Copy's ReaderFrom reach the
// connection's writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

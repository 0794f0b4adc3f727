package davfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"

	"golang.org/x/net/webdav"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/remote"
)

// Options configures a Handler.
type Options struct {
	// Prefix is the URL path the tree is served under; "" serves it at /.
	Prefix string
	// InfiniteDepth allows PROPFIND with "Depth: infinity" (or without a
	// Depth header, which means the same). Refused by default with 403
	// and DAV:propfind-finite-depth (RFC 4918 9.1): it lists every folder
	// of every account, one service call per folder.
	InfiniteDepth bool
	// Logger receives one debug line per failed request. Nil discards.
	Logger *slog.Logger
}

// Handler serves the core over WebDAV: GET and HEAD with ranges, PROPFIND,
// PUT, MKCOL, DELETE, COPY, MOVE, LOCK and UNLOCK (in-memory locks, which
// Windows and Office need before they write).
//
// Around the protocol layer (golang.org/x/net/webdav) it adds:
//   - statuses from the one table: when the protocol layer answers a
//     failure with its coarse status (404, 405, 403, 500 …), the core's
//     error recorded during the request decides the status instead, and
//     the body says why ("502 Bad Gateway: cannot move between services,
//     accounts or projects"). A NotFound keeps the protocol layer's
//     choice, which tells 404 (no such resource) from 409 (no parent);
//   - Content-Type from the extension on GET and HEAD, so no file is read
//     to guess it;
//   - If-Match on PUT and DELETE (412 when the file changed since);
//   - Overwrite "T" when a COPY or MOVE has no Overwrite header, as RFC
//     4918 says (the protocol layer assumes "F" for MOVE);
//   - the Depth limit of PROPFIND (Options.InfiniteDepth).
type Handler struct {
	dav  *webdav.Handler
	fsys *FileSystem
	opts Options
	log  *slog.Logger
}

// NewHandler returns the WebDAV handler of core. Locks live in memory for
// the handler's life.
func NewHandler(core *fs.FS, opts Options) *Handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{fsys: NewFileSystem(core), opts: opts, log: log}
	h.dav = &webdav.Handler{
		Prefix:     strings.TrimRight(opts.Prefix, "/"),
		FileSystem: h.fsys,
		LockSystem: webdav.NewMemLS(),
		Logger: func(r *http.Request, err error) {
			if err != nil {
				// The core logged the cause; this names the request.
				log.Debug("webdav request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
		},
	}
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := &requestState{method: r.Method}
	r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
	name, inTree := h.treePath(r.URL.Path)
	switch r.Method {
	case "PROPFIND":
		if d := strings.ToLower(strings.TrimSpace(r.Header.Get("Depth"))); (d == "" || d == "infinity") && !h.opts.InfiniteDepth {
			w.Header().Set("Content-Type", "application/xml; charset=utf-8")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `<?xml version="1.0" encoding="utf-8"?>`+"\n"+
				`<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>`+"\n")
			return
		}
	case http.MethodGet, http.MethodHead:
		if inTree {
			// Set before the protocol layer runs: http.ServeContent
			// would otherwise read the start of a file with an unknown
			// extension to guess its type.
			w.Header().Set("Content-Type", ContentType(name))
		}
	case "COPY", "MOVE":
		if r.Header.Get("Overwrite") == "" {
			// RFC 4918 10.6: no Overwrite header means "T"; the
			// protocol layer takes a missing one as "F" for MOVE.
			r.Header.Set("Overwrite", "T")
		}
		if r.Header.Get("Overwrite") != "F" {
			if u, err := url.Parse(r.Header.Get("Destination")); err == nil {
				if dst, ok := h.treePath(u.Path); ok && inTree {
					st.replaceSrc, st.replaceDst = name, dst
				}
			}
		}
	case http.MethodPut, http.MethodDelete:
		if r.Method == http.MethodPut && r.Body != nil {
			r.Body = &bodyWatch{ReadCloser: r.Body, st: st}
		}
		if match := r.Header.Get("If-Match"); match != "" && inTree {
			if status, msg := h.checkIfMatch(r.Context(), name, match); status != 0 {
				writeStatus(w, status, msg)
				return
			}
		}
	}
	sw := &statusWriter{ResponseWriter: w, st: st}
	h.dav.ServeHTTP(sw, r)
}

// treePath is the cleaned path in the tree of URL path p, and whether p
// is below the prefix.
func (h *Handler) treePath(p string) (string, bool) {
	prefix := h.dav.Prefix
	if prefix != "" {
		rest, ok := strings.CutPrefix(p, prefix)
		if !ok || (rest != "" && rest[0] != '/') {
			return "", false
		}
		p = rest
	}
	return path.Clean("/" + p), true
}

// checkIfMatch answers a PUT or DELETE whose If-Match names another
// version than the current one (or any version of a missing file) with
// 412, so a client that read a file does not overwrite a newer version
// it never saw.
func (h *Handler) checkIfMatch(ctx context.Context, name, match string) (int, string) {
	n, err := h.fsys.core.Resolve(ctx, name)
	if err != nil {
		if remote.IsKind(err, remote.NotFound) {
			return http.StatusPreconditionFailed, "the file does not exist"
		}
		return Status(err), reason(err)
	}
	if strings.TrimSpace(match) == "*" {
		return 0, ""
	}
	f, ok := n.(*fs.File)
	if !ok {
		return 0, ""
	}
	f.Refresh()
	current := ETag(f.Attr())
	for _, tag := range strings.Split(match, ",") {
		if strings.TrimSpace(tag) == current {
			return 0, ""
		}
	}
	return http.StatusPreconditionFailed, "the file changed: its current ETag is " + current
}

// statusWriter rewrites the protocol layer's failure statuses with the
// table's status and a body that says why (see Handler).
type statusWriter struct {
	http.ResponseWriter
	st        *requestState
	swallow   bool // the protocol layer's own error body is dropped
	wroteHead bool
}

func (s *statusWriter) WriteHeader(code int) {
	if s.wroteHead {
		return
	}
	s.wroteHead = true
	if code >= 400 {
		if err := s.st.failure(); err != nil && !remote.IsKind(err, remote.NotFound) {
			writeStatus(s.ResponseWriter, Status(err), reason(err))
			s.swallow = true
			return
		}
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if !s.wroteHead {
		s.WriteHeader(http.StatusOK)
	}
	if s.swallow {
		return len(p), nil
	}
	return s.ResponseWriter.Write(p)
}

// copyBuffers hold the 1 MiB buffers GET responses are copied with: 32
// times fewer reads of the core and writes to the connection than the 32
// KiB io.Copy would use.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// ReadFrom copies a response body (http.ServeContent copies through it).
func (s *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if !s.wroteHead {
		s.WriteHeader(http.StatusOK)
	}
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	return io.CopyBuffer(writerOnly{s}, r, *buf)
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// writerOnly hides ReadFrom so io.CopyBuffer uses the buffer.
type writerOnly struct{ io.Writer }

// writeStatus answers with status and a plain-text body that says why.
func writeStatus(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	for _, k := range []string{"Content-Type", "ETag", "Last-Modified", "Content-Length", "Content-Range"} {
		h.Del(k)
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintf(w, "%d %s: %s\n", status, http.StatusText(status), msg)
}

// reason is what a client is told about err: the core's own sentinel
// text, or the kind and message of a remote error. Wrapped transport
// errors stay out: they may carry signed URLs.
func reason(err error) string {
	for _, l := range localStatuses {
		if errors.Is(err, l.err) {
			return l.err.Error()
		}
	}
	var re *remote.Error
	if errors.As(err, &re) {
		if re.Message != "" {
			return re.Kind.String() + ": " + re.Message
		}
		return re.Kind.String()
	}
	return "internal error (see the server log)"
}

package emulator

import (
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// blobServer is the HTTP face of one model server.
type blobServer struct {
	id        string // the model server's resource ID
	runtimeID string
	l         *listener
	deadPorts []int
}

// session is a blob-server session; it belongs to one model server.
type session struct {
	modelServerID, userID string
	created, lastAccess   time.Time
	exp                   time.Time
}

// AddModelServer starts a blob server and registers a model-server resource
// named name under "Server Root". Its connectionUrls list deadURLs templates
// for closed loopback ports first, then the working one, all as
// "$protocol//$hostname:PORT".
func (s *Server) AddModelServer(name string, deadURLs int) (modelServerID string) {
	s.mu.Lock()
	id := s.newUUID()
	b := &blobServer{id: id, runtimeID: s.newUUID()}
	s.mu.Unlock()

	b.l = listen(s.blobHandler(b))
	var urls []string
	for range deadURLs {
		port := closedLoopbackPort()
		b.deadPorts = append(b.deadPorts, port)
		urls = append(urls, fmt.Sprintf("$protocol//$hostname:%d", port))
	}
	urls = append(urls, "$protocol//$hostname:"+b.l.url[strings.LastIndexByte(b.l.url, ':')+1:])

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		b.l.close()
		panic("emulator: AddModelServer after Close")
	}
	n := &node{id: id, typ: typeModelServer, name: name, modified: time.Now(), connectionURLs: urls}
	s.store.add(s.store.serverRoot, n)
	s.blobServers[id] = b
	return id
}

// BlobServerURL returns the working base URL of a model server's blob
// server (http://127.0.0.1:PORT), for tests that skip URL probing.
func (s *Server) BlobServerURL(modelServerID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.blobServers[modelServerID]; b != nil {
		return b.l.url
	}
	return ""
}

// DefaultModelServer returns the ID of the model server New created.
func (s *Server) DefaultModelServer() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.defaultServer
}

func (s *Server) blobHandler(b *blobServer) http.Handler {
	mux := http.NewServeMux()
	op := func(name string, h func(http.ResponseWriter, *http.Request, *blobServer, Options)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			o, ok := s.admit(w, r, name)
			if !ok || s.injectedFault(w, name, sideBlob) {
				return
			}
			h(w, r, b, o)
		}
	}
	// Not in the spec; the vendor demo probes connection URLs with it and
	// checks only for a 2xx status.
	mux.HandleFunc("GET /application-server-service/get-runtime-id", op("get-runtime-id", s.handleRuntimeID))
	mux.HandleFunc("POST /session-service/1.0/create-session", op("create-session", s.handleCreateSession))
	mux.HandleFunc("GET /session-service/1.0/get-session", op("get-session", s.handleGetSession))
	mux.HandleFunc("POST /session-service/1.0/close-session", op("close-session", s.handleCloseSession))
	mux.HandleFunc("GET /blob-store-service/1.0/get-blob-content", op("get-blob-content", s.handleBlobContent))
	s.registerUploads(mux, op)
	// The vendor demo notes that the model server answers unknown paths with
	// 200 and a non-JSON body "for legacy reasons"; a client must treat a
	// non-JSON 200 as an error.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.counters["unknown-route"]++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = fmt.Fprint(w, "<!DOCTYPE html><html><body>BIMcloud</body></html>")
	})
	return mux
}

func (s *Server) handleRuntimeID(w http.ResponseWriter, _ *http.Request, b *blobServer, _ Options) {
	writeJSON(w, http.StatusOK, ctJSON, map[string]string{"runtime-id": b.runtimeID})
}

// sessionJSON is BlobServerSessionResponse; times are unix seconds.
type sessionJSON struct {
	ID             string `json:"id"`
	LastAccessTime int64  `json:"last-access-time"`
	ExpirationTime int64  `json:"expiration-time"`
	CreationTime   int64  `json:"creation-time"`
}

func sessionBody(id string, ss *session) envelope {
	return envelope{DataContentType: ctSession, Data: sessionJSON{
		ID: id, LastAccessTime: ss.lastAccess.Unix(), ExpirationTime: ss.exp.Unix(), CreationTime: ss.created.Unix(),
	}}
}

type authRequest struct {
	DataContentType string `json:"data-content-type"`
	Data            struct {
		Username string `json:"username"`
		Ticket   string `json:"ticket"`
	} `json:"data"`
}

// handleCreateSession serves POST session-service/1.0/create-session.
func (s *Server) handleCreateSession(w http.ResponseWriter, r *http.Request, b *blobServer, o Options) {
	const op = "session-service-create-session"
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != ctAuthRequest {
		writeBlobError(w, StatusBIMcloudError, op, BlobErrGeneric, "Content-Type must be "+ctAuthRequest)
		return
	}
	var req authRequest
	if err := readJSON(r, &req); err != nil {
		writeBlobError(w, StatusBIMcloudError, op, BlobErrGeneric, "invalid request body: "+err.Error())
		return
	}
	now := time.Now()
	s.mu.Lock()
	t := s.tickets[req.Data.Ticket]
	var fail string
	switch {
	case t == nil:
		fail = "Authentication failed: unknown access control ticket."
	case t.modelServerID != b.id:
		fail = "Authentication failed: the ticket was issued for another server."
	case s.usernameOf(t.userID) != req.Data.Username:
		fail = "Authentication failed: the ticket was issued for another user."
	}
	if fail != "" {
		s.mu.Unlock()
		writeBlobError(w, http.StatusUnauthorized, op, BlobErrAuthenticationFailed, fail)
		return
	}
	if !now.Before(t.exp) {
		s.mu.Unlock()
		writeBlobError(w, StatusBIMcloudError, op, BlobErrAccessControlTicketExpired, "Authentication failed: access control ticket is expired.")
		return
	}
	id := s.randomHex(16)
	ss := &session{modelServerID: b.id, userID: t.userID, created: now, lastAccess: now, exp: now.Add(o.SessionLifetime)}
	s.sessions[id] = ss
	body := sessionBody(id, ss)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, ctSession, body)
}

// useSession validates and extends a session. Callers hold s.mu.
func (s *Server) useSession(id string, b *blobServer, o Options) *session {
	ss := s.sessions[id]
	now := time.Now()
	if ss == nil || ss.modelServerID != b.id || !now.Before(ss.exp) {
		return nil
	}
	ss.lastAccess = now
	ss.exp = now.Add(o.SessionLifetime)
	return ss
}

// handleGetSession serves GET session-service/1.0/get-session.
func (s *Server) handleGetSession(w http.ResponseWriter, r *http.Request, b *blobServer, o Options) {
	id := r.URL.Query().Get("session-id")
	s.mu.Lock()
	ss := s.useSession(id, b, o)
	var body envelope
	if ss != nil {
		body = sessionBody(id, ss)
	}
	s.mu.Unlock()
	if ss == nil {
		writeSessionNotFound(w, "session-service-get-session")
		return
	}
	writeJSON(w, http.StatusOK, ctSession, body)
}

// handleCloseSession serves POST session-service/1.0/close-session.
func (s *Server) handleCloseSession(w http.ResponseWriter, r *http.Request, b *blobServer, o Options) {
	id := r.URL.Query().Get("session-id")
	s.mu.Lock()
	ss := s.useSession(id, b, o)
	if ss != nil {
		delete(s.sessions, id)
	}
	s.mu.Unlock()
	if ss == nil {
		writeSessionNotFound(w, "session-service-close-session")
		return
	}
	w.WriteHeader(http.StatusOK)
}

// ExpireTickets makes every ticket issued so far expired: create-session
// with one fails with 430, blob error 4 (AccessControlTicketExpired).
func (s *Server) ExpireTickets() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := time.Now().Add(-time.Second)
	for _, t := range s.tickets {
		t.exp = past
	}
}

// ExpireSessions ends every open blob-server session: the next call with
// one fails with 430, blob error 11 (SessionNotFound).
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := time.Now().Add(-time.Second)
	for _, ss := range s.sessions {
		ss.exp = past
	}
}

// handleBlobContent serves GET blob-store-service/1.0/get-blob-content.
func (s *Server) handleBlobContent(w http.ResponseWriter, r *http.Request, b *blobServer, o Options) {
	const op = "blob-store-service-get-blob-content"
	q := r.URL.Query()
	s.mu.Lock()
	ss := s.useSession(q.Get("session-id"), b, o)
	n := s.store.nodes[q.Get("blob-id")]
	var c Content
	var etag string
	if n != nil && n.typ == typeBlob && n.modelServerID == b.id {
		c = n.content
		etag = fmt.Sprintf(`"%s.%d"`, n.id, n.contentRev)
	}
	s.mu.Unlock()
	switch {
	case ss == nil:
		writeSessionNotFound(w, op)
		return
	case c == nil:
		writeBlobError(w, StatusBIMcloudError, op, BlobErrBlobNotFound, "Blob not found: "+q.Get("blob-id"))
		return
	}

	size := c.Size()
	off, n64, partial := int64(0), size, false
	if o.RangeSupport {
		// Other units and multiple ranges are ignored (RFC 9110 §14.2 lets
		// a server do so): the full body follows with 200.
		if rs := r.Header.Get("Range"); strings.HasPrefix(rs, "bytes=") && !strings.Contains(rs, ",") {
			start, end, ok := parseRange(rs, size)
			if !ok {
				w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
				w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
				return
			}
			off, n64, partial = start, end-start+1, true
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, size))
		}
	}
	h := w.Header()
	h.Set("Content-Type", ctOctetStream)
	h.Set("Content-Length", strconv.FormatInt(n64, 10))
	if o.RevisionHeader {
		// Deviation: the spec declares no response headers here.
		h.Set("ETag", etag)
	}
	if name := q.Get("filename"); name != "" {
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	}
	status := http.StatusOK
	if partial {
		// Deviation: 206 is not in the spec; only with Options.RangeSupport.
		status = http.StatusPartialContent
	}
	s.stream(w, r, status, c, off, n64, o)
}

// parseRange parses one "bytes=a-b", "bytes=a-" or "bytes=-n" range;
// ok=false means unsatisfiable or malformed.
func parseRange(h string, size int64) (start, end int64, ok bool) {
	spec := strings.TrimPrefix(h, "bytes=")
	a, z, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false
	}
	var err error
	switch {
	case a == "":
		n, err := strconv.ParseInt(z, 10, 64)
		if err != nil || n <= 0 || size == 0 {
			return 0, 0, false
		}
		return max(0, size-n), size - 1, true
	default:
		if start, err = strconv.ParseInt(a, 10, 64); err != nil || start < 0 || start >= size {
			return 0, 0, false
		}
		end = size - 1
		if z != "" {
			if end, err = strconv.ParseInt(z, 10, 64); err != nil || end < start {
				return 0, 0, false
			}
			end = min(end, size-1)
		}
		return start, end, true
	}
}

// Session opens a blob-server session on modelServerID for the default
// user without the ticket exchange, for benchmarks that measure the blob
// server alone (bimcloud.RawUpload). It lasts SessionLifetime like any
// other.
func (s *Server) Session(modelServerID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blobServers[modelServerID] == nil {
		panic(fmt.Sprintf("emulator: unknown model server %q", modelServerID))
	}
	now := time.Now()
	id := s.randomHex(16)
	s.sessions[id] = &session{modelServerID: modelServerID, userID: userID(s.defaultUsername()), created: now, lastAccess: now,
		exp: now.Add(s.opts.SessionLifetime)}
	return id
}

package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
)

// class says how an endpoint authenticates and fails.
type class int

const (
	classAPI  class = iota // bearer token; JSON errors
	classAuth              // OAuth endpoints; no bearer
	classS3                // signature in the URL; XML errors
)

// call is what the middleware hands to a handler.
type call struct {
	op    string
	token *accessToken // nil for classAuth and classS3
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern, op string, cl class, fn handlerFunc) {
		mux.Handle(pattern, s.wrap(op, cl, fn))
	}
	// Authentication v2.
	h("GET /authentication/v2/authorize", OpAuthorize, classAuth, s.handleAuthorize)
	h("POST /authentication/v2/token", OpToken, classAuth, s.handleToken)
	h("POST /authentication/v2/revoke", OpRevoke, classAuth, s.handleRevoke)

	// Data Management: project and data APIs.
	h("GET /project/v1/hubs", OpHubs, classAPI, s.handleHubs)
	h("GET /project/v1/hubs/{hub_id}/projects", OpProjects, classAPI, s.handleProjects)
	h("GET /project/v1/hubs/{hub_id}/projects/{project_id}/topFolders", OpTopFolders, classAPI, s.handleTopFolders)
	h("GET /data/v1/projects/{project_id}/folders/{folder_id}", OpFolder, classAPI, s.handleFolder)
	h("GET /data/v1/projects/{project_id}/folders/{folder_id}/contents", OpFolderContents, classAPI, s.handleFolderContents)
	h("GET /data/v1/projects/{project_id}/items/{item_id}", OpItem, classAPI, s.handleItem)
	h("GET /data/v1/projects/{project_id}/items/{item_id}/tip", OpItemTip, classAPI, s.handleItemTip)
	h("GET /data/v1/projects/{project_id}/items/{item_id}/versions", OpItemVersions, classAPI, s.handleItemVersions)
	h("GET /data/v1/projects/{project_id}/versions/{version_id}", OpVersion, classAPI, s.handleVersion)

	// Data Management writes.
	h("POST /data/v1/projects/{project_id}/storage", OpCreateStorage, classAPI, s.handleCreateStorage)
	h("POST /data/v1/projects/{project_id}/items", OpCreateItem, classAPI, s.handleCreateItem)
	h("POST /data/v1/projects/{project_id}/versions", OpCreateVersion, classAPI, s.handleCreateVersion)
	h("POST /data/v1/projects/{project_id}/folders", OpCreateFolder, classAPI, s.handleCreateFolder)
	h("PATCH /data/v1/projects/{project_id}/folders/{folder_id}", OpPatchFolder, classAPI, s.handlePatchFolder)
	h("POST /data/v1/projects/{project_id}/commands", OpCommand, classAPI, s.handleCommand)

	// OSS.
	h("GET /oss/v2/buckets/{bucketKey}/objects/{objectKey}/signeds3download", OpSignedDownload, classAPI, s.handleSignedDownload)
	h("GET /oss/v2/signedresources/{hash}", OpOSSSigned, classS3, s.handleSignedResource)
	h("GET /oss/v2/buckets/{bucketKey}/objects/{objectKey}/signeds3upload", OpSignedUpload, classAPI, s.handleSignedUpload)
	h("POST /oss/v2/buckets/{bucketKey}/objects/{objectKey}/signeds3upload", OpCompleteUpload, classAPI, s.handleCompleteUpload)

	// The S3-like store behind signed URLs.
	h("GET /s3/{bucket}/{key}", OpS3Get, classS3, s.handleS3Get)
	h("PUT /s3/{bucket}/{key}", OpS3Put, classS3, s.handleS3Put)

	// Data Connector, Assets, Locations and Relationship APIs: the same
	// authentication, counters and faults as the rest of the host.
	sub := func(pattern, op string, public bool, fn http.HandlerFunc) {
		cl := classAPI
		if public {
			cl = classS3
		}
		h(pattern, op, cl, func(w http.ResponseWriter, r *http.Request, _ *call) { fn(w, r) })
	}
	s.DataConnector.Routes(sub)
	s.Assets.Routes(sub)

	mux.Handle("/", s.wrap(OpNotFound, classAPI, func(w http.ResponseWriter, r *http.Request, c *call) {
		writeDMError(w, http.StatusNotFound, "NOT_FOUND", "Not Found", "No such resource: "+r.URL.Path)
	}))
	return mux
}

// wrap applies, in order: counting, the observer hook, latency, injected
// faults, authentication and rate limits.
func (s *Server) wrap(op string, cl class, fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.count(op)
		s.mu.Lock()
		opts, observe := s.opts, s.observe
		s.mu.Unlock()

		if observe != nil && cl != classS3 {
			s.mu.Lock()
			s.inflight++
			s.mu.Unlock()
			defer func() {
				s.mu.Lock()
				s.inflight--
				s.mu.Unlock()
			}()
			rec := &recorder{ResponseWriter: w, status: http.StatusOK}
			var reqBody []byte
			if r.Body != nil {
				reqBody, _ = io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(reqBody))
			}
			defer func() {
				if rec.wrote { // nothing was served if the client left first
					observe(exchange{op: op, req: r, reqBody: reqBody, status: rec.status, header: rec.Header().Clone(), body: rec.buf.Bytes()})
				}
			}()
			w = rec
		}

		if !sleepCtx(r.Context(), opts.Latency) {
			return
		}
		c := &call{op: op}
		if op != OpAuthorize && op != OpNotFound && s.injectFault(w, cl, opts) {
			return
		}
		if cl == classAPI && op != OpNotFound {
			tok, ok := s.authenticate(w, r)
			if !ok {
				return
			}
			c.token = tok
			if need := requiredScope[op]; need != "" && !hasScope(tok.scope, need) {
				writeAuthError(w, http.StatusForbidden, "AUTH-012", "The token does not have the "+need+" scope.")
				return
			}
		}
		if opts.RateLimits {
			if l, ok := rateLimits[op]; ok {
				key := l.group
				if c.token != nil {
					key = c.token.clientID + "|" + key
				}
				if ok, wait := s.faults.take(key, l.perMinute, s.now(), opts.RateWindow); !ok {
					writeQuotaExceeded(w, retryAfterSeconds(wait))
					return
				}
			}
		}
		fn(w, r, c)
	})
}

// injectFault answers the request with a random 429 or 503 if the dice say
// so, and reports whether it did.
func (s *Server) injectFault(w http.ResponseWriter, cl class, opts Options) bool {
	switch {
	case s.faults.roll(opts.Rate429):
		if cl == classS3 {
			writeS3Error(w, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.", nil)
			return true
		}
		secs := 1
		if opts.RetryAfter > 0 {
			secs = retryAfterSeconds(opts.RetryAfter)
		}
		writeQuotaExceeded(w, secs)
		return true
	case s.faults.roll(opts.Rate503):
		if cl == classS3 {
			writeS3Error(w, http.StatusServiceUnavailable, "ServiceUnavailable", "Service is unable to handle request.", nil)
			return true
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"developerMessage": "Service Unavailable"})
		return true
	}
	return false
}

// writeQuotaExceeded sends the APS gateway's 429 answer.
func writeQuotaExceeded(w http.ResponseWriter, retryAfter int) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	writeJSON(w, http.StatusTooManyRequests, map[string]string{"developerMessage": "Quota limit exceeded."})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// exchange is one request and the emulator's answer, for the test observer.
type exchange struct {
	op      string
	req     *http.Request
	reqBody []byte
	status  int
	header  http.Header
	body    []byte
}

// recorder tees a response for the observer.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	buf    bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	r.buf.Write(p)
	return r.ResponseWriter.Write(p)
}

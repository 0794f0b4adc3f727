package emulator

import (
	"net/http"
	"time"
)

// side selects the error table an injected error is written with.
type side int

const (
	sideManager side = iota
	sideBlob
	sideOAuth // oauth2/authorize and oauth2/token, whose errors are OauthError bodies
)

// InjectError makes the next `times` calls of endpoint op fail. op is the
// operation name as in Counters ("get-resource", "get-resources-by-criterion",
// "get-ticket", "get-blob-changes-for-sync", "create-session",
// "get-blob-content", …). A code below 100 is answered as HTTP 430 with that
// error code from the manager's table (manager endpoints) or the blob
// server's table (blob-server endpoints, in the detailed-error envelope);
// oauth2/authorize and oauth2/token answer 500 OauthError with the code as
// "inner". A code of 100 or more is answered as that HTTP status instead:
// 401 carries {"error":"invalid_token"} on the manager, 503 has no body,
// other statuses on the OAuth endpoints carry {"error":"server_error"}. Calls that injected
// errors prevent are not otherwise served. Injections queue up in order.
func (s *Server) InjectError(op string, code int, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range times {
		s.injected[op] = append(s.injected[op], code)
	}
}

// oauthOps are spared by Rate503: the spec declares no 503 for them, and a
// login that fails at random only slows tests down. InjectError can still
// make them fail.
var oauthOps = map[string]bool{"authorize": true, "get-authorization-code-by-state": true, "token": true}

// admit is the prologue every endpoint runs: count the call, wait the
// configured latency and roll the 503 dice. It reports false when the
// request has been answered (or abandoned by the client) already.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, op string) (Options, bool) {
	s.mu.Lock()
	s.counters[op]++
	o := s.opts
	s.mu.Unlock()
	if err := sleepCtx(r.Context(), o.Latency); err != nil {
		return o, false
	}
	if o.Rate503 > 0 && !oauthOps[op] {
		s.mu.Lock()
		fail := s.rng.Float64() < o.Rate503
		if fail {
			s.counters["fault.503"]++
		}
		s.mu.Unlock()
		if fail {
			// The spec declares a bare 503 ("retry the request later") for the
			// manager's resource endpoints. Blob-server endpoints declare none;
			// a proxy in front of a busy server answers the same way.
			w.WriteHeader(http.StatusServiceUnavailable)
			return o, false
		}
	}
	return o, true
}

// injectedFault answers the request with the next injected error for op, if
// any, and reports whether it did.
func (s *Server) injectedFault(w http.ResponseWriter, op string, sd side) bool {
	s.mu.Lock()
	q := s.injected[op]
	if len(q) == 0 {
		s.mu.Unlock()
		return false
	}
	code := q[0]
	if len(q) == 1 {
		delete(s.injected, op)
	} else {
		s.injected[op] = q[1:]
	}
	s.counters["fault.injected"]++
	if code == http.StatusServiceUnavailable {
		s.counters["fault.503"]++
	}
	s.mu.Unlock()

	switch {
	case code == http.StatusUnauthorized && sd != sideBlob:
		writeOauthError(w, code, "invalid_token", "injected by the emulator")
	case code >= 100 && sd == sideOAuth && code != http.StatusServiceUnavailable:
		writeOauthError(w, code, "server_error", "injected by the emulator")
	case code >= 100:
		w.WriteHeader(code)
	case sd == sideOAuth:
		// The spec's OauthError carries the manager error as "inner".
		name := managerErrorNames[code]
		writeJSON(w, http.StatusInternalServerError, ctJSON, oauthError{
			Error: "server_error", Description: "injected by the emulator",
			Inner: &managerError{Code: code, Message: name + ": injected by the emulator"},
		})
	case sd == sideManager:
		writeManagerError(w, code, "injected by the emulator")
	default:
		status := StatusBIMcloudError
		if op == "create-session" && code == BlobErrAuthenticationFailed {
			status = http.StatusUnauthorized
		}
		writeBlobError(w, status, op, code, "injected by the emulator")
	}
	return true
}

// streamChunk is the write size for content; small enough that throttling
// is smooth and an abort lands mid-body.
const streamChunk = 64 << 10

// stream writes n bytes of c from off, honouring BytesPerSecond and
// RateReset. Headers must be set already; stream writes the status.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, status int, c Content, off, n int64, o Options) {
	cut := int64(-1)
	if o.RateReset > 0 && n > 0 {
		s.mu.Lock()
		if s.rng.Float64() < o.RateReset {
			cut = s.rng.Int63n(n)
		}
		s.mu.Unlock()
	}
	w.WriteHeader(status)
	chunk := int64(streamChunk)
	if o.BytesPerSecond > 0 {
		// Aim for ~20 writes a second so a throttled stream is not bursty.
		chunk = max(1024, min(chunk, o.BytesPerSecond/20))
	}
	buf := make([]byte, chunk)
	start := time.Now()
	var sent int64
	for sent < n {
		want := min(chunk, n-sent)
		if cut >= 0 && sent+want > cut {
			want = cut - sent
		}
		if want > 0 {
			m, err := c.ReadAt(buf[:want], off+sent)
			if m < int(want) {
				// Content shorter than it claims: a bug in the caller's Content.
				panic("emulator: content read short: " + errString(err))
			}
			if _, err := w.Write(buf[:want]); err != nil {
				return // client went away
			}
			sent += want
			s.mu.Lock()
			s.counters["get-blob-content.bytes"] += want
			s.mu.Unlock()
		}
		if cut >= 0 && sent >= cut {
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			s.mu.Lock()
			s.counters["fault.reset"]++
			s.mu.Unlock()
			// Makes net/http drop the connection without logging: the client
			// sees a body shorter than Content-Length.
			panic(http.ErrAbortHandler)
		}
		if o.BytesPerSecond > 0 {
			due := time.Duration(float64(sent) / float64(o.BytesPerSecond) * float64(time.Second))
			if err := sleepCtx(r.Context(), due-time.Since(start)); err != nil {
				return
			}
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

package emulator

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// OSS limits on minutesExpiration (oss.yaml signeds3download).
const (
	defaultURLMinutes = 2
	maxURLMinutes     = 60
)

// signeds3downloadResponse is the spec's signeds3download_response.
type signeds3downloadResponse struct {
	Status string            `json:"status"`
	URL    string            `json:"url,omitempty"`
	URLs   map[string]string `json:"urls,omitempty"`
	Params map[string]string `json:"params"`
	Size   int64             `json:"size"`
	SHA1   string            `json:"sha1,omitempty"`
}

// signedResource is an OSS signed URL handed out in a "fallback" answer.
type signedResource struct {
	obj     *object
	expires time.Time
}

// writeOSSError sends OSS's loosely specified error body, {"reason": …}.
func writeOSSError(w http.ResponseWriter, status int, reason string) {
	writeJSON(w, status, map[string]string{"reason": reason})
}

// handleSignedDownload implements
// GET /oss/v2/buckets/{bucketKey}/objects/{objectKey}/signeds3download.
func (s *Server) handleSignedDownload(w http.ResponseWriter, r *http.Request, _ *call) {
	opts := s.Options()
	q := r.URL.Query()
	minutes := defaultURLMinutes
	if v := q.Get("minutesExpiration"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxURLMinutes {
			writeOSSError(w, http.StatusBadRequest, "minutesExpiration must be an integer from 1 to 60")
			return
		}
		minutes = n
	}
	fallback, ok := boolParam(q, "public-resource-fallback")
	if _, ok2 := boolParam(q, "useCdn"); !ok || !ok2 {
		writeOSSError(w, http.StatusBadRequest, "public-resource-fallback and useCdn must be true or false")
		return
	}
	lifetime := time.Duration(minutes) * time.Minute
	if opts.URLLifetime > 0 {
		lifetime = opts.URLLifetime
	}

	bucket, key := r.PathValue("bucketKey"), r.PathValue("objectKey")
	s.st.mu.RLock()
	o := s.st.objects[bucket+"/"+key]
	var chunkSize int64
	if o != nil {
		chunkSize = o.chunkSize
	}
	s.st.mu.RUnlock()
	if o == nil {
		writeOSSError(w, http.StatusNotFound, "Object not found")
		return
	}
	sha, etag := o.digests()
	if inm := r.Header.Get("If-None-Match"); inm != "" && (inm == etag || `"`+inm+`"` == etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !o.created.Truncate(time.Second).After(t) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}

	// Response header overrides travel inside the signed URL, as with S3.
	extra := url.Values{}
	params := map[string]string{
		"content-type":        o.contentType,
		"content-disposition": fmt.Sprintf("attachment; filename=%q", o.name),
	}
	for _, p := range []string{"content-type", "content-disposition", "cache-control"} {
		if v := q.Get("response-" + p); v != "" {
			extra.Set("response-"+p, v)
			params[p] = v
		}
	}

	size := o.content.Size()
	resp := signeds3downloadResponse{Status: "complete", Params: params, Size: size, SHA1: sha}
	switch {
	case chunkSize <= 0:
		resp.URL = s.signURL(http.MethodGet, o.bucket, o.key, extra, lifetime)
	case fallback:
		resp.Status = "fallback"
		resp.URL = s.signResource(o, lifetime)
	default:
		resp.Status = "chunked"
		resp.URLs = map[string]string{}
		for lo := int64(0); lo < size; lo += chunkSize {
			hi := min(lo+chunkSize, size) - 1
			part := url.Values{}
			for k, v := range extra {
				part[k] = v
			}
			rng := fmt.Sprintf("%d-%d", lo, hi)
			part.Set("partRange", rng)
			resp.URLs[rng] = s.signURL(http.MethodGet, o.bucket, o.key, part, lifetime)
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// signResource registers an OSS signed URL for o.
func (s *Server) signResource(o *object, lifetime time.Duration) string {
	hash := randomToken(24)
	s.mu.Lock()
	s.signedRes[hash] = signedResource{obj: o, expires: s.nowLocked().Add(lifetime)}
	s.mu.Unlock()
	return s.URL + "/oss/v2/signedresources/" + hash + "?region=US"
}

// handleSignedResource implements GET /oss/v2/signedresources/{hash}: no
// bearer token, Range supported, bodies typed application/octet-stream as
// the spec declares.
func (s *Server) handleSignedResource(w http.ResponseWriter, r *http.Request, _ *call) {
	s.mu.Lock()
	res, ok := s.signedRes[r.PathValue("hash")]
	now := s.nowLocked()
	s.mu.Unlock()
	switch {
	case !ok:
		writeOSSError(w, http.StatusNotFound, "Signed resource not found")
		return
	case !now.Before(res.expires):
		writeOSSError(w, http.StatusForbidden, "Signed URL has expired")
		return
	}
	s.serveObject(w, r, res.obj, 0, res.obj.content.Size(), "", "application/octet-stream", func(status int, code, msg string, _ map[string]string) {
		writeOSSError(w, status, msg)
	})
}

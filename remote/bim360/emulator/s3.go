package emulator

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Signed S3 URLs look like presigned AWS Signature V4 URLs:
//
//	http://127.0.0.1:PORT/s3/<bucketKey>/<objectKey>?X-Amz-Algorithm=AWS4-HMAC-SHA256
//	    &X-Amz-Credential=…&X-Amz-Date=20060102T150405Z&X-Amz-Expires=<seconds>
//	    &X-Amz-SignedHeaders=host[&partRange=a-b][&response-content-…]&X-Amz-Signature=<hex>
//
// The signature is an HMAC over the method, path and every other query
// parameter, so a URL works only unchanged and only for the method it was
// made for.

const amzDate = "20060102T150405Z"

func s3Path(bucket, key string) string {
	return "/s3/" + url.PathEscape(bucket) + "/" + url.PathEscape(key)
}

// signURL returns a signed URL for method on bucket/key valid for lifetime
// (rounded up to whole seconds) from the emulator's now.
func (s *Server) signURL(method, bucket, key string, extra url.Values, lifetime time.Duration) string {
	now := s.now().UTC()
	q := url.Values{}
	for k, v := range extra {
		q[k] = v
	}
	q.Set("X-Amz-Algorithm", "AWS4-HMAC-SHA256")
	q.Set("X-Amz-Credential", "EMULATOR/"+now.Format("20060102")+"/us-east-1/s3/aws4_request")
	q.Set("X-Amz-Date", now.Format(amzDate))
	q.Set("X-Amz-Expires", strconv.Itoa(retryAfterSeconds(lifetime)))
	q.Set("X-Amz-SignedHeaders", "host")
	p := s3Path(bucket, key)
	q.Set("X-Amz-Signature", s.signature(method, p, q))
	return s.URL + p + "?" + q.Encode()
}

func (s *Server) signature(method, path string, q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		if k != "X-Amz-Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	mac := hmac.New(sha256.New, s.s3Key)
	fmt.Fprintf(mac, "%s\n%s\n", method, path)
	for _, k := range keys {
		for _, v := range q[k] {
			fmt.Fprintf(mac, "%s=%s\n", url.QueryEscape(k), url.QueryEscape(v))
		}
	}
	return hex.EncodeToString(mac.Sum(nil))
}

// s3ErrorFunc writes an error answer in the style of the serving endpoint.
type s3ErrorFunc func(status int, code, msg string, extra map[string]string)

// writeS3Error sends an S3-style XML error document.
func writeS3Error(w http.ResponseWriter, status int, code, msg string, extra map[string]string) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<Error>")
	el := func(name, v string) {
		b.WriteString("<" + name + ">")
		_ = xml.EscapeText(&b, []byte(v))
		b.WriteString("</" + name + ">")
	}
	el("Code", code)
	el("Message", msg)
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		el(k, extra[k])
	}
	el("RequestId", strings.ToUpper(randomToken(8)))
	el("HostId", randomToken(24))
	b.WriteString("</Error>")
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// handleS3Get serves GET /s3/{bucket}/{key} for signed URLs.
func (s *Server) handleS3Get(w http.ResponseWriter, r *http.Request, _ *call) {
	fail := func(status int, code, msg string, extra map[string]string) {
		writeS3Error(w, status, code, msg, extra)
	}
	bucket, key, ok := s.verifySigned(r, fail)
	if !ok {
		return
	}
	q := r.URL.Query()
	s.st.mu.RLock()
	o := s.st.objects[bucket+"/"+key]
	s.st.mu.RUnlock()
	if o == nil {
		fail(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.", map[string]string{"Key": key})
		return
	}
	base, length := int64(0), o.content.Size()
	if pr := q.Get("partRange"); pr != "" {
		var lo, hi int64
		if _, err := fmt.Sscanf(pr, "%d-%d", &lo, &hi); err != nil || lo < 0 || hi < lo || hi >= length {
			fail(http.StatusBadRequest, "InvalidArgument", "malformed partRange", nil)
			return
		}
		base, length = lo, hi-lo+1
	}
	s.serveObject(w, r, o, base, length, q.Get("partRange"), o.contentType, fail)
}

// verifySigned checks a presigned request the way S3 does: no
// Authorization header, a signature over the method, path and query, and a
// start before X-Amz-Date + X-Amz-Expires. It answers failures itself.
func (s *Server) verifySigned(r *http.Request, fail s3ErrorFunc) (bucket, key string, ok bool) {
	q := r.URL.Query()
	if r.Header.Get("Authorization") != "" {
		fail(http.StatusBadRequest, "InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified", nil)
		return "", "", false
	}
	sig, date, exp := q.Get("X-Amz-Signature"), q.Get("X-Amz-Date"), q.Get("X-Amz-Expires")
	if sig == "" || date == "" || exp == "" {
		fail(http.StatusForbidden, "AccessDenied", "Query-string authentication requires the X-Amz-Signature, X-Amz-Date and X-Amz-Expires parameters", nil)
		return "", "", false
	}
	bucket, key = r.PathValue("bucket"), r.PathValue("key")
	want := s.signature(r.Method, s3Path(bucket, key), q)
	if !hmac.Equal([]byte(sig), []byte(want)) {
		fail(http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.", nil)
		return "", "", false
	}
	signed, err1 := time.Parse(amzDate, date)
	secs, err2 := strconv.Atoi(exp)
	if err1 != nil || err2 != nil {
		fail(http.StatusForbidden, "AuthorizationQueryParametersError", "X-Amz-Date or X-Amz-Expires is malformed", nil)
		return "", "", false
	}
	expires := signed.Add(time.Duration(secs) * time.Second)
	if now := s.now().UTC(); now.After(expires) {
		fail(http.StatusForbidden, "AccessDenied", "Request has expired", map[string]string{
			"X-Amz-Expires": exp, "Expires": expires.Format(time.RFC3339), "ServerTime": now.Format(time.RFC3339),
		})
		return "", "", false
	}
	return bucket, key, true
}

// serveObject answers a GET for the window [base, base+length) of o, with
// Range support, the bandwidth cap and injected connection resets.
func (s *Server) serveObject(w http.ResponseWriter, r *http.Request, o *object, base, length int64, part, contentType string, fail s3ErrorFunc) {
	opts := s.Options()
	_, etag := o.digests()
	if part != "" {
		etag = strings.TrimSuffix(etag, `"`) + "-" + part + `"`
	}
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Accept-Ranges", "bytes")
	h.Set("Last-Modified", o.created.UTC().Format(http.TimeFormat))
	h.Set("Content-Type", contentType)
	q := r.URL.Query()
	for _, p := range []string{"Content-Type", "Content-Disposition", "Cache-Control"} {
		if v := q.Get("response-" + strings.ToLower(p)); v != "" {
			h.Set(p, v)
		}
	}

	off, n := int64(0), length
	status := http.StatusOK
	if rh := r.Header.Get("Range"); rh != "" {
		lo, hi, ok, satisfiable := parseRange(rh, length)
		if ok && !satisfiable {
			h.Del("ETag")
			h.Del("Content-Type")
			h.Set("Content-Range", fmt.Sprintf("bytes */%d", length))
			fail(http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable", map[string]string{
				"RangeRequested": rh, "ActualObjectSize": strconv.FormatInt(length, 10),
			})
			return
		}
		if ok {
			off, n, status = lo, hi-lo+1, http.StatusPartialContent
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", lo, hi, length))
		}
	}
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	s.writeBody(w, r, o.content, base+off, n, opts)
}

// parseRange interprets a single "bytes=" range against size. ok is false
// for headers S3 ignores (malformed, multiple ranges): the whole object is
// served. satisfiable is false when ok and the range lies beyond the end.
func parseRange(h string, size int64) (lo, hi int64, ok, satisfiable bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, false
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, false
	}
	if a == "" { // suffix: the last b bytes
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false, false
		}
		if n == 0 || size == 0 {
			return 0, 0, true, false
		}
		return max(size-n, 0), size - 1, true, true
	}
	lo, err := strconv.ParseInt(a, 10, 64)
	if err != nil || lo < 0 {
		return 0, 0, false, false
	}
	hi = size - 1
	if b != "" {
		hi, err = strconv.ParseInt(b, 10, 64)
		if err != nil || hi < lo {
			return 0, 0, false, false
		}
		hi = min(hi, size-1)
	}
	if lo >= size {
		return 0, 0, true, false
	}
	return lo, hi, true, true
}

// writeBody copies n bytes of c from off, paced to opts.BytesPerSecond, and
// aborts the connection part-way with probability opts.RateReset.
func (s *Server) writeBody(w http.ResponseWriter, r *http.Request, c Content, off, n int64, opts Options) {
	abortAt := int64(-1)
	if n > 0 && s.faults.roll(opts.RateReset) {
		abortAt = s.faults.int63n(n)
	}
	chunk := int64(256 << 10)
	if bps := opts.BytesPerSecond; bps > 0 {
		chunk = min(max(bps/20, 1024), chunk)
	}
	buf := make([]byte, min(chunk, max(n, 1)))
	start := time.Now()
	var sent int64
	for sent < n {
		m := min(int64(len(buf)), n-sent)
		if abortAt >= 0 {
			m = min(m, abortAt-sent)
		}
		if m > 0 {
			if nr, _ := c.ReadAt(buf[:m], off+sent); int64(nr) < m {
				panic(http.ErrAbortHandler) // content shorter than its Size: cut the body
			}
			if _, err := w.Write(buf[:m]); err != nil {
				return
			}
			sent += m
		}
		if abortAt >= 0 && sent >= abortAt {
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			panic(http.ErrAbortHandler)
		}
		if bps := opts.BytesPerSecond; bps > 0 {
			due := start.Add(time.Duration(float64(sent) / float64(bps) * float64(time.Second)))
			if !sleepCtx(r.Context(), time.Until(due)) {
				return
			}
		}
	}
}

package emulator

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// handleS3Put serves PUT /s3/{bucket}/{key}?uploadKey=…&partNumber=…, the
// part URLs signeds3upload hands out. Like S3 it needs no Authorization
// header, checks the signature and expiry, needs a Content-Length
// (chunked bodies get 411), answers 200 with the part's ETag and an empty
// body, and keeps only the last upload of each part number.
func (s *Server) handleS3Put(w http.ResponseWriter, r *http.Request, _ *call) {
	fail := func(status int, code, msg string, extra map[string]string) {
		writeS3Error(w, status, code, msg, extra)
	}
	if _, _, ok := s.verifySigned(r, fail); !ok {
		return
	}
	q := r.URL.Query()
	key := q.Get("uploadKey")
	num, err := strconv.Atoi(q.Get("partNumber"))
	if key == "" || err != nil || num < 1 || num > MaxParts {
		fail(http.StatusBadRequest, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive", nil)
		return
	}
	switch {
	case r.ContentLength < 0:
		fail(http.StatusLengthRequired, "MissingContentLength", "You must provide the Content-Length HTTP header.", nil)
		return
	case r.ContentLength > MaxPartSize:
		fail(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", nil)
		return
	}
	var wantMD5 string
	if cm := r.Header.Get("Content-MD5"); cm != "" {
		b, err := base64.StdEncoding.DecodeString(cm)
		if err != nil || len(b) != md5.Size {
			fail(http.StatusBadRequest, "InvalidDigest", "The Content-MD5 you specified was invalid.", nil)
			return
		}
		wantMD5 = `"` + hex.EncodeToString(b) + `"`
	}
	st := s.st
	st.mu.RLock()
	up := st.uploads[key]
	live := up != nil && !s.now().After(up.expires)
	st.mu.RUnlock()
	if !live {
		fail(http.StatusNotFound, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.", map[string]string{"UploadId": key})
		return
	}

	opts := s.Options()
	body := s.pacedBody(r.Context(), r.Body, r.ContentLength, opts)
	p, err := s.parts.write(body, r.ContentLength, opts.PartDir)
	if errors.Is(err, errInjectedReset) {
		panic(http.ErrAbortHandler) // drop the connection mid-body
	}
	if err != nil {
		if errors.Is(err, errShortBody) || r.Context().Err() != nil {
			return // the client went away; S3 keeps nothing
		}
		s.log.Error("storing an uploaded part", "err", err)
		fail(http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.", nil)
		return
	}
	if wantMD5 != "" && wantMD5 != p.etag {
		s.parts.release(p)
		fail(http.StatusBadRequest, "BadDigest", "The Content-MD5 you specified did not match what we received.", nil)
		return
	}

	st.mu.Lock()
	var old *part
	stillOpen := st.uploads[key] == up
	if stillOpen {
		old = up.parts[num]
		up.parts[num] = p
	}
	st.mu.Unlock()
	if !stillOpen { // completed or expired while the body arrived
		s.parts.release(p)
		fail(http.StatusNotFound, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.", map[string]string{"UploadId": key})
		return
	}
	s.parts.release(old)
	w.Header().Set("ETag", p.etag)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// errInjectedReset marks a body read cut short by Options.RateReset.
var errInjectedReset = errors.New("injected connection reset")

// pacedBody wraps an upload body with the bandwidth cap and, with
// probability RateReset, a failure part-way through that makes the handler
// drop the connection.
func (s *Server) pacedBody(ctx context.Context, r io.Reader, n int64, opts Options) io.Reader {
	abortAt := int64(-1)
	if n > 0 && s.faults.roll(opts.RateReset) {
		abortAt = s.faults.int63n(n)
	}
	if abortAt < 0 && opts.BytesPerSecond <= 0 {
		return r
	}
	return &pacedReader{ctx: ctx, r: r, bps: opts.BytesPerSecond, abortAt: abortAt, start: time.Now()}
}

type pacedReader struct {
	ctx     context.Context
	r       io.Reader
	bps     int64
	abortAt int64
	start   time.Time
	read    int64
}

func (p *pacedReader) Read(b []byte) (int, error) {
	if p.abortAt >= 0 && p.read >= p.abortAt {
		return 0, errInjectedReset
	}
	if p.bps > 0 {
		b = b[:min(int64(len(b)), max(p.bps/20, 1024))]
	}
	if p.abortAt >= 0 {
		b = b[:min(int64(len(b)), max(p.abortAt-p.read, 1))]
	}
	n, err := p.r.Read(b)
	p.read += int64(n)
	if p.bps > 0 {
		due := p.start.Add(time.Duration(float64(p.read) / float64(p.bps) * float64(time.Second)))
		if !sleepCtx(p.ctx, time.Until(due)) {
			return n, p.ctx.Err()
		}
	}
	return n, err
}

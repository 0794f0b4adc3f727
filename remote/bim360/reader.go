package bim360

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/httpx"
)

const opRead = "bim360.ReadRange"

// rangeReader streams bytes [pos, end) of one storage object from signed S3
// URLs. A chunked object is read chunk by chunk, opening the next chunk's
// URL when the previous one is exhausted. A body that ends early or breaks
// is an error, never a silent short read.
type rangeReader struct {
	ctx    context.Context
	s      *signer
	s3     *httpx.Client
	urn    string
	pos    int64 // next byte of the object to deliver
	end    int64 // exclusive end of the requested range (clamped to size)
	body   io.ReadCloser
	segEnd int64 // exclusive end of what body delivers
	err    error // sticky
}

// open starts the response that delivers byte r.pos. A 403 from S3 means
// the URL expired or was revoked: the cached URL is dropped and the object
// signed again, once.
func (r *rangeReader) open() error {
	for attempt := 0; ; attempt++ {
		su, err := r.s.get(r.ctx, r.urn)
		if err != nil {
			return err
		}
		if r.pos >= su.d.Size {
			// The object is shorter than the caller thought: end of file.
			r.end = r.pos
			return nil
		}
		r.end = min(r.end, su.d.Size)
		c := su.chunkAt(r.pos)
		lo := r.pos - c.Start
		hi := min(r.end, c.End+1) - c.Start - 1
		resp, err := r.s3.Do(r.ctx, opRead, func(ctx context.Context) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
			if err != nil {
				return nil, errors.New("malformed signed URL") // never echo the URL
			}
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", lo, hi))
			return req, nil
		})
		if err != nil {
			var re *remote.Error
			if errors.As(err, &re) {
				switch re.Status {
				case http.StatusForbidden:
					r.s.drop(r.urn, su)
					if attempt == 0 {
						continue
					}
				case http.StatusRequestedRangeNotSatisfiable:
					// Asked at or past the end: EOF, as for a local file.
					r.end = r.pos
					return nil
				}
			}
			return err
		}
		got, err := checkRange(resp, lo, hi)
		if err != nil {
			resp.Body.Close()
			return err
		}
		r.body = resp.Body
		r.segEnd = c.Start + got + 1
		return nil
	}
}

// checkRange verifies that resp delivers the bytes from lo and returns the
// last byte (relative to the URL's object) it delivers. A 206 must start at
// lo; it may stop early (HTTP allows it), and the reader then continues with
// a new request. A 200 carries the whole object and is accepted only when
// the range starts at 0.
func checkRange(resp *http.Response, lo, hi int64) (int64, error) {
	switch resp.StatusCode {
	case http.StatusPartialContent:
		start, end, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != lo || end < start {
			return 0, &remote.Error{Kind: remote.Unavailable, Op: opRead, Status: resp.StatusCode,
				Message: fmt.Sprintf("asked for bytes %d-%d, got Content-Range %q", lo, hi, resp.Header.Get("Content-Range"))}
		}
		return min(end, hi), nil
	case http.StatusOK:
		if lo != 0 {
			return 0, &remote.Error{Kind: remote.Unavailable, Op: opRead, Status: resp.StatusCode,
				Message: fmt.Sprintf("server ignored the range request for bytes %d-%d", lo, hi)}
		}
		if resp.ContentLength >= 0 && resp.ContentLength-1 < hi {
			return resp.ContentLength - 1, nil
		}
		return hi, nil
	}
	return 0, &remote.Error{Kind: remote.Unavailable, Op: opRead, Status: resp.StatusCode,
		Message: "unexpected status " + resp.Status + " from storage"}
}

// parseContentRange parses "bytes <start>-<end>/<total|*>".
func parseContentRange(v string) (start, end int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, _, _ := strings.Cut(rest, "/")
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	s, err1 := strconv.ParseInt(a, 10, 64)
	e, err2 := strconv.ParseInt(b, 10, 64)
	return s, e, err1 == nil && err2 == nil
}

// Read implements io.Reader.
func (r *rangeReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.pos >= r.end {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.body == nil {
		if err := r.open(); err != nil {
			r.err = err
			return 0, err
		}
		if r.pos >= r.end {
			return 0, io.EOF
		}
	}
	if int64(len(p)) > r.segEnd-r.pos {
		p = p[:r.segEnd-r.pos]
	}
	n, err := r.body.Read(p)
	r.pos += int64(n)
	if r.pos >= r.segEnd {
		r.body.Close()
		r.body = nil
		if err == io.EOF {
			err = nil
		}
	}
	switch {
	case err == io.EOF:
		r.err = &remote.Error{Kind: remote.Unavailable, Op: opRead,
			Message: fmt.Sprintf("storage connection closed early at byte %d (expected up to %d)", r.pos, r.segEnd), Err: io.ErrUnexpectedEOF}
	case err != nil:
		if r.ctx.Err() != nil {
			r.err = &remote.Error{Kind: remote.Canceled, Op: opRead, Err: r.ctx.Err()}
		} else {
			r.err = &remote.Error{Kind: remote.Unavailable, Op: opRead, Message: "reading from storage: " + httpx.RedactError(err), Err: io.ErrUnexpectedEOF}
		}
	}
	if r.err != nil {
		if r.body != nil {
			r.body.Close()
			r.body = nil
		}
		if n > 0 {
			return n, nil // the error follows on the next call
		}
		return 0, r.err
	}
	return n, nil
}

// Close implements io.Closer.
func (r *rangeReader) Close() error {
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
	if r.err == nil {
		r.err = errors.New("bim360: read after close")
	}
	return nil
}

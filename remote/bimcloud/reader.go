package bimcloud

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/httpx"
)

// maxStalledResumes bounds how often a read reconnects after the
// connection broke without delivering a byte since the last reconnect.
const maxStalledResumes = 4

// blobReader streams one blob range. When the connection breaks mid-body it
// reconnects from the next undelivered byte (with Range if the server
// honours it, otherwise by skipping), after checking that the blob still
// has the version being read, so bytes of two versions never mix. The
// final bytes are handed over only once the version is proven (see
// freshness.go); a blob that changed makes the read fail with
// remote.Stale.
// (blobserverapi.py get_blob_content asks for a stream but its
// process_response reads response.content, loading the whole blob into
// memory first; here the body is streamed.)
type blobReader struct {
	b   *Backend
	ctx context.Context
	id  string
	v   remote.Version

	pos     int64 // offset of the next byte to deliver
	end     int64 // offset after the last byte wanted; -1 until the size is known
	body    io.ReadCloser
	skip    int64  // bytes of body before pos (the server ignored Range)
	stalled int    // reconnects since a byte was last delivered
	opened  bool   // a download was started before (a reopen always asks the Manager)
	etag    string // revision header of the first download, if the server sends one
	proven  bool   // the bytes are known to be version v's
	err     error  // sticky
}

const opReadRange = "bimcloud.ReadRange"

// stale is the error of a read whose version is gone.
func (r *blobReader) stale(format string, args ...any) error {
	r.b.memo.forget(r.id)
	return errorf(remote.Stale, opReadRange, format, args...)
}

// current asks the Manager for the blob and fails with Stale unless it
// still has the version being read.
func (r *blobReader) current() (*Resource, error) {
	res, err := r.b.mgr.GetResource(r.ctx, r.id)
	if err != nil {
		return nil, err // a deleted file stays NotFound
	}
	if res.Type != TypeBlob {
		return nil, errorf(remote.Invalid, opReadRange, "%q is not a file", res.Name)
	}
	if cur := versionOf(res); r.v.ID != "" && cur.ID != r.v.ID {
		return nil, r.stale("%q changed remotely: version %s is gone (now %s)", res.Name, r.v.ID, cur.ID)
	}
	return res, nil
}

// open starts a download at pos, after checking the version unless a
// fresh listing of this backend vouches for it (first download only).
func (r *blobReader) open() error {
	size, fresh := r.b.memo.freshSize(r.id, r.v.ID, time.Now())
	ms := r.v.Ref
	if !fresh || r.opened || ms == "" {
		res, err := r.current()
		if err != nil {
			return err
		}
		size = int64(res.Size)
		if res.ModelServerID != "" {
			ms = res.ModelServerID
		}
	}
	r.opened = true
	if r.end < 0 || r.end > size {
		r.end = size
	}
	if r.pos >= r.end {
		r.body = nil // nothing left: Read reports EOF
		return nil
	}
	if ms == "" {
		return errorf(remote.Unavailable, opReadRange, "the Manager names no model server for blob %s", r.id)
	}
	return r.b.sessions.do(r.ctx, ms, func(base, session string) error {
		resp, err := r.b.bs.GetBlobContent(r.ctx, base, session, r.id, r.pos, r.end)
		if err != nil {
			return err
		}
		r.skip = r.pos
		total := resp.ContentLength // whole blob unless 206
		if resp.StatusCode == http.StatusPartialContent {
			start, n, ok := contentRange(resp.Header.Get("Content-Range"))
			if !ok || start != r.pos {
				resp.Body.Close()
				return errorf(remote.Unavailable, opReadRange, "the blob server sent range %q for a request from byte %d", resp.Header.Get("Content-Range"), r.pos)
			}
			r.skip, total = 0, n
			if !r.b.rangeReads.Swap(true) {
				r.b.log.Info("blob server honours Range requests: partial reads enabled")
			}
		}
		if err := r.checkHeaders(total, size, resp.Header.Get("ETag")); err != nil {
			resp.Body.Close()
			return err
		}
		r.body = resp.Body
		return nil
	})
}

// checkHeaders compares what the blob server says about the content it is
// sending (total size, -1 if unknown; revision header) with the version
// being read, before any byte is used.
func (r *blobReader) checkHeaders(total, size int64, etag string) error {
	if total >= 0 && total != size {
		return r.stale("version %s is gone: the blob server sends %d bytes, the version has %d", r.v.ID, total, size)
	}
	if etag == "" {
		return nil
	}
	if r.etag != "" && etag != r.etag {
		return r.stale("version %s is gone: the content changed during the read (revision %s, then %s)", r.v.ID, r.etag, etag)
	}
	r.etag = etag
	switch proven := r.b.memo.provenETag(r.v.ID); {
	case proven == etag:
		r.proven = true
	case proven != "":
		return r.stale("version %s is gone: the blob server sends revision %s, the version's is %s", r.v.ID, etag, proven)
	}
	return nil
}

// verify proves, once the last byte has arrived and before it is handed
// over, that the bytes read are version v's.
func (r *blobReader) verify() error {
	if r.proven {
		return nil
	}
	if _, err := r.current(); err != nil {
		return err
	}
	r.proven = true
	if r.etag != "" {
		r.b.memo.proveETag(r.v.ID, r.etag)
	}
	return nil
}

// Read implements io.Reader.
func (r *blobReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, r.err
	}
	for r.err == nil {
		if r.body == nil || (r.end >= 0 && r.pos >= r.end) {
			r.err = io.EOF
			break
		}
		if r.skip > 0 {
			n, err := io.CopyN(io.Discard, r.body, r.skip)
			r.skip -= n
			if err != nil {
				r.fail(err)
				continue
			}
		}
		q := p
		if r.end >= 0 && int64(len(q)) > r.end-r.pos {
			q = q[:r.end-r.pos]
		}
		n, err := r.body.Read(q)
		if n > 0 && r.pos+int64(n) >= r.end {
			// The last byte: hand nothing over before it is proven.
			if verr := r.verify(); verr != nil {
				r.body.Close()
				r.body = nil
				r.err = verr
				return 0, verr
			}
		}
		r.pos += int64(n)
		if n > 0 {
			r.stalled = 0
		}
		switch {
		case err == io.EOF:
			r.err = io.EOF
		case err != nil:
			r.fail(err)
		}
		if n > 0 {
			// A failure, or the end, is reported by the next call.
			return n, nil
		}
	}
	return 0, r.err
}

// fail handles a broken body: reconnect from pos, or give up.
func (r *blobReader) fail(err error) {
	const op = opReadRange
	r.body.Close()
	r.body = nil
	if r.ctx.Err() != nil {
		r.err = &remote.Error{Kind: remote.Canceled, Op: op, Err: r.ctx.Err()}
		return
	}
	r.stalled++
	if r.stalled > maxStalledResumes {
		r.err = &remote.Error{Kind: remote.Unavailable, Op: op, Message: "connection to the blob server keeps breaking: " + httpx.RedactError(err)}
		return
	}
	r.b.log.Debug("blob download broke; reconnecting", "offset", r.pos, "err", httpx.RedactError(err))
	if err := r.open(); err != nil {
		r.err = err
	}
}

// Close implements io.Closer.
func (r *blobReader) Close() error {
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
	if r.err == nil {
		r.err = errorf(remote.Invalid, opReadRange, "read after close")
	}
	return nil
}

package bimcloud

import (
	"context"
	"io"
	"net/http"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/httpx"
)

// maxStalledResumes bounds how often a read reconnects after the
// connection broke without delivering a byte since the last reconnect.
const maxStalledResumes = 4

// blobReader streams one blob range. When the connection breaks mid-body it
// reconnects from the next undelivered byte (with Range if the server
// honours it, otherwise by skipping), after checking that the blob still
// has the version being read, so bytes of two versions never mix.
// (blobserverapi.py get_blob_content asks for a stream but its
// process_response reads response.content, loading the whole blob into
// memory first; here the body is streamed.)
type blobReader struct {
	b   *Backend
	ctx context.Context
	id  string
	v   remote.Version

	pos     int64 // offset of the next byte to deliver
	end     int64 // offset after the last byte wanted; -1 means end of blob
	body    io.ReadCloser
	skip    int64 // bytes of body before pos (the server ignored Range)
	stalled int   // reconnects since a byte was last delivered
	err     error // sticky
}

// open checks the version and starts a download at pos.
func (r *blobReader) open() error {
	const op = "bimcloud.ReadRange"
	res, err := r.b.mgr.GetResource(r.ctx, r.id)
	if err != nil {
		return err
	}
	if res.Type != TypeBlob {
		return errorf(remote.Invalid, op, "%q is not a file", res.Name)
	}
	if cur := versionOf(res); r.v.ID != "" && cur.ID != r.v.ID {
		return errorf(remote.Conflict, op, "%q changed remotely: version %s is no longer current (now %s)", res.Name, r.v.ID, cur.ID)
	}
	if r.pos >= int64(res.Size) {
		r.body = nil // nothing left: Read reports EOF
		return nil
	}
	ms := res.ModelServerID
	if ms == "" {
		ms = r.v.Ref
	}
	if ms == "" {
		return errorf(remote.Unavailable, op, "the Manager names no model server for %q", res.Name)
	}
	return r.b.sessions.do(r.ctx, ms, func(base, session string) error {
		resp, err := r.b.bs.GetBlobContent(r.ctx, base, session, r.id, r.pos, r.end)
		if err != nil {
			return err
		}
		r.skip = r.pos
		if resp.StatusCode == http.StatusPartialContent {
			start, ok := contentRangeStart(resp.Header.Get("Content-Range"))
			if !ok || start != r.pos {
				resp.Body.Close()
				return errorf(remote.Unavailable, op, "the blob server sent range %q for a request from byte %d", resp.Header.Get("Content-Range"), r.pos)
			}
			r.skip = 0
			if !r.b.rangeReads.Swap(true) {
				r.b.log.Info("blob server honours Range requests: partial reads enabled")
			}
		}
		r.body = resp.Body
		return nil
	})
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
	const op = "bimcloud.ReadRange"
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
		r.err = errorf(remote.Invalid, "bimcloud.ReadRange", "read after close")
	}
	return nil
}

package dataconnector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/httpx"
)

const opRead = "dataconnector.ReadRange"

// urlMargin is kept before a signed URL's 60 s expiry: a download must
// start while the URL is valid.
const urlMargin = 15 * time.Second

// maxURLs bounds the signed URL cache; expired entries are swept when full.
const maxURLs = 1024

// urlCache hands out signed URLs of extracted files, asking the service at
// most once per file at a time and reusing an answer until shortly before
// it expires.
type urlCache struct {
	c     *Client
	now   func() time.Time
	group singleflight.Group

	mu sync.Mutex
	m  map[string]cachedURL // by account|job|name; mu protects it
}

type cachedURL struct {
	d      *SignedData
	usable time.Time
}

func newURLCache(c *Client, now func() time.Time) *urlCache {
	return &urlCache{c: c, now: now, m: map[string]cachedURL{}}
}

func (u *urlCache) get(ctx context.Context, account, job, name string) (*SignedData, error) {
	key := account + "|" + job + "|" + name
	u.mu.Lock()
	if c, ok := u.m[key]; ok && u.now().Before(c.usable) {
		u.mu.Unlock()
		return c.d, nil
	}
	u.mu.Unlock()
	v, err, _ := u.group.Do(key, func() (any, error) {
		asked := u.now()
		d, err := u.c.Jobs.Data(ctx, account, job, name)
		if err != nil {
			return nil, err
		}
		u.mu.Lock()
		if len(u.m) >= maxURLs {
			for k, c := range u.m {
				if !asked.Before(c.usable) {
					delete(u.m, k)
				}
			}
		}
		u.m[key] = cachedURL{d: d, usable: asked.Add(SignedURLLifetime - urlMargin)}
		u.mu.Unlock()
		return d, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*SignedData), nil
}

func (u *urlCache) drop(account, job, name string, d *SignedData) {
	key := account + "|" + job + "|" + name
	u.mu.Lock()
	if c, ok := u.m[key]; ok && c.d == d {
		delete(u.m, key)
	}
	u.mu.Unlock()
}

// ReadRange returns bytes [off, off+length) of an extracted file. The
// signed URL is fetched on first use and again when it has expired (S3
// answers 403), once per read.
func (s *Source) ReadRange(ctx context.Context, id remote.ID, v remote.Version, off, length int64) (io.ReadCloser, error) {
	n, ok := parseNode(id)
	if !ok {
		return nil, remote.Errorf(remote.NotFound, opRead, "unknown entry %q", id)
	}
	if n.kind != nodeFile && n.kind != nodeLatestFile {
		return nil, remote.Errorf(remote.Invalid, opRead, "%q is not a file", id)
	}
	if off < 0 || length < 0 {
		return nil, remote.Errorf(remote.Invalid, opRead, "invalid range %d+%d", off, length)
	}
	if length == 0 {
		return io.NopCloser(strings.NewReader("")), nil
	}
	account := AccountID(n.hub)
	for attempt := 0; ; attempt++ {
		d, err := s.urls.get(ctx, account, n.job, n.name)
		if err != nil {
			return nil, err
		}
		if d.Size > 0 && off >= d.Size {
			return io.NopCloser(strings.NewReader("")), nil
		}
		end := off + length - 1
		if end < off { // overflow
			end = 1<<63 - 2
		}
		if d.Size > 0 {
			end = min(end, d.Size-1)
		}
		resp, err := s.s3.Do(ctx, opRead, func(ctx context.Context) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.SignedURL, nil)
			if err != nil {
				return nil, errors.New("malformed signed URL") // never echo the URL
			}
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, end))
			return req, nil
		})
		if err != nil {
			var re *remote.Error
			if errors.As(err, &re) {
				switch re.Status {
				case http.StatusForbidden:
					// Expired (the URL lives 60 s) or revoked: sign again, once.
					s.urls.drop(account, n.job, n.name, d)
					if attempt == 0 {
						continue
					}
				case http.StatusRequestedRangeNotSatisfiable:
					return io.NopCloser(strings.NewReader("")), nil
				}
			}
			return nil, err
		}
		want := end - off + 1
		switch resp.StatusCode {
		case http.StatusPartialContent:
			// A range that stops before the known size would read as end of
			// file: refuse it rather than return a silent short read.
			lo, hi, ok := contentRange(resp.Header.Get("Content-Range"))
			if !ok || lo != off || hi < lo || (d.Size > 0 && hi < end) {
				resp.Body.Close()
				return nil, &remote.Error{Kind: remote.Unavailable, Op: opRead, Status: resp.StatusCode,
					Message: fmt.Sprintf("asked for bytes %d-%d, got Content-Range %q", off, end, resp.Header.Get("Content-Range"))}
			}
			want = min(want, hi-off+1)
		case http.StatusOK:
			if off != 0 {
				resp.Body.Close()
				return nil, &remote.Error{Kind: remote.Unavailable, Op: opRead, Status: resp.StatusCode,
					Message: fmt.Sprintf("storage ignored the range request for bytes %d-%d", off, end)}
			}
			if resp.ContentLength >= 0 && resp.ContentLength < want {
				want = resp.ContentLength
			}
		default:
			resp.Body.Close()
			return nil, &remote.Error{Kind: remote.Unavailable, Op: opRead, Status: resp.StatusCode,
				Message: "unexpected status " + resp.Status + " from storage"}
		}
		return &limitedBody{r: io.LimitReader(resp.Body, want), c: resp.Body, left: want}, nil
	}
}

// limitedBody delivers exactly left bytes of a storage response; a body
// that ends sooner is an error, never a silent short read.
type limitedBody struct {
	r    io.Reader
	c    io.Closer
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.left -= int64(n)
	switch {
	case err == io.EOF && b.left > 0:
		err = &remote.Error{Kind: remote.Unavailable, Op: opRead,
			Message: fmt.Sprintf("storage connection closed %d bytes early", b.left), Err: io.ErrUnexpectedEOF}
	case err != nil && err != io.EOF:
		err = &remote.Error{Kind: remote.Unavailable, Op: opRead, Message: "reading from storage: " + httpx.RedactError(err), Err: io.ErrUnexpectedEOF}
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.c.Close() }

// contentRange parses "bytes <start>-<end>/<total|*>".
func contentRange(v string) (start, end int64, ok bool) {
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

package bim360

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/httpx"
)

// Upload part sizes. S3 multipart uploads take at most 10,000 parts of at
// least 5 MiB each (the last may be smaller) and at most 5 GiB; the OSS
// spec's TooSmall status repeats the 5 MiB floor.
const (
	MinPartSize     = 5 << 20
	DefaultPartSize = 16 << 20
	MaxParts        = 10000
	maxPartSize     = 5 << 30
	// DefaultUploadParallel is how many parts of one file are in flight.
	DefaultUploadParallel = 4
)

// maxURLRefreshes bounds how often one part asks for fresh URLs after S3
// refused its URL (403): an expired URL is renewed, a URL S3 keeps
// refusing is a real permission problem.
const maxURLRefreshes = 3

const opUpload = "bim360.Upload"

// uploader moves bytes into OSS objects through signed S3 part URLs:
// signeds3upload in batches of up to 25 URLs, parallel part PUTs read
// straight from the caller's io.ReaderAt (memory does not grow with the
// file), then the completion call.
type uploader struct {
	oss      *OSSService
	s3       *httpx.Client
	partSize int64
	minPart  int64 // MinPartSize; tests lower it to use small parts
	parallel int
	minutes  int
	now      func() time.Time
	// retryDelay is the first wait before repeating a failed completion.
	retryDelay time.Duration
}

// planParts returns the part size and count for an object of size bytes:
// want (at least minPart), grown in whole MiB when the file would need more
// than MaxParts parts. An empty object is one empty part.
func planParts(size, want, minPart int64) (int64, int, error) {
	ps := max(want, minPart)
	if size > ps*MaxParts {
		ps = (size + MaxParts - 1) / MaxParts
		ps = (ps + 1<<20 - 1) &^ (1<<20 - 1)
	}
	if ps > maxPartSize {
		return 0, 0, remote.Errorf(remote.NoSpace, opUpload, "%d bytes exceed the largest object storage accepts (%d parts of 5 GiB)", size, MaxParts)
	}
	n := int((size + ps - 1) / ps)
	return ps, max(n, 1), nil
}

// upload stores size bytes of r in the OSS object and completes it.
// progress, if set, is called with the bytes stored so far after each part.
func (u *uploader) upload(ctx context.Context, bucket, object string, size int64, r io.ReaderAt, progress func(int64)) (*ObjectDetails, error) {
	ps, n, err := planParts(size, u.partSize, u.minPart)
	if err != nil {
		return nil, err
	}
	s := &uploadSession{u: u, bucket: bucket, object: object, urls: make([]partURL, n)}
	// The first call starts the upload and names its key; every later
	// call (more URLs, fresh URLs) continues it with that key.
	if _, err := s.url(ctx, 1); err != nil {
		return nil, err
	}
	etags := make([]string, n)
	var mu sync.Mutex
	var done int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(u.parallel, 1))
	for p := 1; p <= n && gctx.Err() == nil; p++ {
		g.Go(func() error {
			off := int64(p-1) * ps
			ln := min(ps, size-off)
			et, err := s.putPart(gctx, p, r, off, ln)
			if err != nil {
				return partError(err, p, n)
			}
			etags[p-1] = et
			s.markDone(p)
			mu.Lock()
			defer mu.Unlock()
			done += ln
			if progress != nil {
				progress(done)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return nil, &remote.Error{Kind: remote.Canceled, Op: opUpload, Err: ctx.Err()}
		}
		return nil, err
	}
	req := &CompleteUploadRequest{Bucket: bucket, Object: object, UploadKey: s.key, Size: size, ETags: etags}
	for _, et := range etags {
		if et == "" { // cannot be checked part by part; OSS still checks the size
			req.ETags = nil
			break
		}
	}
	return u.complete(ctx, req)
}

// completeAttempts bounds the completion calls of one upload. After a 5xx
// or a broken connection the upload may or may not be complete, and the
// HTTP client repeats only POSTs the server cannot have acted on. Another
// completion with the same upload key is harmless: it either assembles the
// parts or finds the upload finished (the emulator answers that with the
// same object; a service that refuses it fails the upload, and the caller
// still has its bytes).
const completeAttempts = 3

func (u *uploader) complete(ctx context.Context, req *CompleteUploadRequest) (*ObjectDetails, error) {
	for attempt := 1; ; attempt++ {
		det, err := u.oss.CompleteUpload(ctx, req)
		var re *remote.Error
		if err == nil || attempt >= completeAttempts || !errors.As(err, &re) ||
			re.Kind != remote.Unavailable || (re.Status != 0 && re.Status < 500) {
			return det, err
		}
		t := time.NewTimer(u.retryDelay << (attempt - 1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, &remote.Error{Kind: remote.Canceled, Op: "bim360.CompleteSignedS3Upload", Err: ctx.Err()}
		case <-t.C:
		}
	}
}

// partError names the part in a failed part's error, on a copy: the
// error value may be shared.
func partError(err error, p, n int) error {
	var re *remote.Error
	if !errors.As(err, &re) || re.Kind == remote.Canceled {
		return err
	}
	cp := *re
	cp.Message = strings.TrimSuffix(fmt.Sprintf("part %d of %d: %s", p, n, re.Message), ": ")
	return &cp
}

// uploadSession is one object's upload: its key and the part URLs handed
// out so far.
type uploadSession struct {
	u              *uploader
	bucket, object string

	fetchMu sync.Mutex // serialises signeds3upload calls

	mu   sync.Mutex // protects key, urls and gen
	key  string
	urls []partURL // by part number - 1
	gen  int
}

type partURL struct {
	url    string
	usable time.Time // a PUT must start before the URL expires
	gen    int       // which signeds3upload answer it came from
	done   bool      // the part is stored
}

// url returns a usable URL for part p, asking OSS for a batch of URLs from
// p on when it has none (or only an expired one).
func (s *uploadSession) url(ctx context.Context, p int) (partURL, error) {
	if pu, ok := s.cached(p); ok {
		return pu, nil
	}
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	if pu, ok := s.cached(p); ok { // another part fetched it meanwhile
		return pu, nil
	}
	if err := s.fetch(ctx, p); err != nil {
		return partURL{}, err
	}
	pu, _ := s.cached(p)
	return pu, nil
}

func (s *uploadSession) cached(p int) (partURL, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pu := s.urls[p-1]
	return pu, pu.url != "" && s.u.now().Before(pu.usable)
}

// fetch asks for a batch of up to MaxURLsPerRequest URLs that covers part
// p. Parts run in parallel, so the batch starts at the earliest part
// before p that is not done and has no usable URL either: one call serves
// them all instead of one call each.
func (s *uploadSession) fetch(ctx context.Context, p int) error {
	s.mu.Lock()
	key := s.key
	now := s.u.now()
	first := p
	for first > 1 && p-first+1 < MaxURLsPerRequest {
		prev := s.urls[first-2]
		if prev.done || (prev.url != "" && now.Before(prev.usable)) {
			break
		}
		first--
	}
	count := min(MaxURLsPerRequest, len(s.urls)-first+1)
	s.mu.Unlock()
	start := s.u.now()
	su, err := s.u.oss.SignedUpload(ctx, &SignedUploadRequest{
		Bucket: s.bucket, Object: s.object, Parts: count, FirstPart: first,
		UploadKey: key, MinutesExpiration: s.u.minutes,
	})
	if err != nil {
		return err
	}
	if key != "" && su.UploadKey != key {
		return remote.Errorf(remote.Unavailable, "bim360.SignedS3Upload", "storage answered for another upload than the one in progress")
	}
	life := time.Duration(s.u.minutes) * time.Minute
	expires := start.Add(life)
	// The server's expiry counts only when it is sooner and still after
	// the local start: a skewed local clock must not make every URL look
	// expired.
	if e := su.Expires(); e.After(start) && e.Before(expires) {
		expires = e
	}
	usable := expires.Add(-min(30*time.Second, life/4))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key = su.UploadKey
	s.gen++
	for i, u := range su.URLs {
		if pu := &s.urls[first-1+i]; !pu.done {
			*pu = partURL{url: u, usable: usable, gen: s.gen}
		}
	}
	return nil
}

// markDone records that part p is stored, so no URL is asked for it again.
func (s *uploadSession) markDone(p int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.urls[p-1] = partURL{done: true}
}

// expire forgets part p's URL after S3 refused it, unless a newer answer
// has replaced it already.
func (s *uploadSession) expire(p, gen int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.urls[p-1].gen == gen {
		s.urls[p-1] = partURL{}
	}
}

// putPart sends bytes [off, off+n) of r as part p and returns the ETag S3
// answered with (without quotes). Transport errors and 5xx answers are
// retried with backoff by the S3 client; a 403 (expired URL) gets fresh
// URLs under the same upload key.
func (s *uploadSession) putPart(ctx context.Context, p int, r io.ReaderAt, off, n int64) (string, error) {
	for refresh := 0; ; refresh++ {
		pu, err := s.url(ctx, p)
		if err != nil {
			return "", err
		}
		resp, err := s.u.s3.Do(ctx, opUpload, func(ctx context.Context) (*http.Request, error) {
			var body io.Reader = http.NoBody
			if n > 0 {
				body = io.NewSectionReader(r, off, n) // fresh for every attempt
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPut, pu.url, body)
			if err != nil {
				return nil, errors.New("malformed signed URL") // never echo the URL
			}
			req.ContentLength = n
			return req, nil
		})
		if err != nil {
			var re *remote.Error
			if errors.As(err, &re) && re.Status == http.StatusForbidden && refresh < maxURLRefreshes {
				s.expire(p, pu.gen)
				continue
			}
			return "", err
		}
		etag := resp.Header.Get("ETag")
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return strings.Trim(etag, `"`), nil
	}
}

package bim360

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/bimfs/bimfs/remote"
)

// signTimeout bounds one signeds3download call made on behalf of several
// waiting readers; it runs detached from any one reader's context so one
// cancelled read does not fail the others.
const signTimeout = 2 * time.Minute

// maxSignedURLs bounds the cache; expired entries are swept when it fills.
const maxSignedURLs = 4096

// signedURL is a cached signeds3download answer for one storage object.
type signedURL struct {
	d      *SignedDownload
	chunks []Chunk // for chunked answers; one whole-object chunk otherwise
	// usable is the time after which the URL is not handed out any more:
	// a download must start before expiry, so a margin is kept.
	usable time.Time
}

// chunkAt returns the chunk holding byte off.
func (s *signedURL) chunkAt(off int64) Chunk {
	for _, c := range s.chunks {
		if off >= c.Start && off <= c.End {
			return c
		}
	}
	return s.chunks[len(s.chunks)-1]
}

// signer hands out signed download URLs, asking OSS at most once per
// storage object at a time and reusing an answer until shortly before it
// expires. OSS allows 1,000 calls a minute for all its endpoints together,
// so signing per read would be the first limit a busy mount hits.
type signer struct {
	oss     *OSSService
	minutes int
	now     func() time.Time
	group   singleflight.Group

	mu    sync.Mutex
	cache map[string]*signedURL // by storage URN; mu protects it
}

func newSigner(oss *OSSService, minutes int) *signer {
	if minutes <= 0 {
		minutes = DefaultMinutesExpiration
	}
	return &signer{oss: oss, minutes: minutes, now: time.Now, cache: map[string]*signedURL{}}
}

// get returns a usable signed URL for the object urn names.
func (s *signer) get(ctx context.Context, urn string) (*signedURL, error) {
	s.mu.Lock()
	su := s.cache[urn]
	s.mu.Unlock()
	if su != nil && s.now().Before(su.usable) {
		return su, nil
	}
	ch := s.group.DoChan(urn, func() (any, error) {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), signTimeout)
		defer cancel()
		return s.sign(sctx, urn)
	})
	select {
	case <-ctx.Done():
		return nil, &remote.Error{Kind: remote.Canceled, Op: "bim360.SignedS3Download", Err: ctx.Err()}
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*signedURL), nil
	}
}

func (s *signer) sign(ctx context.Context, urn string) (*signedURL, error) {
	bucket, object, ok := ParseStorageURN(urn)
	if !ok {
		return nil, remote.Errorf(remote.Invalid, "bim360.SignedS3Download", "not an OSS object URN: %q", urn)
	}
	start := s.now()
	d, err := s.oss.SignedDownload(ctx, &SignedDownloadRequest{Bucket: bucket, Object: object, MinutesExpiration: s.minutes})
	if err != nil {
		return nil, err
	}
	su := &signedURL{d: d}
	if d.Status == DownloadChunked {
		if su.chunks, err = d.Chunks(); err != nil {
			return nil, err
		}
	} else {
		su.chunks = []Chunk{{Start: 0, End: max(d.Size-1, 0), URL: d.URL}}
	}
	life := time.Duration(s.minutes) * time.Minute
	margin := min(30*time.Second, life/4)
	su.usable = start.Add(life - margin)

	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) >= maxSignedURLs {
		now := s.now()
		for k, v := range s.cache {
			if !now.Before(v.usable) {
				delete(s.cache, k)
			}
		}
		if len(s.cache) >= maxSignedURLs {
			clear(s.cache)
		}
	}
	s.cache[urn] = su
	return su, nil
}

// drop forgets su after S3 refused it (expired early, or revoked). Another
// reader may already have replaced it with a fresh one; that one is kept.
func (s *signer) drop(urn string, su *signedURL) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache[urn] == su {
		delete(s.cache, urn)
	}
}

package bim360

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/bimfs/bimfs/remote"
)

// Values of SignedDownload.Status.
const (
	// DownloadComplete: URL is one signed S3 URL for the whole object.
	DownloadComplete = "complete"
	// DownloadChunked: the object is still being assembled from a chunked
	// upload; URLs maps byte ranges to one signed S3 URL per chunk.
	DownloadChunked = "chunked"
	// DownloadFallback: URL is a signed OSS URL (only with
	// public-resource-fallback=true).
	DownloadFallback = "fallback"
)

// DefaultMinutesExpiration is the signed URL lifetime asked for when a
// request leaves it zero. The service default is 2; a longer window saves
// OSS calls (1,000 a minute for all OSS endpoints together) during long
// random-access sessions, and an expired URL costs only one re-sign.
const DefaultMinutesExpiration = 10

// SignedDownloadRequest holds the options of OSSService.SignedDownload.
type SignedDownloadRequest struct {
	Bucket, Object string
	// MinutesExpiration is the URL lifetime, 1–60; 0 means
	// DefaultMinutesExpiration.
	MinutesExpiration int
	// PublicResourceFallback asks for one OSS URL instead of per-chunk S3
	// URLs while a chunked upload is being assembled.
	PublicResourceFallback bool
}

// SignedDownload is the signeds3download answer. The URLs are secrets: log
// them only through httpx.RedactURL.
type SignedDownload struct {
	Status string            `json:"status"`
	URL    string            `json:"url"`
	URLs   map[string]string `json:"urls"`
	Params map[string]any    `json:"params"`
	Size   int64             `json:"size"`
	SHA1   string            `json:"sha1"`
}

// Chunk is one part of a chunked download: bytes [Start, End] (inclusive)
// of the object are bytes [0, End-Start] of URL.
type Chunk struct {
	Start, End int64
	URL        string
}

// SignedDownload calls GET /oss/v2/buckets/{bucketKey}/objects/{objectKey}/signeds3download
// (signed_s3_download).
func (s *OSSService) SignedDownload(ctx context.Context, req *SignedDownloadRequest) (*SignedDownload, error) {
	const op = "bim360.SignedS3Download"
	q := url.Values{}
	m := req.MinutesExpiration
	if m <= 0 {
		m = DefaultMinutesExpiration
	}
	if m > 60 {
		m = 60
	}
	q.Set("minutesExpiration", strconv.Itoa(m))
	if req.PublicResourceFallback {
		q.Set("public-resource-fallback", "true")
	}
	var out SignedDownload
	u := s.c.endpoint(q, "/oss/v2/buckets/%s/objects/%s/signeds3download", req.Bucket, req.Object)
	if err := s.c.get(ctx, op, u, &out); err != nil {
		return nil, err
	}
	switch out.Status {
	case DownloadComplete, DownloadFallback:
		if out.URL == "" {
			return nil, remoteErr(op, "status "+out.Status+" without url")
		}
	case DownloadChunked:
		if _, err := out.Chunks(); err != nil {
			return nil, err
		}
	default:
		return nil, remoteErr(op, fmt.Sprintf("unknown download status %q", out.Status))
	}
	return &out, nil
}

// Chunks returns the chunk URLs of a chunked answer in byte order. The spec
// says only that the keys are byte ranges; "start-end" (optionally with a
// "bytes=" prefix or "/total" suffix) is parsed, and whether end is
// inclusive is told from how neighbouring chunks and the size meet. Gaps or
// overlaps are an error rather than a guess.
func (d *SignedDownload) Chunks() ([]Chunk, error) {
	const op = "bim360.SignedS3Download"
	if len(d.URLs) == 0 {
		return nil, remoteErr(op, "chunked answer without urls")
	}
	cs := make([]Chunk, 0, len(d.URLs))
	for k, u := range d.URLs {
		s := strings.TrimSpace(k)
		s = strings.TrimPrefix(s, "bytes=")
		s = strings.TrimPrefix(s, "bytes ")
		s, _, _ = strings.Cut(s, "/")
		a, b, ok := strings.Cut(s, "-")
		start, err1 := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
		end, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 64)
		if !ok || err1 != nil || err2 != nil || start < 0 || end < start || u == "" {
			return nil, remoteErr(op, fmt.Sprintf("unparsable chunk range %q", k))
		}
		cs = append(cs, Chunk{Start: start, End: end, URL: u})
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Start < cs[j].Start })
	exclusive := false
	switch {
	case len(cs) > 1 && cs[1].Start == cs[0].End:
		exclusive = true
	case len(cs) == 1 && d.Size > 0 && cs[0].End == d.Size:
		exclusive = true
	}
	if exclusive {
		for i := range cs {
			cs[i].End--
		}
	}
	if cs[0].Start != 0 {
		return nil, remoteErr(op, "chunk ranges do not start at 0")
	}
	for i := 1; i < len(cs); i++ {
		if cs[i].Start != cs[i-1].End+1 {
			return nil, remoteErr(op, "chunk ranges have gaps or overlaps")
		}
	}
	if d.Size > 0 && cs[len(cs)-1].End != d.Size-1 {
		return nil, remoteErr(op, fmt.Sprintf("chunk ranges end at %d, object size is %d", cs[len(cs)-1].End+1, d.Size))
	}
	return cs, nil
}

func remoteErr(op, msg string) *remote.Error {
	return &remote.Error{Kind: remote.Unavailable, Op: op, Message: msg}
}

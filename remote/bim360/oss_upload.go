package bim360

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// MaxURLsPerRequest is the most part URLs one signeds3upload call asks
// for, as the official SDKs do.
const MaxURLsPerRequest = 25

// SignedUploadRequest holds the options of OSSService.SignedUpload.
type SignedUploadRequest struct {
	Bucket, Object string
	// Parts is the number of URLs wanted (parts FirstPart…FirstPart+Parts-1);
	// 0 asks for one URL.
	Parts int
	// FirstPart is the 1-based number of the first part; 0 leaves it out.
	FirstPart int
	// UploadKey continues an upload begun earlier (more or fresh URLs);
	// empty starts a new upload.
	UploadKey string
	// MinutesExpiration is the URL lifetime, 1–60; 0 means
	// DefaultMinutesExpiration.
	MinutesExpiration int
}

// SignedUpload is the signeds3upload answer. URLs[i] is the URL of part
// FirstPart+i. The URLs are secrets: log them only through httpx.RedactURL.
type SignedUpload struct {
	UploadKey        string   `json:"uploadKey"`
	URLs             []string `json:"urls"`
	URLExpiration    string   `json:"urlExpiration"`
	UploadExpiration string   `json:"uploadExpiration"`
}

// Expires returns when the URLs expire, or the zero time if the answer
// does not say.
func (u *SignedUpload) Expires() time.Time {
	t, err := time.Parse(time.RFC3339Nano, u.URLExpiration)
	if err != nil {
		return time.Time{}
	}
	return t
}

// SignedUpload calls GET /oss/v2/buckets/{bucketKey}/objects/{objectKey}/signeds3upload
// (signed_s3_upload).
func (s *OSSService) SignedUpload(ctx context.Context, req *SignedUploadRequest) (*SignedUpload, error) {
	const op = "bim360.SignedS3Upload"
	q := url.Values{}
	if req.Parts > 0 {
		q.Set("parts", strconv.Itoa(req.Parts))
	}
	if req.FirstPart > 0 {
		q.Set("firstPart", strconv.Itoa(req.FirstPart))
	}
	if req.UploadKey != "" {
		q.Set("uploadKey", req.UploadKey)
	}
	m := req.MinutesExpiration
	if m <= 0 {
		m = DefaultMinutesExpiration
	}
	q.Set("minutesExpiration", strconv.Itoa(min(m, 60)))
	var out SignedUpload
	u := s.c.endpoint(q, "/oss/v2/buckets/%s/objects/%s/signeds3upload", req.Bucket, req.Object)
	if err := s.c.get(ctx, op, u, &out); err != nil {
		return nil, err
	}
	want := max(req.Parts, 1)
	if out.UploadKey == "" || len(out.URLs) != want {
		return nil, &remote.Error{Kind: remote.Unavailable, Op: op,
			Message: "asked for " + strconv.Itoa(want) + " upload URLs, got " + strconv.Itoa(len(out.URLs)) + " (upload key present: " + strconv.FormatBool(out.UploadKey != "") + ")"}
	}
	return &out, nil
}

// CompleteUploadRequest holds the input of OSSService.CompleteUpload.
type CompleteUploadRequest struct {
	Bucket, Object, UploadKey string
	// Size is the object size OSS checks the assembled object against.
	Size int64
	// ETags, if set, holds the ETag S3 returned for each part, in part
	// order; OSS checks the parts against them.
	ETags []string
}

type completeBody struct {
	UploadKey string   `json:"uploadKey"`
	Size      int64    `json:"size"`
	ETags     []string `json:"eTags,omitempty"`
}

// ObjectDetails is the objectDetails answer of CompleteUpload.
type ObjectDetails struct {
	BucketKey   string `json:"bucketKey"`
	ObjectID    string `json:"objectId"`
	ObjectKey   string `json:"objectKey"`
	SHA1        string `json:"sha1"`
	Size        int64  `json:"size"`
	ContentType string `json:"contentType"`
	Location    string `json:"location"`
}

// CompleteUpload calls POST /oss/v2/buckets/{bucketKey}/objects/{objectKey}/signeds3upload
// (complete_signed_s3_upload): OSS assembles the uploaded parts into the
// object. Until it succeeds the object has no content.
func (s *OSSService) CompleteUpload(ctx context.Context, req *CompleteUploadRequest) (*ObjectDetails, error) {
	const op = "bim360.CompleteSignedS3Upload"
	var out ObjectDetails
	u := s.c.endpoint(nil, "/oss/v2/buckets/%s/objects/%s/signeds3upload", req.Bucket, req.Object)
	body := completeBody{UploadKey: req.UploadKey, Size: req.Size, ETags: req.ETags}
	if err := s.c.send(ctx, op, http.MethodPost, u, "application/json", body, &out); err != nil {
		return nil, err
	}
	if out.Size != 0 && out.Size != req.Size {
		return nil, &remote.Error{Kind: remote.Unavailable, Op: op,
			Message: "storage assembled " + strconv.FormatInt(out.Size, 10) + " bytes, " + strconv.FormatInt(req.Size, 10) + " were uploaded"}
	}
	return &out, nil
}

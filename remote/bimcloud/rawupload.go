package bimcloud

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// RawUploadRequest describes a RawUpload.
type RawUploadRequest struct {
	// BlobServerURL is the blob server's base URL and SessionID an open
	// session on it.
	BlobServerURL, SessionID string
	// BlobName is the path below the project root, e.g. "/folder/file.bin".
	BlobName string
	Content  io.ReaderAt
	Size     int64
	// PartSize defaults to DefaultPartSize.
	PartSize int64
	// HTTP defaults to http.DefaultClient.
	HTTP *http.Client
}

// RawUpload runs the blob server's batch upload for one file with plain
// net/http and nothing else: begin-batch-upload, begin-upload, sequential
// raw put-blob-content-part calls, commit-upload and commit-batch-upload
// with conflict-behavior=overwrite. It does not retry, renew sessions,
// check names or hashes, or ask the Manager anything. It is the baseline
// benchmarks compare Backend.Upload with, and returns the final blob ID.
func RawUpload(ctx context.Context, req RawUploadRequest) (string, error) {
	hc := req.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	part := req.PartSize
	if part <= 0 {
		part = DefaultPartSize
	}
	post := func(op string, q url.Values, body []byte, out any) error {
		q.Set("session-id", req.SessionID)
		u := strings.TrimRight(req.BlobServerURL, "/") + "/blob-store-service/1.0/" + op + "?" + q.Encode()
		r, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			return err
		}
		if body != nil {
			r.Header.Set("Content-Type", "application/octet-stream")
		}
		resp, err := hc.Do(r)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: HTTP %d: %.200s", op, resp.StatusCode, b)
		}
		var env struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(b, &env); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if out == nil {
			return nil
		}
		return json.Unmarshal(env.Data, out)
	}
	var batch batchUpload
	if err := post("begin-batch-upload", url.Values{"description": {"raw upload"}}, nil, &batch); err != nil {
		return "", err
	}
	var us uploadSession
	if err := post("begin-upload", url.Values{"blob-name": {req.BlobName}, "namespace-name": {batch.NamespaceName}}, nil, &us); err != nil {
		return "", err
	}
	buf := make([]byte, min(part, max(req.Size, 1)))
	for off := int64(0); off < req.Size; {
		n := min(int64(len(buf)), req.Size-off)
		if k, err := req.Content.ReadAt(buf[:n], off); int64(k) < n {
			return "", fmt.Errorf("reading content at %d: %v", off, err)
		}
		q := url.Values{"upload-session-id": {us.ID}, "offset": {strconv.FormatInt(off, 10)}, "length": {strconv.FormatInt(n, 10)}}
		if err := post("put-blob-content-part", q, buf[:n], nil); err != nil {
			return "", err
		}
		off += n
	}
	if err := post("commit-upload", url.Values{"upload-session-id": {us.ID}}, nil, nil); err != nil {
		return "", err
	}
	var list []blobMetadata
	q := url.Values{"batch-upload-session-id": {batch.ID}, "conflict-behavior": {conflictOverwrite}}
	if err := post("commit-batch-upload", q, nil, &list); err != nil {
		return "", err
	}
	if len(list) != 1 {
		return "", fmt.Errorf("commit-batch-upload listed %d files", len(list))
	}
	return list[0].Standard.BlobID, nil
}

package bim360

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/bimfs/bimfs/remote/httpx"
)

// RawUploadRequest describes one RawUpload.
type RawUploadRequest struct {
	// BaseURL is the APS host; Token a bearer token with data:create.
	BaseURL, Token string
	ProjectID      string
	FolderID       string // folder URN
	Name           string
	Content        io.ReaderAt
	Size           int64
	// PartSize and Parallel shape the transfer (no floor is applied).
	PartSize int64
	Parallel int
	// CreateItem also makes the first version of a new item (POST items),
	// the last step of a Backend upload of a new file.
	CreateItem bool
	// HTTP sends every request; nil means http.DefaultClient.
	HTTP *http.Client
}

// RawUpload stores req.Content the way the upload tutorial does it, with
// plain net/http and nothing else: POST storage, GET signeds3upload for
// all parts (25 URLs a call), parallel part PUTs, POST signeds3upload to
// complete and, with CreateItem, POST items. It does not retry, refresh
// URLs or check names; only the JSON request bodies come from the same
// builders the Client uses. It is the baseline benchmarks compare
// Backend.Upload with, and returns the storage object URN.
func RawUpload(ctx context.Context, req RawUploadRequest) (string, error) {
	hc := req.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	base := strings.TrimRight(req.BaseURL, "/")
	call := func(method, u, ctype string, in, out any) error {
		var body io.Reader
		if in != nil {
			b, err := json.Marshal(in)
			if err != nil {
				return err
			}
			body = bytes.NewReader(b)
		}
		r, err := http.NewRequestWithContext(ctx, method, u, body)
		if err != nil {
			return err
		}
		r.Header.Set("Authorization", "Bearer "+req.Token)
		if in != nil {
			r.Header.Set("Content-Type", ctype)
		}
		resp, err := hc.Do(r)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 300 {
			return fmt.Errorf("%s %s: %s", method, r.URL.Path, resp.Status)
		}
		if out == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			return err
		}
		return json.NewDecoder(resp.Body).Decode(out)
	}
	esc := url.PathEscape

	var st struct{ Data Storage }
	if err := call(http.MethodPost, base+"/data/v1/projects/"+esc(req.ProjectID)+"/storage", jsonAPIType, newStorageBody(req.FolderID, req.Name), &st); err != nil {
		return "", err
	}
	bucket, object, ok := ParseStorageURN(st.Data.ID)
	if !ok {
		return "", fmt.Errorf("storage answer without an object URN")
	}
	ossURL := base + "/oss/v2/buckets/" + esc(bucket) + "/objects/" + esc(object) + "/signeds3upload"

	ps := max(req.PartSize, 1)
	n := max(int((req.Size+ps-1)/ps), 1)
	urls := make([]string, 0, n)
	var key string
	for first := 1; first <= n; first += MaxURLsPerRequest {
		q := url.Values{"parts": {fmt.Sprint(min(MaxURLsPerRequest, n-first+1))}, "firstPart": {fmt.Sprint(first)}}
		if key != "" {
			q.Set("uploadKey", key)
		}
		var su SignedUpload
		if err := call(http.MethodGet, ossURL+"?"+q.Encode(), "", nil, &su); err != nil {
			return "", err
		}
		key = su.UploadKey
		urls = append(urls, su.URLs...)
	}
	if len(urls) != n {
		return "", fmt.Errorf("got %d part URLs for %d parts", len(urls), n)
	}

	etags := make([]string, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(req.Parallel, 1))
	for i := range n {
		g.Go(func() error {
			off := int64(i) * ps
			ln := min(ps, req.Size-off)
			var body io.Reader = http.NoBody
			if ln > 0 {
				body = io.NewSectionReader(req.Content, off, ln)
			}
			r, err := http.NewRequestWithContext(gctx, http.MethodPut, urls[i], body)
			if err != nil {
				return err
			}
			r.ContentLength = ln
			resp, err := hc.Do(r)
			if err != nil {
				return fmt.Errorf("part %d: %s", i+1, httpx.RedactError(err))
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("part %d: %s", i+1, resp.Status)
			}
			etags[i] = strings.Trim(resp.Header.Get("ETag"), `"`)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return "", err
	}
	if err := call(http.MethodPost, ossURL, "application/json", completeBody{UploadKey: key, Size: req.Size, ETags: etags}, nil); err != nil {
		return "", err
	}
	if req.CreateItem {
		item := newItemBody(req.FolderID, req.Name, ItemExtensionBIM360File, VersionExtensionBIM360File, st.Data.ID)
		if err := call(http.MethodPost, base+"/data/v1/projects/"+esc(req.ProjectID)+"/items", jsonAPIType, item, nil); err != nil {
			return "", err
		}
	}
	return st.Data.ID, nil
}

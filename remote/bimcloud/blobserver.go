package bimcloud

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/httpx"
)

// Blob Server media types.
const (
	ctAuthRequest   = "application/vnd.graphisoft.teamwork.session-service-1.0.authentication-request-1.0+json"
	ctDetailedError = "application/vnd.graphisoft.teamwork.generic-service-1.0.detailed-error-1.0+json"
)

// probeTimeout bounds one reachability probe of a connection URL: a
// firewalled address must not stall the first read for minutes.
// (workflow.py probes without a timeout and swallows every error; here
// each failure is kept for the final "unreachable" message.)
const probeTimeout = 5 * time.Second

// blobServer is the Blob Server API of one account. Servers are addressed
// by base URL (a model server's chosen connection URL); calls carry the
// session ID in the query and no bearer token.
type blobServer struct {
	c     *httpx.Client
	probe *http.Client
}

func newBlobServer(cfg Config) *blobServer {
	p := cfg.withTransport(cfg.baseTransport())
	p.Timeout = probeTimeout
	return &blobServer{c: cfg.blobClient(), probe: p}
}

func joinURL(base, path string, q url.Values) string {
	s := strings.TrimRight(base, "/") + "/" + path
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// Probe is GET <base>/application-server-service/get-runtime-id, answered
// by every reachable model server; any 2xx counts (workflow.py
// find_working_model_server_url). It is tried once: the caller moves on to
// the next URL instead of retrying.
func (b *blobServer) Probe(ctx context.Context, base string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, joinURL(base, "application-server-service/get-runtime-id", nil), nil)
	if err != nil {
		return err
	}
	resp, err := b.probe.Do(req)
	if err != nil {
		return fmt.Errorf("%s", httpx.RedactError(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered HTTP %d", httpx.RedactURL(base), resp.StatusCode)
	}
	return nil
}

// envelope is the Blob Server's {"data-content-type": …, "data": …} body.
type envelope struct {
	DataContentType string          `json:"data-content-type"`
	Data            json.RawMessage `json:"data"`
}

// decodeEnvelope reads a JSON answer. The model server answers some
// invalid routes with 200 and a non-JSON body (a legacy quirk noted in
// blobserverapi.py), so a 200 that is not an envelope is an error.
func decodeEnvelope(op string, resp *http.Response, out any) error {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return &remote.Error{Kind: remote.Unavailable, Op: op, Message: httpx.RedactError(err)}
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil || len(env.Data) == 0 {
		return &remote.Error{Kind: remote.Unavailable, Op: op, Status: resp.StatusCode,
			Message: "the blob server answered without a JSON payload (wrong URL or server version?): " + httpx.Excerpt(body)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return &remote.Error{Kind: remote.Unavailable, Op: op, Message: "malformed payload", Err: err}
	}
	return nil
}

// blobSession is the spec's BlobServerSessionResponse (times in seconds).
type blobSession struct {
	ID             string  `json:"id"`
	ExpirationTime jsonInt `json:"expiration-time"`
}

// CreateSession is POST <base>/session-service/1.0/create-session.
func (b *blobServer) CreateSession(ctx context.Context, base, username, ticket string) (string, error) {
	const op = "bimcloud.CreateSession"
	body, err := json.Marshal(map[string]any{
		"data-content-type": ctAuthRequest,
		"data":              map[string]string{"username": username, "ticket": ticket},
	})
	if err != nil {
		return "", err
	}
	u := joinURL(base, "session-service/1.0/create-session", nil)
	resp, err := b.c.Do(ctx, op, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", ctAuthRequest)
		}
		return req, err
	})
	if err != nil {
		return "", err
	}
	var s blobSession
	if err := decodeEnvelope(op, resp, &s); err != nil {
		return "", err
	}
	if s.ID == "" {
		return "", errorf(remote.Unavailable, op, "the blob server sent no session ID")
	}
	return s.ID, nil
}

// CloseSession is POST <base>/session-service/1.0/close-session.
func (b *blobServer) CloseSession(ctx context.Context, base, session string) error {
	const op = "bimcloud.CloseSession"
	u := joinURL(base, "session-service/1.0/close-session", url.Values{"session-id": {session}})
	resp, err := b.c.Do(ctx, op, func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	})
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return nil
}

// GetBlobContent is GET <base>/blob-store-service/1.0/get-blob-content. It
// asks for bytes [off, end) with a Range header (end < 0: to the end of the
// blob). The spec documents no Range support; a server that ignores the
// header answers 200 with the whole blob, and the caller skips to off.
// The response is returned open, with status 200 or 206.
func (b *blobServer) GetBlobContent(ctx context.Context, base, session, blobID string, off, end int64) (*http.Response, error) {
	const op = "bimcloud.GetBlobContent"
	u := joinURL(base, "blob-store-service/1.0/get-blob-content", url.Values{"session-id": {session}, "blob-id": {blobID}})
	rng := "bytes=" + strconv.FormatInt(off, 10) + "-"
	if end > off {
		rng += strconv.FormatInt(end-1, 10)
	}
	resp, err := b.c.Do(ctx, op, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err == nil {
			req.Header.Set("Range", rng)
		}
		return req, err
	})
	if err != nil {
		return nil, err
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case ct == ctDetailedError:
		// An error in a success status: decode it like a 430.
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, decodeBlobError(op, resp, body)
	case resp.StatusCode == http.StatusOK, resp.StatusCode == http.StatusPartialContent:
		return resp, nil
	}
	resp.Body.Close()
	return nil, &remote.Error{Kind: remote.Unavailable, Op: op, Status: resp.StatusCode, Message: "unexpected status"}
}

// contentRange parses a Content-Range header ("bytes a-b/total"): the
// first byte position and the total size, -1 when the server gives "*".
func contentRange(h string) (start, total int64, ok bool) {
	s, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes ")
	if !ok {
		return 0, 0, false
	}
	rng, tot, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, false
	}
	a, _, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	if err != nil {
		return 0, 0, false
	}
	if tot = strings.TrimSpace(tot); tot == "*" {
		return start, -1, true
	}
	total, err = strconv.ParseInt(tot, 10, 64)
	return start, total, err == nil
}

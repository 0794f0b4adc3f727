package bim360

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/httpx"
)

// Config describes one BIM 360 / ACC account.
type Config struct {
	// Account is the local name of this login (used in token file names
	// and in "run `bimfs login <Account>`" messages). Required.
	Account string
	// BaseURL is the APS host; "" means DefaultBaseURL.
	BaseURL string
	// ClientID identifies the APS app. Required.
	ClientID string
	// ClientSecret is set for confidential apps and for two-legged use;
	// public (PKCE) clients leave it empty.
	ClientSecret string
	// TwoLegged selects client-credentials tokens, for unattended servers.
	// The app must be provisioned in the BIM 360 account, and UserID should
	// name the user whose permissions apply.
	TwoLegged bool
	// UserID is sent as x-user-id on every Data Management and OSS call.
	UserID string
	// RedirectURI is the loopback callback of Login; "" means
	// DefaultRedirectURI (http://127.0.0.1:8765/callback), which must be
	// registered as the app's callback URL.
	RedirectURI string
	// TokenStore holds the three-legged token; required unless TwoLegged.
	TokenStore *httpx.TokenStore
	// HTTP is the base client (TLS settings, proxies); nil means a default
	// client. Its transport must not add authentication: the backend adds
	// bearer tokens for APS and sends signed S3 URLs without them.
	HTTP *http.Client
	// Logger receives retries and failures; nil means slog.Default().
	Logger *slog.Logger
	// MaxAttempts bounds tries per HTTP call; 0 means httpx's default.
	MaxAttempts int
	// URLMinutes is the signed download URL lifetime asked for (1–60); 0
	// means DefaultMinutesExpiration.
	URLMinutes int
}

func (cfg *Config) setDefaults() error {
	const op = "bim360.Config"
	if cfg.Account == "" {
		return remote.Errorf(remote.Invalid, op, "account name is empty")
	}
	if cfg.ClientID == "" {
		return remote.Errorf(remote.Invalid, op, "account %s has no client ID", cfg.Account)
	}
	if cfg.TwoLegged && cfg.ClientSecret == "" {
		return remote.Errorf(remote.Invalid, op, "account %s: two-legged access needs a client secret", cfg.Account)
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.RedirectURI == "" {
		cfg.RedirectURI = DefaultRedirectURI
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return nil
}

func (cfg *Config) baseClient() *http.Client {
	if cfg.HTTP != nil {
		return cfg.HTTP
	}
	return defaultHTTP
}

// defaultHTTP has no overall timeout (bodies of large ranges may take long);
// the transport bounds connection setup and waiting for headers.
var defaultHTTP = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	ForceAttemptHTTP2:     true,
	MaxIdleConnsPerHost:   32,
	IdleConnTimeout:       90 * time.Second,
	TLSHandshakeTimeout:   15 * time.Second,
	ResponseHeaderTimeout: 60 * time.Second,
}}

// Backend is a read-only remote.Backend over one APS account.
//
// The tree is account → hubs (BIM 360 / ACC accounts) → projects → top
// folders → folders and files; see ids.go for the entry ID scheme. Browsing
// is designed around the rate limits (per client ID and minute: GET tip 50,
// folder contents 300, OSS 1,000): a folder costs one contents call per 200
// entries, which also carries every file's tip version, so listings answer
// stat and staleness checks; the tip endpoint is never called.
type Backend struct {
	cfg     Config
	tokens  *httpx.TokenSource
	api     *Client
	s3      *httpx.Client
	signer  *signer
	checker *itemChecker
	log     *slog.Logger
}

var _ remote.Backend = (*Backend)(nil)

// New returns the backend for cfg. A three-legged configuration loads the
// stored token (failing with Unauthenticated and "run `bimfs login`" if
// there is none); it is refreshed when needed. A two-legged one fetches
// client-credentials tokens on first use.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	var ts *httpx.TokenSource
	if cfg.TwoLegged {
		ts = httpx.NewTokenSource(cfg.Account, nil, cfg.clientCredentialsFunc(), nil)
	} else {
		if cfg.TokenStore == nil {
			return nil, remote.Errorf(remote.Invalid, "bim360.New", "account %s has no token store", cfg.Account)
		}
		tok, err := cfg.TokenStore.Load()
		if err != nil {
			if remote.IsKind(err, remote.Unauthenticated) {
				return nil, cfg.loginNeeded("bim360.New", "not logged in", err)
			}
			return nil, &remote.Error{Kind: remote.Invalid, Op: "bim360.New", Message: "reading the stored login", Err: err}
		}
		ts = httpx.NewTokenSource(cfg.Account, tok, cfg.refreshFunc(), cfg.TokenStore)
	}
	base := cfg.baseClient()
	apiHTTP := &http.Client{
		Transport: &httpx.BearerTransport{Source: ts, Base: base.Transport},
		Jar:       base.Jar,
		Timeout:   base.Timeout,
		// The bearer token is added below the client, so a redirect would
		// carry it to wherever it points: only same-host redirects.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 || !strings.EqualFold(req.URL.Host, via[0].URL.Host) {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	api, err := NewClient(cfg.BaseURL, &httpx.Client{HTTP: apiHTTP, MaxAttempts: cfg.MaxAttempts, Logger: cfg.Logger}, cfg.UserID)
	if err != nil {
		return nil, remote.Errorf(remote.Invalid, "bim360.New", "%v", err)
	}
	b := &Backend{
		cfg:    cfg,
		tokens: ts,
		api:    api,
		s3:     &httpx.Client{HTTP: base, MaxAttempts: cfg.MaxAttempts, Logger: cfg.Logger, DecodeError: decodeS3Error},
		log:    cfg.Logger,
	}
	b.signer = newSigner(api.OSS, cfg.URLMinutes)
	b.checker = newItemChecker(api.Items)
	return b, nil
}

// API returns the underlying APS client, for commands that need calls the
// remote model does not cover.
func (b *Backend) API() *Client { return b.api }

// Features implements remote.Backend.
func (b *Backend) Features() remote.Features { return remote.Features{RangeReads: true} }

// Close implements remote.Backend.
func (b *Backend) Close() error {
	b.cfg.baseClient().CloseIdleConnections()
	return nil
}

// Root implements remote.Backend: the account directory, listing hubs.
func (b *Backend) Root(ctx context.Context) (remote.Entry, error) {
	return remote.Entry{ID: rootID, Name: b.cfg.Account, Dir: true, ReadOnly: true}, nil
}

// ReadRange implements remote.Backend. v names the version to read; its Ref
// (the storage object URN) comes from a listing or Stat. A zero v reads the
// current tip. The returned reader stays bound to ctx.
//
// Before the first read of a file (and again every itemCheckTTL) one GET
// item confirms that the file still exists: a file deleted since it was
// listed reads as NotFound, although APS keeps the storage of its versions.
// Signed URLs are then reused for all reads of the object.
func (b *Backend) ReadRange(ctx context.Context, id remote.ID, v remote.Version, off, length int64) (io.ReadCloser, error) {
	e, ok := parseID(id)
	if !ok {
		return nil, remote.Errorf(remote.NotFound, opRead, "unknown entry %q", id)
	}
	if e.kind != kindItem {
		return nil, remote.Errorf(remote.Invalid, opRead, "%q is not a file", id)
	}
	if off < 0 || length < 0 {
		return nil, remote.Errorf(remote.Invalid, opRead, "invalid range %d+%d", off, length)
	}
	tip, err := b.checker.check(ctx, e.project, e.item)
	if err != nil {
		return nil, notFound(opRead, id, err)
	}
	urn := v.Ref
	switch {
	case urn != "":
	case v.ID == "" || v.ID == tip.ID:
		urn = tip.Ref
	default:
		ver, err := b.api.Versions.Get(ctx, e.project, v.ID)
		if err != nil {
			return nil, notFound(opRead, id, err)
		}
		if ver.Deleted() {
			return nil, remote.Errorf(remote.NotFound, opRead, "version %s marks a deletion", v.ID)
		}
		urn = ver.StorageURN()
	}
	if _, _, ok := ParseStorageURN(urn); !ok {
		return nil, remote.Errorf(remote.Unavailable, opRead, "version %s has no readable storage object", v.ID)
	}
	if length == 0 {
		return io.NopCloser(strings.NewReader("")), nil
	}
	r := &rangeReader{ctx: ctx, s: b.signer, s3: b.s3, urn: urn, pos: off, end: off + length}
	if r.end < off { // overflow
		r.end = 1<<63 - 1
	}
	if err := r.open(); err != nil {
		return nil, notFound(opRead, id, err)
	}
	return r, nil
}

// notFound gives a NotFound error without a message one naming the entry.
// Errors may be shared by concurrent callers (singleflight), so a copy is
// changed, never the original.
func notFound(op string, id remote.ID, err error) error {
	var re *remote.Error
	if remote.IsKind(err, remote.NotFound) && errors.As(err, &re) && re.Message == "" {
		cp := *re
		cp.Message = string(id) + " does not exist"
		if cp.Op == "" {
			cp.Op = op
		}
		return &cp
	}
	return err
}

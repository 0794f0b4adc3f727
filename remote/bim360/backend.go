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
	"github.com/bimfs/bimfs/remote/bim360/assets"
	"github.com/bimfs/bimfs/remote/bim360/dataconnector"
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
	// ServiceAccount, if set, is the Autodesk ID of a Secure Service
	// Account the mount acts as: tokens come from JWT assertions signed
	// with ServiceAccountKeyFile (jwt-bearer grant, serviceaccount.go),
	// with no browser login and no stored token. It needs ClientSecret.
	ServiceAccount string
	// ServiceAccountKeyFile holds the account's private key: the JSON
	// answer of create-service-account-key, or a PEM RSA key. It must be
	// readable by its owner only (mode 0600).
	ServiceAccountKeyFile string
	// ServiceAccountKeyID is the key's ID (kid); empty means the one the
	// JSON key file names.
	ServiceAccountKeyID string
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
	// MaxRetryWait caps the wait a Retry-After header may ask for before
	// one retry (httpx.Client.MaxRetryAfter); 0 means httpx's default.
	MaxRetryWait time.Duration
	// URLMinutes is the lifetime asked for signed download and upload URLs
	// (1–60); 0 means DefaultMinutesExpiration.
	URLMinutes int
	// PartSize is the size of upload parts; 0 means DefaultPartSize (16
	// MiB). Values below MinPartSize (5 MiB) are raised to it, and files
	// that would need more than MaxParts parts use larger parts.
	PartSize int64
	// UploadParallel is how many parts of one upload are sent at once; 0
	// means DefaultUploadParallel (4).
	UploadParallel int
	// NoDataConnector hides the read-only "Data Connector" folder of each
	// hub (shown by default).
	NoDataConnector bool
	// NoAssets hides the read-only "Assets" folder of each project (shown
	// by default).
	NoAssets bool
	// AssetsPrefix is the Assets API path prefix; "" means
	// assets.DefaultPrefix (/construction/assets/), with the older
	// /bim360/assets/ tried when a server refuses it.
	AssetsPrefix string
	// ExtrasTTL is how long Data Connector and Assets listings are reused
	// before the next listing asks again; 0 means 30 seconds.
	ExtrasTTL time.Duration
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
	if cfg.ServiceAccount != "" {
		switch {
		case cfg.TwoLegged:
			return remote.Errorf(remote.Invalid, op, "account %s: a service account and two-legged access exclude each other", cfg.Account)
		case cfg.ClientSecret == "":
			return remote.Errorf(remote.Invalid, op, "account %s: a service account needs the client secret (the assertion exchange is for confidential clients)", cfg.Account)
		case cfg.ServiceAccountKeyFile == "":
			return remote.Errorf(remote.Invalid, op, "account %s: a service account needs its private key file", cfg.Account)
		}
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
	if cfg.PartSize <= 0 {
		cfg.PartSize = DefaultPartSize
	}
	cfg.PartSize = max(cfg.PartSize, MinPartSize)
	if cfg.UploadParallel <= 0 {
		cfg.UploadParallel = DefaultUploadParallel
	}
	if cfg.URLMinutes <= 0 {
		cfg.URLMinutes = DefaultMinutesExpiration
	}
	cfg.URLMinutes = min(cfg.URLMinutes, 60)
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

// Backend is a remote.Backend and remote.Writer over one APS account.
//
// The tree is account → hubs (BIM 360 / ACC accounts) → projects → top
// folders → folders and files; see ids.go for the entry ID scheme. Browsing
// is designed around the rate limits (per client ID and minute: GET tip 50,
// folder contents 300, OSS 1,000): a folder costs one contents call per 200
// entries, which also carries every file's tip version, so listings answer
// stat and staleness checks; the tip endpoint is never called.
//
// Writes follow the BIM 360 upload and folder flows; writer.go and
// rename.go say how each POSIX operation maps onto them.
type Backend struct {
	cfg      Config
	tokens   *httpx.TokenSource
	api      *Client
	s3       *httpx.Client
	signer   *signer
	up       *uploader
	tree     *treeFacts
	mkdir    *mkdirModes
	log      *slog.Logger
	extraAPI *httpx.Client         // API calls of the sources below
	dc       *dataconnector.Source // nil when configured off
	assets   *assets.Source        // nil when configured off
	// hubs remembers each listed project's hub, for Locate.
	hubs projectHubs
}

var (
	_ remote.Backend = (*Backend)(nil)
	_ remote.Writer  = (*Backend)(nil)
)

// New returns the backend for cfg. A three-legged configuration loads the
// stored token (failing with Unauthenticated and "run `bimfs login`" if
// there is none); it is refreshed when needed. A two-legged one fetches
// client-credentials tokens on first use.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	var ts *httpx.TokenSource
	switch {
	case cfg.ServiceAccount != "":
		key, err := loadServiceAccountKey("bim360.New", cfg.ServiceAccountKeyFile, cfg.ServiceAccountKeyID)
		if err != nil {
			return nil, err
		}
		ts = httpx.NewTokenSource(cfg.Account, nil, cfg.serviceAccountFunc(key), nil)
	case cfg.TwoLegged:
		ts = httpx.NewTokenSource(cfg.Account, nil, cfg.clientCredentialsFunc(), nil)
	default:
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
	api, err := NewClient(cfg.BaseURL, &httpx.Client{HTTP: apiHTTP, MaxAttempts: cfg.MaxAttempts, MaxRetryAfter: cfg.MaxRetryWait, Logger: cfg.Logger}, cfg.UserID)
	if err != nil {
		return nil, remote.Errorf(remote.Invalid, "bim360.New", "%v", err)
	}
	b := &Backend{
		cfg:    cfg,
		tokens: ts,
		api:    api,
		s3:     &httpx.Client{HTTP: base, MaxAttempts: cfg.MaxAttempts, MaxRetryAfter: cfg.MaxRetryWait, Logger: cfg.Logger, DecodeError: decodeS3Error},
		log:    cfg.Logger,
	}
	b.signer = newSigner(api.OSS, cfg.URLMinutes)
	b.up = &uploader{oss: api.OSS, s3: b.s3, partSize: cfg.PartSize, minPart: MinPartSize,
		parallel: cfg.UploadParallel, minutes: cfg.URLMinutes, now: time.Now, retryDelay: time.Second}
	b.tree = newTreeFacts()
	b.mkdir = newMkdirModes()
	extraHTTP := &httpx.Client{HTTP: apiHTTP, MaxAttempts: cfg.MaxAttempts, Logger: cfg.Logger, DecodeError: DecodeError}
	b.extraAPI = extraHTTP
	if !cfg.NoDataConnector {
		dcc, err := dataconnector.NewClient(cfg.BaseURL, extraHTTP, cfg.UserID)
		if err != nil {
			return nil, remote.Errorf(remote.Invalid, "bim360.New", "%v", err)
		}
		b.dc = dataconnector.NewSource(dcc, b.s3, cfg.ExtrasTTL, cfg.Logger)
	}
	if !cfg.NoAssets {
		ac, err := assets.NewClient(cfg.BaseURL, cfg.AssetsPrefix, extraHTTP, cfg.UserID)
		if err != nil {
			return nil, remote.Errorf(remote.Invalid, "bim360.New", "%v", err)
		}
		b.assets = assets.NewSource(ac, cfg.ExtrasTTL, cfg.Logger)
	}
	return b, nil
}

// API returns the underlying APS client, for commands that need calls the
// remote model does not cover.
func (b *Backend) API() *Client { return b.api }

// Features implements remote.Backend.
func (b *Backend) Features() remote.Features {
	return remote.Features{RangeReads: true, Writable: true}
}

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
// (the storage object URN) comes from a listing or Stat and makes the read
// cost no Data Management call at all. A v without Ref costs one GET
// version, a zero v (the current tip) one GET item. The returned reader
// stays bound to ctx.
//
// Reads do not confirm that the file still exists: versions are immutable
// and stay readable after a delete, and checking would spend the GET item
// budget (300 a minute) on every file of a `cp -r`. The filesystem notices
// deletions when it revalidates through the parent's listing.
func (b *Backend) ReadRange(ctx context.Context, id remote.ID, v remote.Version, off, length int64) (io.ReadCloser, error) {
	if src, owned, err := b.extra(opRead, id); owned {
		if err != nil {
			return nil, err
		}
		return src.ReadRange(ctx, id, v, off, length)
	}
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
	urn := v.Ref
	switch {
	case urn != "":
	case v.ID == "":
		r, err := b.api.Items.Get(ctx, e.project, e.item)
		if err != nil {
			return nil, notFound(opRead, id, err)
		}
		tip, found := r.Tip()
		if !found {
			return nil, remote.Errorf(remote.Unavailable, opRead, "item %s came without its tip version", e.item)
		}
		if live, why := alive(&r.Data, tip); !live {
			return nil, remote.Errorf(remote.NotFound, opRead, "%s", why)
		}
		urn = tip.StorageURN()
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

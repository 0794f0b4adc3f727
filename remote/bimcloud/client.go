// Package bimcloud implements remote.Backend, remote.Watcher and
// remote.Writer for GRAPHISOFT BIMcloud: the Manager's management/client
// API for the resource tree, OAuth2, the change feed and tree changes, and
// the Blob Server (a role of every model server) for file content, read
// with get-blob-content and written with batch uploads.
//
// Write semantics in brief: file IDs never change (a new version of a
// file is a new content revision of the same blob); folders cannot be
// renamed or moved (the API has no call for it: Unsupported); a rename
// over an existing file deletes that file and keeps the renamed one's
// identity (see Backend.Rename).
//
// The client follows the 2023.2 OpenAPI document. Where the vendor's
// Python demo (github.com/GRAPHISOFT/bimcloud-api lib/*.py) sends a call in
// another form, the client sends the spec's form first and falls back to
// the demo's only when the server has no route for the spec's (404/405),
// remembering per Manager which form worked (forms.go); where the spec
// leaves a gap (no body declared, no paging parameters) the client fills it
// the way the demo does. Each such place is marked "Spec vs demo:" in a
// comment. A 404 is never a missing file: BIMcloud reports those with its
// own error codes, so a 404 means the server lacks the call (Unsupported).
package bimcloud

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/httpx"
)

// Defaults for Config fields left zero.
const (
	DefaultClientID     = "bimfs"
	DefaultPollInterval = 5 * time.Second
	// DefaultPartSize is the chunk size of uploads: workflow.py uses 40 KB
	// "for the DEMO but in real life it should be around several
	// megabytes".
	DefaultPartSize = 8 << 20
	// DefaultJobPollInterval is how often RemoveAll asks about its job
	// (workflow.py polls every 0.1 s).
	DefaultJobPollInterval = 100 * time.Millisecond
	// RootID is the Manager's literal ID of the "Project Root" folder.
	RootID = "projectRoot"
)

// Config describes one BIMcloud account.
type Config struct {
	// Account names the login (token file, messages such as
	// "run bimfs login <Account>").
	Account string
	// ManagerURL is the BIMcloud Manager's base URL, e.g.
	// https://bimcloud.example.com:22000. The API lives below
	// ManagerURL/management/client/.
	ManagerURL string
	// ClientID is sent as the OAuth2 client_id; BIMcloud accepts any
	// string. Default DefaultClientID.
	ClientID string
	// TokenStore keeps the login; nil means httpx.TokenPath(Account).
	TokenStore *httpx.TokenStore
	// HTTP is the base client (TLS settings, proxies); its Transport is
	// wrapped, never modified. nil means http.DefaultClient.
	HTTP *http.Client
	// Logger receives operational messages; nil means slog.Default().
	Logger *slog.Logger
	// PollInterval is the change-feed polling period; default
	// DefaultPollInterval.
	PollInterval time.Duration
	// PartSize is the size of upload chunks (put-blob-content-part); two
	// buffers of this size are held per upload in flight (one being sent,
	// the next being read). Default DefaultPartSize.
	PartSize int64
	// JobPollInterval is how often RemoveAll polls its delete job; default
	// DefaultJobPollInterval.
	JobPollInterval time.Duration
	// ListingTTL is how long this backend's own listing of a file (List,
	// Stat) counts as current for opening it: within it a read starts
	// without asking the Manager for the version first (mount option
	// metadata_ttl). The bytes are verified after the last one either way.
	// Zero asks before every read.
	ListingTTL time.Duration
	// MaxAttempts bounds the tries per request (httpx.Client); zero means
	// httpx.DefaultMaxAttempts.
	MaxAttempts int
	// MaxRetryWait caps the wait a Retry-After header may ask for before
	// one retry (httpx.Client.MaxRetryAfter); zero means
	// httpx.DefaultMaxRetryAfter.
	MaxRetryWait time.Duration
}

// withDefaults validates cfg and fills in defaults.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Account == "" {
		return cfg, errors.New("bimcloud: Config.Account is empty")
	}
	u, err := url.Parse(cfg.ManagerURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cfg, fmt.Errorf("bimcloud: account %q: manager URL %q is not an http(s) URL", cfg.Account, cfg.ManagerURL)
	}
	cfg.ManagerURL = strings.TrimRight(cfg.ManagerURL, "/")
	if cfg.ClientID == "" {
		cfg.ClientID = DefaultClientID
	}
	if cfg.TokenStore == nil {
		p, err := httpx.TokenPath(cfg.Account)
		if err != nil {
			return cfg, fmt.Errorf("bimcloud: locating token file: %w", err)
		}
		cfg.TokenStore = &httpx.TokenStore{Path: p}
	}
	if cfg.HTTP == nil {
		cfg.HTTP = http.DefaultClient
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.PartSize <= 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.JobPollInterval <= 0 {
		cfg.JobPollInterval = DefaultJobPollInterval
	}
	return cfg, nil
}

// apiURL returns the URL of a management/client endpoint.
func (cfg Config) apiURL(endpoint string, q url.Values) string {
	s := cfg.ManagerURL + "/management/client/" + endpoint
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// baseTransport is the transport of the configured base client.
func (cfg Config) baseTransport() http.RoundTripper {
	if cfg.HTTP.Transport != nil {
		return cfg.HTTP.Transport
	}
	return http.DefaultTransport
}

// withTransport returns a copy of the base client sending through rt.
func (cfg Config) withTransport(rt http.RoundTripper) *http.Client {
	c := *cfg.HTTP
	c.Transport = rt
	return &c
}

// managerClient is the httpx client for the Manager API: bearer
// authentication with one forced refresh on 401, and Manager error bodies.
func (cfg Config) managerClient(ts *httpx.TokenSource) *httpx.Client {
	hc := cfg.withTransport(&httpx.BearerTransport{Source: ts, Base: cfg.baseTransport()})
	return cfg.httpxClient(hc, decodeManagerError(cfg.Account))
}

// anonClient is the httpx client for Manager calls made before a token
// exists (polling for the authorization code).
func (cfg Config) anonClient() *httpx.Client {
	return cfg.httpxClient(cfg.HTTP, decodeManagerError(cfg.Account))
}

// blobClient is the httpx client for Blob Servers, which authenticate by
// session ID in the query, never by bearer token.
func (cfg Config) blobClient() *httpx.Client {
	return cfg.httpxClient(cfg.HTTP, decodeBlobError)
}

// httpxClient is an httpx client over hc with the configured retries and
// logger; decode reads the error bodies of the API it talks to.
func (cfg Config) httpxClient(hc *http.Client, decode httpx.ErrorDecoder) *httpx.Client {
	return &httpx.Client{HTTP: hc, MaxAttempts: cfg.MaxAttempts, MaxRetryAfter: cfg.MaxRetryWait, DecodeError: decode, Logger: cfg.Logger}
}

// errorf builds a *remote.Error of kind with a formatted message.
func errorf(kind remote.Kind, op, format string, args ...any) *remote.Error {
	return remote.Errorf(kind, op, format, args...)
}

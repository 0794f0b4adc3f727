// Package wiring turns configured accounts into backends: it is the only
// place that knows every concrete service.
package wiring

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/bimfs/bimfs/mountopts"
	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bim360"
	"github.com/bimfs/bimfs/remote/bimcloud"
	"github.com/bimfs/bimfs/remote/httpx"
)

// Env is what every backend constructor shares.
type Env struct {
	// TokenDir holds one token file per account; "" means the user's
	// config directory (~/.config/bimfs/tokens).
	TokenDir string
	Logger   *slog.Logger
	// InsecureSkipVerify disables TLS certificate checks (opt-in only).
	InsecureSkipVerify bool
	// WrapTransport, if set, wraps the HTTP transport of every backend
	// (API call logging and metrics).
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// TokenStore returns the token file of account.
func (e Env) TokenStore(account string) (*httpx.TokenStore, error) {
	if e.TokenDir != "" {
		return &httpx.TokenStore{Path: filepath.Join(e.TokenDir, account+".json")}, nil
	}
	p, err := httpx.TokenPath(account)
	if err != nil {
		return nil, fmt.Errorf("locating token file: %w", err)
	}
	return &httpx.TokenStore{Path: p}, nil
}

func (e Env) httpClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 32
	// A server that accepts a request and never answers must not hang a
	// read for ever; the retry layer takes over after this.
	t.ResponseHeaderTimeout = 2 * time.Minute
	if e.InsecureSkipVerify {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	if e.WrapTransport != nil {
		return &http.Client{Transport: e.WrapTransport(t)}
	}
	return &http.Client{Transport: t}
}

func (e Env) logger() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.Default()
}

func (e Env) bim360Config(a mountopts.Account) (bim360.Config, error) {
	store, err := e.TokenStore(a.Name)
	if err != nil {
		return bim360.Config{}, err
	}
	secret, err := a.ReadSecret()
	if err != nil {
		return bim360.Config{}, err
	}
	return bim360.Config{
		Account:      a.Name,
		BaseURL:      a.BaseURL,
		ClientID:     a.ClientID,
		ClientSecret: secret,
		TwoLegged:    a.TwoLegged,
		UserID:       a.UserID,
		RedirectURI:  a.RedirectURI,
		// A service account signs its own tokens (no browser, no token file).
		ServiceAccount:        a.ServiceAccount,
		ServiceAccountKeyFile: a.ServiceAccountKeyFile,
		ServiceAccountKeyID:   a.ServiceAccountKeyID,
		TokenStore:            store,
		HTTP:                  e.httpClient(),
		Logger:                e.logger().With("account", a.Name),

		NoDataConnector: a.NoDataConnector,
		NoAssets:        a.NoAssets,
		AssetsPrefix:    a.AssetsPrefix,
		ExtrasTTL:       a.ExtrasTTL,
	}, nil
}

func (e Env) bimcloudConfig(a mountopts.Account, o *mountopts.Options) (bimcloud.Config, error) {
	store, err := e.TokenStore(a.Name)
	if err != nil {
		return bimcloud.Config{}, err
	}
	cfg := bimcloud.Config{
		Account:    a.Name,
		ManagerURL: a.BaseURL,
		ClientID:   a.ClientID,
		TokenStore: store,
		HTTP:       e.httpClient(),
		Logger:     e.logger().With("account", a.Name),
	}
	if o != nil {
		cfg.PollInterval = o.PollInterval
		cfg.MaxRetryWait = o.MaxRetryWait
		cfg.ListingTTL = o.MetadataTTL
	}
	return cfg, nil
}

// Open connects one account.
func Open(ctx context.Context, e Env, a mountopts.Account, o *mountopts.Options) (remote.Backend, error) {
	switch a.Service {
	case mountopts.ServiceBIM360:
		cfg, err := e.bim360Config(a)
		if err != nil {
			return nil, err
		}
		if o != nil {
			cfg.MaxRetryWait = o.MaxRetryWait
			cfg.NoDataConnector = cfg.NoDataConnector || o.NoDataConnector
			cfg.NoAssets = cfg.NoAssets || o.NoAssets
		}
		return bim360.New(ctx, cfg)
	case mountopts.ServiceBIMcloud:
		cfg, err := e.bimcloudConfig(a, o)
		if err != nil {
			return nil, err
		}
		return bimcloud.New(ctx, cfg)
	}
	return nil, fmt.Errorf("account %q: unknown service %q", a.Name, a.Service)
}

// Identity names what account a reaches: its service, server, app and
// user. The filesystem keys cached bytes by it, so two accounts or servers
// never share cache entries even where their IDs coincide.
func Identity(a mountopts.Account) string {
	return strings.Join([]string{a.Service, strings.TrimRight(a.BaseURL, "/"), a.ClientID, a.UserID}, " ")
}

// Login runs the interactive login of account; open shows the user a URL.
func Login(ctx context.Context, e Env, a mountopts.Account, open func(url string) error) error {
	switch a.Service {
	case mountopts.ServiceBIM360:
		if a.TwoLegged {
			return fmt.Errorf("account %q uses two_legged client credentials: it needs no login", a.Name)
		}
		cfg, err := e.bim360Config(a)
		if err != nil {
			return err
		}
		return bim360.Login(ctx, cfg, open)
	case mountopts.ServiceBIMcloud:
		cfg, err := e.bimcloudConfig(a, nil)
		if err != nil {
			return err
		}
		return bimcloud.Login(ctx, cfg, open)
	}
	return fmt.Errorf("account %q: unknown service %q", a.Name, a.Service)
}

// LoginPassword logs a BIMcloud account in with a username and password,
// for scripts.
func LoginPassword(ctx context.Context, e Env, a mountopts.Account, user, password string) error {
	if a.Service != mountopts.ServiceBIMcloud {
		return fmt.Errorf("account %q: password login is only for bimcloud accounts", a.Name)
	}
	cfg, err := e.bimcloudConfig(a, nil)
	if err != nil {
		return err
	}
	return bimcloud.LoginPassword(ctx, cfg, user, password)
}

// memoryHeadroom is what the process needs beside the memory cache tier:
// per-handle read-ahead buffers, upload parts in flight and HTTP buffers.
const memoryHeadroom = 192 << 20

// LimitMemory sets the Go runtime's soft memory limit to the memory cache
// budget plus headroom, unless GOMEMLIMIT is set. Without it the garbage
// collector lets the heap grow to twice the live cache before collecting,
// so a 256 MiB cache would cost over 500 MiB of RSS.
func LimitMemory(memoryCache int64) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(memoryCache + memoryHeadroom)
}

// Package mountopts holds bimfs's typed options and parses them from the
// config file, fstab-style "-o a=b,c" strings and command-line flags.
//
// Precedence, lowest first: defaults, config file, -o options, flags. Zero
// values mean "default"; Defaults fills them and Validate checks the result.
// The package uses only the standard library.
package mountopts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Service names accepted in an account's "service" key.
const (
	ServiceBIM360   = "bim360"
	ServiceBIMcloud = "bimcloud"
)

// Defaults for options left unset.
const (
	DefaultMemoryCache     = 256 << 20
	DefaultDiskCache       = 10 << 30
	DefaultBlockSize       = 1 << 20
	DefaultMaxReadAhead    = 64 << 20
	DefaultEntryTimeout    = 5 * time.Second
	DefaultAttrTimeout     = 5 * time.Second
	DefaultNegativeTimeout = 2 * time.Second
	DefaultMetadataTTL     = 30 * time.Second
	DefaultPollInterval    = 5 * time.Second
	DefaultAPSBaseURL      = "https://developer.api.autodesk.com"
)

// Account is one login to one service, shown as /<Name>/ in the mount.
type Account struct {
	// Name is the directory name in the mount and the login name for
	// `bimfs login`. Letters, digits, '.', '_' and '-' only.
	Name string
	// Service is ServiceBIM360 or ServiceBIMcloud.
	Service string
	// BaseURL is the APS base URL (BIM 360) or the BIMcloud Manager URL.
	// It may point at any compatible server.
	BaseURL string
	// ClientID is the APS app's client ID, or any identifying string for
	// BIMcloud.
	ClientID string
	// ClientSecretFile names a file holding the client secret, used for
	// 2-legged (unattended) APS access. Secrets never live in the config.
	ClientSecretFile string
	// TwoLegged selects client-credentials auth; UserID then goes into
	// x-user-id so calls act as that user.
	TwoLegged bool
	UserID    string
	// RedirectURI is the registered loopback callback for 3-legged login.
	RedirectURI string
	// ServiceAccount is the Autodesk ID of a Secure Service Account (BIM
	// 360 only): the mount acts as that account with tokens from JWT
	// assertions signed with ServiceAccountKeyFile, without a browser
	// login. It needs ClientSecretFile.
	ServiceAccount string
	// ServiceAccountKeyFile holds the account's private key (the JSON
	// create-service-account-key returns, or a PEM key); mode 0600.
	ServiceAccountKeyFile string
	// ServiceAccountKeyID is the key's ID when the key file does not name it.
	ServiceAccountKeyID string
	// NoDataConnector and NoAssets hide the read-only "Data Connector"
	// (per hub) and "Assets" (per project) folders of a bim360 account
	// (`data_connector = off`, `assets = off`), so users without those
	// entitlements never pay for the calls.
	NoDataConnector, NoAssets bool
	// AssetsPrefix is the Assets API path prefix; "" means
	// /construction/assets/ (with /bim360/assets/ as the fallback).
	AssetsPrefix string
	// ExtrasTTL is how long Data Connector and Assets listings are reused;
	// 0 means 30 seconds.
	ExtrasTTL time.Duration
}

// Options are all settings of one mount.
type Options struct {
	Accounts []Account

	// CacheDir holds the disk block cache (and, later, staged writes).
	CacheDir string
	// MemoryCache, DiskCache, BlockSize and MaxReadAhead size the cache in bytes.
	MemoryCache, DiskCache, BlockSize, MaxReadAhead int64
	// Parallel is how many range requests one open file may have in
	// flight while reading ahead; 0 means the cache's default (8).
	Parallel int

	// EntryTimeout, AttrTimeout and NegativeTimeout tell the kernel how long
	// it may cache names and attributes without asking.
	EntryTimeout, AttrTimeout, NegativeTimeout time.Duration
	// MetadataTTL is how old a cached folder listing may be before lookups
	// and opens fetch it again (which also revalidates tip versions).
	MetadataTTL time.Duration
	// PollInterval is how often change feeds (BIMcloud) are polled.
	PollInterval time.Duration
	// MaxRetryWait caps how long one retry may wait when a server answers
	// with Retry-After (429, 503 …); a longer wait fails the call at once.
	// Zero means the HTTP layer's default (2 minutes).
	MaxRetryWait time.Duration

	// AsyncWriteback makes close return once written data is durable in
	// the local staging journal; the upload then runs in the background.
	// The default (false) returns from close only after the service
	// committed the content.
	AsyncWriteback bool

	// NoXattrs turns extended attributes off (`-o noxattr`): `ls -l` of
	// huge folders gets faster, user.bimfs.upload goes away.
	NoXattrs bool

	// NoDataConnector and NoAssets (`-o data_connector=off`, `-o
	// assets=off`) hide those read-only folders in every bim360 account,
	// whatever the accounts' own settings.
	NoDataConnector, NoAssets bool

	AllowOther bool
	// Debug logs what the selected DebugTargets name at debug level.
	Debug bool
	// DebugAPI logs one line per API request (method, redacted URL,
	// status, duration, attempt); DebugFUSE logs every kernel request.
	// "-o debug" sets both, "-o debug=api" or "-o debug=fuse" one of them.
	DebugAPI, DebugFUSE bool

	// ReadOnly mounts every account read-only (`-o ro`): writes answer EROFS.
	ReadOnly bool
	// NonEmpty allows mounting over a directory that has entries
	// (`-o nonempty`); they are hidden while mounted.
	NonEmpty bool
	// FSName is the source shown in mount tables (the first field of an
	// fstab line); "" means "bimfs".
	FSName string

	// UID and GID own every file and folder of the mount; nil means the
	// mounting user's. Umask clears permission bits from the modes shown
	// (files 0666, folders 0777 before the mask); nil means the default
	// modes. DefaultPermissions makes the kernel enforce those modes,
	// which matters with AllowOther.
	UID, GID, Umask    *uint32
	DefaultPermissions bool

	// LogFile, LogLevel and LogFormat direct the log: a file path (""
	// means standard error), debug|info|warn|error, text|json.
	LogFile, LogLevel, LogFormat string
	// MetricsAddr, if set, serves Prometheus metrics on this loopback
	// address (host:port) at /metrics.
	MetricsAddr string

	// InsecureSkipVerify turns TLS certificate checks off. Only for test
	// servers; never the default.
	InsecureSkipVerify bool
}

// DefaultConfigPath is ~/.config/bimfs/config (or the platform equivalent).
func DefaultConfigPath() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "bimfs", "config")
}

// DefaultCacheDir is ~/.cache/bimfs (or the platform equivalent).
func DefaultCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "bimfs-cache")
	}
	return filepath.Join(dir, "bimfs")
}

// Defaults fills every unset field with its default.
func (o *Options) Defaults() {
	setDefault(&o.MemoryCache, DefaultMemoryCache)
	setDefault(&o.DiskCache, DefaultDiskCache)
	setDefault(&o.BlockSize, DefaultBlockSize)
	setDefault(&o.MaxReadAhead, DefaultMaxReadAhead)
	setDefault(&o.EntryTimeout, DefaultEntryTimeout)
	setDefault(&o.AttrTimeout, DefaultAttrTimeout)
	setDefault(&o.NegativeTimeout, DefaultNegativeTimeout)
	setDefault(&o.MetadataTTL, DefaultMetadataTTL)
	setDefault(&o.PollInterval, DefaultPollInterval)
	if o.CacheDir == "" {
		o.CacheDir = DefaultCacheDir()
	}
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
	if o.LogFormat == "" {
		o.LogFormat = "text"
	}
	for i := range o.Accounts {
		a := &o.Accounts[i]
		if a.Service == ServiceBIM360 && a.BaseURL == "" {
			a.BaseURL = DefaultAPSBaseURL
		}
		if a.Service == ServiceBIMcloud && a.ClientID == "" {
			a.ClientID = "bimfs"
		}
	}
}

func setDefault[T int64 | time.Duration](p *T, v T) {
	if *p == 0 {
		*p = v
	}
}

// Validate reports every problem with the options at once.
func (o *Options) Validate() error {
	var errs []error
	if o.BlockSize < 4096 || o.BlockSize&(o.BlockSize-1) != 0 {
		errs = append(errs, fmt.Errorf("block_size %d must be a power of two of at least 4096", o.BlockSize))
	}
	if o.MaxReadAhead < o.BlockSize {
		errs = append(errs, fmt.Errorf("max_readahead %d must be at least block_size %d", o.MaxReadAhead, o.BlockSize))
	}
	if o.MemoryCache < o.BlockSize {
		errs = append(errs, fmt.Errorf("memory_cache %d must hold at least one block", o.MemoryCache))
	}
	for name, d := range map[string]time.Duration{
		"entry_timeout": o.EntryTimeout, "attr_timeout": o.AttrTimeout, "negative_timeout": o.NegativeTimeout,
		"metadata_ttl": o.MetadataTTL, "poll_interval": o.PollInterval, "max_retry_wait": o.MaxRetryWait,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative", name))
		}
	}
	switch o.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level must be debug, info, warn or error, got %q", o.LogLevel))
	}
	if o.LogFormat != "text" && o.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log_format must be text or json, got %q", o.LogFormat))
	}
	if o.MetricsAddr != "" {
		if err := checkLoopback(o.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("metrics: %w", err))
		}
	}
	if o.Umask != nil && *o.Umask > 0o777 {
		errs = append(errs, fmt.Errorf("umask %o must be at most 0777", *o.Umask))
	}
	seen := map[string]bool{}
	for _, a := range o.Accounts {
		if err := a.validate(); err != nil {
			errs = append(errs, err)
		}
		if seen[a.Name] {
			errs = append(errs, fmt.Errorf("account %q is defined twice", a.Name))
		}
		seen[a.Name] = true
	}
	return errors.Join(errs...)
}

func (a Account) validate() error {
	if !validName(a.Name) {
		return fmt.Errorf("account name %q: use letters, digits, '.', '_' and '-' only", a.Name)
	}
	switch a.Service {
	case ServiceBIM360:
		if a.ClientID == "" {
			return fmt.Errorf("account %q: client_id is required for bim360", a.Name)
		}
		if a.TwoLegged && a.ClientSecretFile == "" {
			return fmt.Errorf("account %q: two_legged needs client_secret_file", a.Name)
		}
		if a.ServiceAccount != "" {
			switch {
			case a.TwoLegged:
				return fmt.Errorf("account %q: service_account and two_legged exclude each other", a.Name)
			case a.ClientSecretFile == "":
				return fmt.Errorf("account %q: service_account needs client_secret_file", a.Name)
			case a.ServiceAccountKeyFile == "":
				return fmt.Errorf("account %q: service_account needs service_account_key_file", a.Name)
			}
		}
	case ServiceBIMcloud:
		if a.ServiceAccount != "" {
			return fmt.Errorf("account %q: service_account is for bim360 accounts only", a.Name)
		}
		if a.BaseURL == "" {
			return fmt.Errorf("account %q: base_url (the BIMcloud Manager URL) is required", a.Name)
		}
	case "":
		return fmt.Errorf("account %q: service is required (bim360 or bimcloud)", a.Name)
	default:
		return fmt.Errorf("account %q: unknown service %q (want bim360 or bimcloud)", a.Name, a.Service)
	}
	if a.BaseURL != "" && !strings.HasPrefix(a.BaseURL, "https://") && !strings.HasPrefix(a.BaseURL, "http://") {
		return fmt.Errorf("account %q: base_url %q must start with https:// or http://", a.Name, a.BaseURL)
	}
	return nil
}

func validName(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 100 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// Account returns the account called name.
func (o *Options) Account(name string) (Account, bool) {
	for _, a := range o.Accounts {
		if a.Name == name {
			return a, true
		}
	}
	return Account{}, false
}

// ReadSecret returns the trimmed contents of the account's secret file.
// The file must not be readable by others.
func (a Account) ReadSecret() (string, error) {
	if a.ClientSecretFile == "" {
		return "", nil
	}
	fi, err := os.Stat(a.ClientSecretFile)
	if err != nil {
		return "", fmt.Errorf("account %q: %w", a.Name, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("account %q: client_secret_file %s is readable by others (mode %o); chmod 600 it", a.Name, a.ClientSecretFile, fi.Mode().Perm())
	}
	b, err := os.ReadFile(a.ClientSecretFile)
	if err != nil {
		return "", fmt.Errorf("account %q: %w", a.Name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// ParseSize parses byte sizes such as "512MiB", "10G", "4096" or "1.5GiB".
// "K", "M", "G" and "T" are binary multiples, with or without "iB"/"B".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	j := strings.IndexFunc(t, func(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' })
	if j < 0 {
		j = len(t)
	}
	num, unit := strings.TrimSpace(t[:j]), strings.ToLower(t[j:])
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	mult, ok := sizeUnits[unit]
	if !ok {
		return 0, fmt.Errorf("invalid size unit in %q (use K, M, G or T)", s)
	}
	return int64(f * mult), nil
}

var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
	"t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
}

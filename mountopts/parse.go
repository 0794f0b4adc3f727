package mountopts

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"time"
)

// setters maps every option key (as used in -o strings and the config
// file's global section) to its parser. Flag-less boolean keys accept a bare
// key ("allow_other") as true.
var setters = map[string]func(o *Options, v string) error{
	"cache_dir":     func(o *Options, v string) error { o.CacheDir = v; return nil },
	"memory_cache":  sizeSetter(func(o *Options) *int64 { return &o.MemoryCache }),
	"disk_cache":    sizeSetter(func(o *Options) *int64 { return &o.DiskCache }),
	"block_size":    sizeSetter(func(o *Options) *int64 { return &o.BlockSize }),
	"max_readahead": sizeSetter(func(o *Options) *int64 { return &o.MaxReadAhead }),
	"parallel": func(o *Options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 64 {
			return fmt.Errorf("parallel must be a whole number from 1 to 64, got %q", v)
		}
		o.Parallel = n
		return nil
	},
	"entry_timeout":    durationSetter(func(o *Options) *time.Duration { return &o.EntryTimeout }),
	"attr_timeout":     durationSetter(func(o *Options) *time.Duration { return &o.AttrTimeout }),
	"negative_timeout": durationSetter(func(o *Options) *time.Duration { return &o.NegativeTimeout }),
	"metadata_ttl":     durationSetter(func(o *Options) *time.Duration { return &o.MetadataTTL }),
	"poll_interval":    durationSetter(func(o *Options) *time.Duration { return &o.PollInterval }),
	"max_retry_wait":   durationSetter(func(o *Options) *time.Duration { return &o.MaxRetryWait }),
	"writeback": func(o *Options, v string) error {
		switch v {
		case "sync":
			o.AsyncWriteback = false
		case "async":
			o.AsyncWriteback = true
		default:
			return fmt.Errorf("writeback must be sync or async, got %q", v)
		}
		return nil
	},
	"noxattr":     boolSetter(func(o *Options) *bool { return &o.NoXattrs }),
	"allow_other": boolSetter(func(o *Options) *bool { return &o.AllowOther }),
	"debug":       setDebug,
	"ro":          boolSetter(func(o *Options) *bool { return &o.ReadOnly }),
	"rw": func(o *Options, v string) error {
		b, err := parseBool(v)
		o.ReadOnly = !b
		return err
	},
	"nonempty":             boolSetter(func(o *Options) *bool { return &o.NonEmpty }),
	"fsname":               func(o *Options, v string) error { o.FSName = v; return nil },
	"uid":                  idSetter(func(o *Options) **uint32 { return &o.UID }, lookupUser),
	"gid":                  idSetter(func(o *Options) **uint32 { return &o.GID }, lookupGroup),
	"umask":                setUmask,
	"default_permissions":  boolSetter(func(o *Options) *bool { return &o.DefaultPermissions }),
	"log_file":             func(o *Options, v string) error { o.LogFile = v; return nil },
	"log_level":            func(o *Options, v string) error { o.LogLevel = strings.ToLower(v); return nil },
	"log_format":           func(o *Options, v string) error { o.LogFormat = strings.ToLower(v); return nil },
	"metrics":              func(o *Options, v string) error { o.MetricsAddr = v; return nil },
	"data_connector":       offSetter(func(o *Options) *bool { return &o.NoDataConnector }),
	"assets":               offSetter(func(o *Options) *bool { return &o.NoAssets }),
	"insecure_skip_verify": boolSetter(func(o *Options) *bool { return &o.InsecureSkipVerify }),
}

// accountSetters are the keys of an [account NAME] section.
var accountSetters = map[string]func(a *Account, v string) error{
	"service":            func(a *Account, v string) error { a.Service = strings.ToLower(v); return nil },
	"base_url":           func(a *Account, v string) error { a.BaseURL = strings.TrimRight(v, "/"); return nil },
	"client_id":          func(a *Account, v string) error { a.ClientID = v; return nil },
	"client_secret_file": func(a *Account, v string) error { a.ClientSecretFile = v; return nil },
	"user_id":            func(a *Account, v string) error { a.UserID = v; return nil },
	"redirect_uri":       func(a *Account, v string) error { a.RedirectURI = v; return nil },
	"service_account":    func(a *Account, v string) error { a.ServiceAccount = v; return nil },
	"service_account_key_file": func(a *Account, v string) error {
		a.ServiceAccountKeyFile = v
		return nil
	},
	"service_account_key_id": func(a *Account, v string) error { a.ServiceAccountKeyID = v; return nil },
	"data_connector": func(a *Account, v string) error {
		on, err := parseBool(v)
		a.NoDataConnector = !on
		return err
	},
	"assets": func(a *Account, v string) error {
		on, err := parseBool(v)
		a.NoAssets = !on
		return err
	},
	"assets_prefix": func(a *Account, v string) error {
		if !strings.HasPrefix(v, "/") {
			return fmt.Errorf("must be a path such as /construction/assets/, got %q", v)
		}
		a.AssetsPrefix = v
		return nil
	},
	"extras_ttl": func(a *Account, v string) error {
		var o Options
		err := durationSetter(func(o *Options) *time.Duration { return &o.MetadataTTL })(&o, v)
		if err == nil && o.MetadataTTL < 0 {
			err = fmt.Errorf("must not be negative")
		}
		a.ExtrasTTL = o.MetadataTTL
		return err
	},
	"two_legged": func(a *Account, v string) error {
		b, err := parseBool(v)
		a.TwoLegged = b
		return err
	},
}

// Keys lists the option keys accepted by Set, sorted.
func Keys() []string {
	keys := make([]string, 0, len(setters))
	for k := range setters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Set applies one option given as key and value.
func (o *Options) Set(key, value string) error {
	set, ok := setters[key]
	if !ok {
		return fmt.Errorf("unknown option %q (known: %s)", key, strings.Join(Keys(), ", "))
	}
	if err := set(o, value); err != nil {
		return fmt.Errorf("option %s: %w", key, err)
	}
	return nil
}

// ParseMountOptions applies an fstab-style option string "a=b,c,d=e".
// Generic options that mount(8) and fstab add (rw, defaults, _netdev …)
// are accepted and ignored.
func (o *Options) ParseMountOptions(s string) error {
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" || ignoredMountOptions[part] || strings.HasPrefix(part, "x-") || strings.HasPrefix(part, "comment=") {
			continue
		}
		key, value, hasValue := strings.Cut(part, "=")
		if !hasValue {
			value = "true"
		}
		if err := o.Set(strings.TrimSpace(key), strings.TrimSpace(value)); err != nil {
			return err
		}
	}
	return nil
}

// ignoredMountOptions are generic options mount(8), mount.fuse3 and fstab
// add; they either mean nothing to a FUSE filesystem or are enforced by the
// kernel and mount(8) themselves. Options starting with "x-" (x-systemd.*,
// x-gvfs-*) are for other programs and are skipped too.
var ignoredMountOptions = map[string]bool{
	"defaults": true, "auto": true, "noauto": true, "user": true, "nouser": true, "users": true, "owner": true,
	"_netdev": true, "nofail": true, "dev": true, "nodev": true, "suid": true, "nosuid": true, "exec": true, "noexec": true,
	"atime": true, "noatime": true, "relatime": true, "norelatime": true, "strictatime": true, "nodiratime": true,
	"lazytime": true, "nolazytime": true, "sync": true, "async": true, "dirsync": true, "silent": true, "loud": true,
}

// setDebug parses -o debug, debug=api, debug=fuse, debug=all and booleans.
func setDebug(o *Options, v string) error {
	switch strings.ToLower(v) {
	case "api":
		o.Debug, o.DebugAPI = true, true
	case "fuse", "kernel":
		o.Debug, o.DebugFUSE = true, true
	case "all":
		o.Debug, o.DebugAPI, o.DebugFUSE = true, true, true
	default:
		b, err := parseBool(v)
		if err != nil {
			return fmt.Errorf("debug must be api, fuse, all or a boolean, got %q", v)
		}
		o.Debug, o.DebugAPI, o.DebugFUSE = b, b, b
	}
	return nil
}

// idSetter parses a numeric ID or a name looked up with lookup.
func idSetter(field func(*Options) **uint32, lookup func(string) (string, error)) func(*Options, string) error {
	return func(o *Options, v string) error {
		s := v
		if _, err := strconv.ParseUint(s, 10, 32); err != nil {
			if s, err = lookup(v); err != nil {
				return fmt.Errorf("%q is neither a number nor a known name", v)
			}
		}
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return fmt.Errorf("invalid ID %q", v)
		}
		id := uint32(n)
		*field(o) = &id
		return nil
	}
}

func lookupUser(name string) (string, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return "", err
	}
	return u.Uid, nil
}

func lookupGroup(name string) (string, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		return "", err
	}
	return g.Gid, nil
}

// setUmask parses an octal mask such as 022 or 0027.
func setUmask(o *Options, v string) error {
	n, err := strconv.ParseUint(v, 8, 32)
	if err != nil || n > 0o777 {
		return fmt.Errorf("umask must be octal from 000 to 777, got %q", v)
	}
	m := uint32(n)
	o.Umask = &m
	return nil
}

// checkLoopback accepts host:port addresses whose host is a loopback IP or
// "localhost": listeners without TLS and authentication stay on this machine.
func checkLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: want HOST:PORT such as 127.0.0.1:9464", addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("address %q: invalid port", addr)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("address %q is not a loopback address (use 127.0.0.1 or [::1]): metrics are served without TLS or authentication", addr)
}

// LoadFile reads a config file into o. A missing file at the default path
// is not an error (mustExist false); any other problem is.
func (o *Options) LoadFile(path string, mustExist bool) error {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) && !mustExist {
			return nil
		}
		return fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	if err := o.Load(f); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// Load parses the config format:
//
//	# comment
//	cache_dir = /var/cache/bimfs
//	memory_cache = 512MiB
//
//	[account work]
//	service = bim360
//	client_id = abc123
//
// Global keys are the -o keys; account keys are service, base_url,
// client_id, client_secret_file, two_legged, user_id, redirect_uri, and for
// bim360 data_connector (on/off), assets (on/off), assets_prefix and
// extras_ttl.
func (o *Options) Load(r io.Reader) error {
	sc := bufio.NewScanner(r)
	var acct *Account
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasPrefix(line, "[") {
			if !strings.HasSuffix(line, "]") {
				return fmt.Errorf("line %d: unterminated section header", n)
			}
			kind, name, _ := strings.Cut(strings.TrimSpace(line[1:len(line)-1]), " ")
			name = strings.Trim(strings.TrimSpace(name), `"`)
			if kind != "account" || name == "" {
				return fmt.Errorf("line %d: sections are [account NAME], got %s", n, line)
			}
			o.Accounts = append(o.Accounts, Account{Name: name})
			acct = &o.Accounts[len(o.Accounts)-1]
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("line %d: want key = value, got %q", n, line)
		}
		key, value = strings.TrimSpace(key), unquote(strings.TrimSpace(value))
		if acct == nil {
			if err := o.Set(key, value); err != nil {
				return fmt.Errorf("line %d: %w", n, err)
			}
			continue
		}
		set, ok := accountSetters[key]
		if !ok {
			return fmt.Errorf("line %d: unknown account key %q", n, key)
		}
		if err := set(acct, value); err != nil {
			return fmt.Errorf("line %d: %s: %w", n, key, err)
		}
	}
	return sc.Err()
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		if u, err := strconv.Unquote(v); err == nil {
			return u
		}
	}
	return v
}

func sizeSetter(field func(*Options) *int64) func(*Options, string) error {
	return func(o *Options, v string) error {
		n, err := ParseSize(v)
		*field(o) = n
		return err
	}
}

func durationSetter(field func(*Options) *time.Duration) func(*Options, string) error {
	return func(o *Options, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			// Bare numbers are seconds, as in other FUSE filesystems' -o timeouts.
			f, ferr := strconv.ParseFloat(v, 64)
			if ferr != nil {
				return fmt.Errorf("invalid duration %q (e.g. 5s, 1m, 0.5)", v)
			}
			d = time.Duration(f * float64(time.Second))
		}
		*field(o) = d
		return nil
	}
}

// offSetter sets a "hide this" field from an on/off option: "off" sets it.
func offSetter(field func(*Options) *bool) func(*Options, string) error {
	return func(o *Options, v string) error {
		on, err := parseBool(v)
		*field(o) = !on
		return err
	}
}

func boolSetter(field func(*Options) *bool) func(*Options, string) error {
	return func(o *Options, v string) error {
		b, err := parseBool(v)
		*field(o) = b
		return err
	}
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q", v)
}

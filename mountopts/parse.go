package mountopts

import (
	"bufio"
	"fmt"
	"io"
	"os"
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
	"noxattr":              boolSetter(func(o *Options) *bool { return &o.NoXattrs }),
	"data_connector":       offSetter(func(o *Options) *bool { return &o.NoDataConnector }),
	"assets":               offSetter(func(o *Options) *bool { return &o.NoAssets }),
	"allow_other":          boolSetter(func(o *Options) *bool { return &o.AllowOther }),
	"debug":                boolSetter(func(o *Options) *bool { return &o.Debug }),
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
		if part == "" || ignoredMountOptions[part] {
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

// ignoredMountOptions are generic options mount(8) and fstab add.
var ignoredMountOptions = map[string]bool{
	"rw": true, "defaults": true, "auto": true, "noauto": true, "user": true, "nouser": true,
	"_netdev": true, "nofail": true, "dev": true, "nodev": true, "suid": true, "nosuid": true, "exec": true, "noexec": true,
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

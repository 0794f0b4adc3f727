package mountopts

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
)

// OptionDoc describes one -o option for help texts.
type OptionDoc struct {
	// Key is the option name; Value shows its argument ("" for a flag).
	Key, Value string
	// Default is shown as given ("off" for flags).
	Default string
	// Meaning is one line of explanation.
	Meaning string
}

// Docs lists every -o option in the order help texts show them. A test
// checks that each key accepted by Set is documented here.
var Docs = []OptionDoc{
	{"cache_dir", "PATH", "~/.cache/bimfs/mounts/<mountpoint>", "disk cache and staged uploads; each mountpoint gets its own by default"},
	{"memory_cache", "SIZE", "256MiB", "memory tier of the block cache"},
	{"disk_cache", "SIZE", "10GiB", "disk tier of the block cache"},
	{"block_size", "SIZE", "1MiB", "cache block and smallest range request"},
	{"max_readahead", "SIZE", "64MiB", "per-file sequential prefetch window"},
	{"parallel", "N", "8", "range requests in flight per open file while reading ahead"},
	{"entry_timeout", "D", "5s", "kernel caching of names"},
	{"attr_timeout", "D", "5s", "kernel caching of attributes"},
	{"negative_timeout", "D", "2s", "kernel caching of failed lookups"},
	{"metadata_ttl", "D", "30s", "age after which a listing is fetched again"},
	{"poll_interval", "D", "5s", "BIMcloud change-feed polling"},
	{"writeback", "sync|async", "sync", "close returns after the upload (sync) or once journaled (async)"},
	{"noxattr", "", "off", "no extended attributes (faster ls -l, no user.bimfs.upload)"},
	{"max_retry_wait", "D", "2m", "longest Retry-After a throttled or busy service may impose before a call fails"},
	{"data_connector", "on|off", "on", "show each BIM 360 hub's read-only Data Connector folder"},
	{"assets", "on|off", "on", "show each BIM 360 project's read-only Assets folder"},
	{"ro", "", "off", "read-only mount: every write answers EROFS"},
	{"rw", "", "on", "read-write mount (the opposite of ro)"},
	{"nonempty", "", "off", "allow mounting over a directory that has entries"},
	{"allow_other", "", "off", "let other users use the mount"},
	{"default_permissions", "", "off", "let the kernel enforce the modes shown (always on with allow_other)"},
	{"uid", "ID|NAME", "mounting user", "owner shown for every file and folder"},
	{"gid", "ID|NAME", "mounting group", "group shown for every file and folder"},
	{"umask", "OCTAL", "022", "permission bits cleared from the modes shown"},
	{"fsname", "NAME", "bimfs", "source shown in mount tables"},
	{"debug", "api|fuse|all", "off", "log every API call (api), kernel request (fuse) or both"},
	{"log_file", "PATH", "standard error", "write the log to PATH"},
	{"log_level", "LEVEL", "info", "debug, info, warn or error"},
	{"log_format", "text|json", "text", "log line format"},
	{"metrics", "HOST:PORT", "off", "serve Prometheus metrics on a loopback address at /metrics"},
	{"insecure_skip_verify", "", "off", "disable TLS certificate checks (test servers only)"},
}

// HelpTable renders Docs as aligned text lines for --help.
func HelpTable() string {
	var b strings.Builder
	for _, d := range Docs {
		k := d.Key
		if d.Value != "" {
			k += "=" + d.Value
		}
		fmt.Fprintf(&b, "  %-26s %s (default %s)\n", k, d.Meaning, d.Default)
	}
	return b.String()
}

// MountKey turns a mountpoint into a short file name that is stable for
// that path and differs between paths: the path's last characters made
// safe, plus a hash of the whole path ("/home/ann/bim" -> "home-ann-bim-1a2b3c4d").
func MountKey(mountpoint string) string {
	clean := filepath.Clean(mountpoint)
	sum := sha256.Sum256([]byte(clean))
	var b strings.Builder
	for _, r := range strings.Trim(clean, "/") {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		case r == '/':
			b.WriteByte('-')
		default:
			b.WriteByte('_')
		}
	}
	name := b.String()
	// Unix socket paths are limited to 108 bytes; keep the tail, which is
	// the part people recognise.
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	if name == "" {
		name = "root"
	}
	return name + "-" + hex.EncodeToString(sum[:4])
}

// MountsCacheDir is the folder that holds the default cache of each
// mountpoint.
func MountsCacheDir() string { return filepath.Join(DefaultCacheDir(), "mounts") }

// MountCacheDir is the default cache directory of mountpoint, so two
// mounts never share (and fight over) one cache.
func MountCacheDir(mountpoint string) string {
	return filepath.Join(MountsCacheDir(), MountKey(mountpoint))
}

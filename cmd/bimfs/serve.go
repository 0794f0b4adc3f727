package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/davserver"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/demo"
	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/davfs"
	"github.com/bimfs/bimfs/mountopts"
)

// shutdownGrace is how long a stopping export waits for requests in
// progress: a PUT answers only after its upload.
const shutdownGrace = 2 * time.Minute

// davFlags are the flags of a WebDAV listener (`serve webdav`, and
// `mount --webdav`, whose flags carry a "webdav-" prefix).
type davFlags struct {
	addr, cert, key, htpasswd string
	infiniteDepth             bool
}

func (d *davFlags) add(fl *pflag.FlagSet, prefix, addrName, addrDefault, addrHelp string) {
	fl.StringVar(&d.addr, addrName, addrDefault, addrHelp)
	fl.StringVar(&d.cert, prefix+"cert", "", "TLS certificate (PEM) for the WebDAV export; required with a non-loopback address")
	fl.StringVar(&d.key, prefix+"key", "", "TLS private key (PEM) for the WebDAV export")
	fl.StringVar(&d.htpasswd, prefix+"htpasswd", "", "htpasswd file with bcrypt hashes (htpasswd -B): WebDAV clients must log in; requires TLS")
	fl.BoolVar(&d.infiniteDepth, prefix+"allow-infinite-depth", false, "answer PROPFIND with Depth: infinity (lists whole trees)")
}

func (d *davFlags) config() davserver.Config {
	return davserver.Config{Addr: d.addr, CertFile: d.cert, KeyFile: d.key, HtpasswdFile: d.htpasswd}
}

// check refuses an unsafe listener before any account is connected.
func (d *davFlags) check() error {
	if d == nil || d.addr == "" {
		return nil
	}
	if _, err := d.config().Check(); err != nil {
		return usageError{err}
	}
	return nil
}

// startWebDAV serves core over WebDAV as d says.
func startWebDAV(core *fs.FS, d *davFlags, log *slog.Logger) (*davserver.Server, error) {
	h := davfs.NewHandler(core, davfs.Options{InfiniteDepth: d.infiniteDepth, Logger: log})
	return davserver.Start(d.config(), h, log)
}

// stopWebDAV lets requests in progress (a PUT answers after its upload)
// finish, within shutdownGrace.
func stopWebDAV(srv *davserver.Server, log *slog.Logger) {
	log.Info("stopping the WebDAV export; requests in progress finish first")
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Warn("stopping the WebDAV export", "err", err)
	}
}

// serveFlags are the flags of `bimfs serve webdav`.
type serveFlags struct {
	config    string
	options   []string
	demo      bool
	debug     bool
	logFile   string
	logLevel  string
	logFormat string
	dav       davFlags
}

func newServeCmd() *cobra.Command {
	serve := &cobra.Command{
		Use:   "serve PROTOCOL",
		Short: "Export the configured accounts (or the demo) over a network protocol",
		Args: func(c *cobra.Command, args []string) error {
			return usagef("serve needs a protocol: bimfs serve webdav [--addr HOST:PORT] [--demo] [--config FILE] [-o k=v,...]")
		},
		RunE: func(c *cobra.Command, args []string) error {
			return usagef("serve needs a protocol: bimfs serve webdav [--addr HOST:PORT] [--demo] [--config FILE] [-o k=v,...]")
		},
	}
	f := &serveFlags{}
	webdav := &cobra.Command{
		Use:   "webdav [flags]",
		Short: "Serve the accounts over WebDAV (Windows network drives, rclone, davfs2)",
		Long: `Serve the same tree as a mount over WebDAV, through the same filesystem
core (names, versions, staged uploads, cache). It listens on loopback by
default; any other address needs --cert, --key and --htpasswd.`,
		Example: `  bimfs serve webdav --demo
  bimfs serve webdav --addr 0.0.0.0:8443 --cert cert.pem --key key.pem --htpasswd users`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 0 {
				return usagef("serve webdav takes no arguments (got %q)", args)
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error { return runServe(c, f) },
	}
	fl := webdav.Flags()
	fl.StringVar(&f.config, "config", "", "config file (default "+mountopts.DefaultConfigPath()+")")
	fl.StringArrayVarP(&f.options, "options", "o", nil, "options k=v,... (repeatable), as for mount")
	fl.BoolVar(&f.demo, "demo", false, "serve built-in emulators with sample projects (no credentials needed; private temporary cache)")
	fl.BoolVar(&f.debug, "debug", false, "log every API call")
	fl.StringVar(&f.logFile, "log-file", "", "write the log to this file (default standard error)")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	f.dav.add(fl, "", "addr", davserver.DefaultAddr, "address to listen on (host:port); only loopback without --cert, --key and --htpasswd")
	serve.AddCommand(webdav)
	return serve
}

// runServe runs `bimfs serve webdav`: the mount's wiring with the WebDAV
// export as the only front end.
func runServe(c *cobra.Command, f *serveFlags) error {
	if err := f.dav.check(); err != nil {
		return err
	}
	opts, useDemo, explicitCache, err := loadCommand(c, commandFlags{
		config: f.config, options: f.options, demo: f.demo, debug: f.debug,
		logFile: f.logFile, logLevel: f.logLevel, logFormat: f.logFormat,
	}, nil)
	if err != nil {
		return err
	}
	if !explicitCache && !useDemo {
		// One cache per export, as per mountpoint.
		opts.CacheDir = mountopts.MountCacheDir("webdav " + f.dav.addr)
	}
	if opts.CacheDir, err = filepath.Abs(opts.CacheDir); err != nil {
		return usageError{err}
	}
	return serveMount(opts, "", useDemo, explicitCache, demo.Options{}, &f.dav)
}

package main

import (
	"context"
	"errors"
	"flag"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/davserver"
	"github.com/bimfs/bimfs/fs/davfs"
	"github.com/bimfs/bimfs/mountopts"
)

// shutdownGrace is how long a stopping export waits for requests in
// progress: a PUT answers only after its upload.
const shutdownGrace = 2 * time.Minute

// davFlags are the flags of a WebDAV listener (`serve webdav`, and
// `mount --webdav`, whose flags carry a "webdav-" prefix).
type davFlags struct {
	addr, cert, key, htpasswd *string
	infiniteDepth             *bool
}

func addDavFlags(f *flag.FlagSet, prefix, addrName, addrDefault, addrHelp string) *davFlags {
	return &davFlags{
		addr:          f.String(addrName, addrDefault, addrHelp),
		cert:          f.String(prefix+"cert", "", "TLS certificate (PEM) for the WebDAV export; required with a non-loopback address"),
		key:           f.String(prefix+"key", "", "TLS private key (PEM) for the WebDAV export"),
		htpasswd:      f.String(prefix+"htpasswd", "", "htpasswd file with bcrypt hashes (htpasswd -B): WebDAV clients must log in; requires TLS"),
		infiniteDepth: f.Bool(prefix+"allow-infinite-depth", false, "answer PROPFIND with Depth: infinity (lists whole trees)"),
	}
}

func (d *davFlags) config() davserver.Config {
	return davserver.Config{Addr: *d.addr, CertFile: *d.cert, KeyFile: *d.key, HtpasswdFile: *d.htpasswd}
}

// startWebDAV serves the session's core over WebDAV.
func startWebDAV(s *session, d *davFlags) (*davserver.Server, error) {
	h := davfs.NewHandler(s.core, davfs.Options{InfiniteDepth: *d.infiniteDepth, Logger: s.log})
	return davserver.Start(d.config(), h, s.log)
}

// runServe runs `bimfs serve webdav`: the accounts exported over WebDAV,
// with the same core (names, versions, staging, uploads) as a mount.
func runServe(args []string) error {
	if len(args) == 0 || args[0] != "webdav" {
		return usagef("serve needs a protocol: bimfs serve webdav [--addr HOST:PORT] [--demo] [--config FILE] [-o k=v,...]")
	}
	f := newFlags("serve webdav")
	configPath := f.String("config", "", "config file (default "+mountopts.DefaultConfigPath()+")")
	var dashO stringList
	f.Var(&dashO, "o", "options k=v,… (repeatable), as for mount; see README")
	useDemo := f.Bool("demo", false, "serve built-in emulators with sample projects (no credentials needed)")
	debug := f.Bool("debug", false, "log every WebDAV request and API call")
	dav := addDavFlags(f, "", "addr", davserver.DefaultAddr, "address to listen on (host:port); only loopback without --cert, --key and --htpasswd")
	positional, err := parseInterspersed(f, args[1:])
	if err != nil {
		return usageError{err}
	}
	if len(positional) != 0 {
		return usagef("serve webdav takes no arguments (got %q)", positional)
	}
	// Refuse an unsafe listener before connecting any account.
	if _, err := dav.config().Check(); err != nil {
		return usageError{err}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	s, err := openSession(ctx, coreConfig{configPath: *configPath, dashO: strings.Join(dashO, ","), demo: *useDemo, debug: *debug})
	if err != nil {
		return err
	}
	defer s.Close()
	srv, err := startWebDAV(s, dav)
	if err != nil {
		return err
	}
	select {
	case err := <-srv.Done():
		return err
	case <-ctx.Done():
	}
	s.log.Info("stopping the WebDAV export; requests in progress finish first")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

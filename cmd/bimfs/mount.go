package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/bimfs/bimfs/cache"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/apistats"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/control"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/demo"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/metrics"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/tracked"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/wiring"
	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fusefs"
	"github.com/bimfs/bimfs/mountopts"
	"github.com/bimfs/bimfs/remote"
	bimemu "github.com/bimfs/bimfs/remote/bim360/emulator"
)

// mountFlags are the flags of `bimfs mount`.
type mountFlags struct {
	config        string
	options       []string
	demo          bool
	debug         bool
	daemon        bool
	allowNonEmpty bool
	logFile       string
	logLevel      string
	logFormat     string
	fsname        string
	readyTimeout  time.Duration
	demoRate      string
	dav           davFlags
}

func newMountCmd() *cobra.Command {
	f := &mountFlags{}
	c := &cobra.Command{
		Use:   "mount [flags] MOUNTPOINT",
		Short: "Mount the configured accounts (or the demo) on MOUNTPOINT",
		Long: `Mount the configured accounts on MOUNTPOINT.

In the foreground (the default) bimfs runs until SIGINT or SIGTERM, which
unmount cleanly; under systemd with Type=notify it reports readiness. With
--daemon it returns once the mount is ready and keeps running in the
background; stop it with "bimfs unmount MOUNTPOINT".

Options for -o (comma separated, repeatable; also keys of the config file):
` + mountopts.HelpTable() + `  config=FILE                config file (default ` + mountopts.DefaultConfigPath() + `)
  demo                       same as --demo

Generic mount options (rw, nosuid, nodev, noexec, noatime, _netdev, noauto,
user, nofail, x-systemd.*, ...) are accepted and left to mount(8) and the kernel.`,
		Example: `  bimfs mount --demo ~/bim
  bimfs mount --daemon -o ro,cache_dir=/var/cache/bimfs /mnt/bim
  mount -t fuse.bimfs bimfs /mnt/bim -o config=/etc/bimfs/config,_netdev`,
		Args: exactArgs(1, "MOUNTPOINT"),
		RunE: func(c *cobra.Command, args []string) error {
			return runMount(c, f, args[0])
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.config, "config", "", "config file (default "+mountopts.DefaultConfigPath()+")")
	fl.StringArrayVarP(&f.options, "options", "o", nil, "mount options k=v,... (repeatable; listed above)")
	fl.BoolVar(&f.demo, "demo", false, "serve built-in emulators with sample projects (no credentials needed; private temporary cache)")
	fl.BoolVar(&f.debug, "debug", false, "log every API call and kernel request (-o debug=all)")
	fl.BoolVar(&f.daemon, "daemon", false, "mount in the background; return once the mount is ready")
	fl.BoolVar(&f.allowNonEmpty, "allow-non-empty", false, "mount over a directory that has entries (-o nonempty)")
	fl.StringVar(&f.logFile, "log-file", "", "write the log to this file (default standard error; for --daemon "+"$XDG_RUNTIME_DIR/bimfs/<mount>.log)")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&f.fsname, "fsname", "", "source shown in mount tables (-o fsname=)")
	fl.DurationVar(&f.readyTimeout, "ready-timeout", 2*time.Minute, "with --daemon: how long to wait for the mount to be ready")
	fl.StringVar(&f.demoRate, "demo-rate", "", "with --demo: cap BIM 360 transfers to this many bytes per second (e.g. 4MiB), to watch uploads progress")
	f.dav.add(fl, "webdav-", "webdav", "", "also export the mount over WebDAV on this address (host:port), sharing its cache; see serve webdav")
	fl.MarkHidden("fsname")
	fl.MarkHidden("demo-rate")
	return c
}

// commandFlags are the flags `mount` and `serve webdav` share.
type commandFlags struct {
	config                       string
	options                      []string
	demo, debug, debugFUSE       bool
	logFile, logLevel, logFormat string
}

// loadCommand loads the configuration for a command with flags f: config
// file, then -o options (config=FILE and demo among them), then the flags,
// which win. more adjusts what only that command has. It reports whether
// the demo runs and whether the cache directory was chosen explicitly.
func loadCommand(c *cobra.Command, f commandFlags, more func(*mountopts.Options)) (opts *mountopts.Options, useDemo, explicitCache bool, err error) {
	dashO, cli, err := splitCLIOptions(strings.Join(f.options, ","))
	if err != nil {
		return nil, false, false, err
	}
	configPath := f.config
	if configPath == "" {
		configPath = cli.config
	}
	opts, err = loadOptions(configPath, dashO, func(o *mountopts.Options) error {
		explicitCache = o.CacheDir != ""
		fl := c.Flags()
		if f.debug {
			o.Debug, o.DebugAPI, o.DebugFUSE = true, true, f.debugFUSE
		}
		if fl.Changed("log-file") {
			o.LogFile = f.logFile
		}
		if fl.Changed("log-level") || o.LogLevel == "" {
			o.LogLevel = strings.ToLower(f.logLevel)
		}
		if fl.Changed("log-format") || o.LogFormat == "" {
			o.LogFormat = strings.ToLower(f.logFormat)
		}
		if more != nil {
			more(o)
		}
		return checkLogOptions(o)
	})
	return opts, f.demo || cli.demo, explicitCache, err
}

// cliOptions are the -o options the command line handles itself.
type cliOptions struct {
	config string
	demo   bool
}

// splitCLIOptions takes config=FILE and demo out of an -o string.
func splitCLIOptions(s string) (rest string, cli cliOptions, err error) {
	var keep []string
	for _, part := range strings.Split(s, ",") {
		p := strings.TrimSpace(part)
		switch {
		case strings.HasPrefix(p, "config="):
			cli.config = strings.TrimPrefix(p, "config=")
		case p == "demo":
			cli.demo = true
		case strings.HasPrefix(p, "setuid=") || p == "drop_privileges":
			// mount.fuse3 acts on these before it starts bimfs; they only
			// arrive here when mount(8) ran /sbin/mount.fuse.bimfs.
			return "", cli, usagef("option %s is handled by mount.fuse3: remove /sbin/mount.fuse.bimfs so mount(8) uses mount.fuse3 (bimfs must be on its PATH, e.g. /usr/local/bin)", p)
		case p != "":
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, ","), cli, nil
}

func runMount(c *cobra.Command, f *mountFlags, dir string) error {
	if err := f.dav.check(); err != nil {
		return err
	}
	opts, useDemo, explicitCache, err := loadCommand(c, commandFlags{
		config: f.config, options: f.options, demo: f.demo, debug: f.debug, debugFUSE: true,
		logFile: f.logFile, logLevel: f.logLevel, logFormat: f.logFormat,
	}, func(o *mountopts.Options) {
		if f.allowNonEmpty {
			o.NonEmpty = true
		}
		if f.fsname != "" {
			o.FSName = f.fsname
		}
	})
	if err != nil {
		return err
	}
	mountpoint, err := checkMountpoint(dir, opts.NonEmpty)
	if err != nil {
		return usageError{err}
	}
	if !explicitCache && !useDemo {
		opts.CacheDir = mountopts.MountCacheDir(mountpoint)
	}
	// Absolute paths: a background mount leaves the working directory.
	if opts.CacheDir, err = filepath.Abs(opts.CacheDir); err != nil {
		return usageError{err}
	}
	if opts.LogFile != "" && opts.LogFile != "-" {
		if opts.LogFile, err = filepath.Abs(opts.LogFile); err != nil {
			return usageError{err}
		}
	}

	if f.daemon && !readiness.background() {
		logPath := opts.LogFile
		if logPath == "" {
			if logPath, err = control.LogPath(mountpoint); err != nil {
				return err
			}
		}
		// The same command line (helper forms translated) without --daemon.
		args, err := helperArgs(os.Args)
		if err != nil {
			return err
		}
		args = removeArg(removeArg(args, "--daemon"), "--daemon=true")
		if err := startBackground(args, logPath, f.readyTimeout); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bimfs: mounted %s in the background (log: %s)\n", mountpoint, logPath)
		return nil
	}
	var demoOpts demo.Options
	if f.demoRate != "" {
		rate, err := mountopts.ParseSize(f.demoRate)
		if err != nil {
			return usagef("--demo-rate: %v", err)
		}
		demoOpts.BIM360 = bimemu.Options{BytesPerSecond: rate}
	}
	return serveMount(opts, mountpoint, useDemo, explicitCache, demoOpts, &f.dav)
}

func removeArg(args []string, drop string) []string {
	out := args[:0:0]
	for _, a := range args {
		if a != drop {
			out = append(out, a)
		}
	}
	return out
}

// serveMount mounts and serves until unmounted or signalled.
// serveMount builds one filesystem core for the configured accounts and
// serves it until unmounted or signalled: through FUSE on mountpoint (if
// not ""), and over WebDAV if dav names an address. Both front ends share
// the core, its cache and its staged files.
func serveMount(opts *mountopts.Options, mountpoint string, useDemo, explicitCache bool, demoOpts demo.Options, dav *davFlags) error {
	exportOnly := mountpoint == ""
	log, logCloser, err := openLog(opts)
	if err != nil {
		return err
	}
	defer logCloser.Close()
	slog.SetDefault(log)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var apiLog *slog.Logger
	if opts.DebugAPI || opts.LogLevel == "debug" {
		apiLog = log.With("component", "api")
	}
	rec := apistats.New(apiLog)
	env := wiring.Env{Logger: log, InsecureSkipVerify: opts.InsecureSkipVerify, WrapTransport: rec.Transport}
	accounts := opts.Accounts
	if useDemo {
		d, err := demo.Start(ctx, demoOpts, env)
		if err != nil {
			return err
		}
		defer d.Close()
		env, accounts = d.Env, d.Accounts
		log.Info("demo servers running", "bim360", d.BIM360.URL, "bimcloud", d.BIMcloud.URL)
		if !explicitCache {
			tmp, err := os.MkdirTemp("", "bimfs-demo-cache-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			opts.CacheDir = tmp
		}
	}
	if len(accounts) == 0 {
		return usagef("no accounts configured in %s; add an [account NAME] section or use --demo", mountopts.DefaultConfigPath())
	}

	holder := mountpoint
	if exportOnly {
		holder = "WebDAV export on " + dav.addr
	}
	lock, err := lockCacheDir(opts.CacheDir, holder)
	if err != nil {
		return err
	}
	defer lock.release()

	wiring.LimitMemory(opts.MemoryCache)
	c, err := cache.New(cache.Options{
		Dir:          filepath.Join(opts.CacheDir, "blocks"),
		MemoryBytes:  opts.MemoryCache,
		DiskBytes:    opts.DiskCache,
		BlockSize:    opts.BlockSize,
		MaxReadAhead: opts.MaxReadAhead,
		Parallel:     opts.Parallel,
		Logger:       log,
	})
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	defer c.Close()

	paths := tracked.NewPaths()
	var mounted []fs.Account
	defer func() {
		for _, a := range mounted {
			a.Backend.Close()
		}
	}()
	for _, a := range accounts {
		b, err := wiring.Open(ctx, env, a, opts)
		if err != nil {
			if remote.IsKind(err, remote.Unauthenticated) {
				return fmt.Errorf("account %s is not logged in: run `bimfs login %s` (%v)", a.Name, a.Name, err)
			}
			return fmt.Errorf("account %s: %w", a.Name, err)
		}
		mounted = append(mounted, fs.Account{Name: a.Name, Backend: tracked.Wrap(a.Name, b, paths, opts.ReadOnly), Identity: wiring.Identity(a)})
	}

	fsname := opts.FSName
	if fsname == "" {
		fsname = "bimfs"
	}
	stagingDir := filepath.Join(opts.CacheDir, "staging")
	core, err := fs.New(mounted, fs.Options{
		MetadataTTL:    opts.MetadataTTL,
		StagingDir:     stagingDir,
		StatePath:      filepath.Join(opts.CacheDir, "state.db"),
		AsyncWriteback: opts.AsyncWriteback,
		Cache:          c,
		Logger:         log,
	})
	if err != nil {
		return err
	}
	defer core.Close()
	var m *fusefs.Mounted
	if !exportOnly {
		m, err = fusefs.MountFS(mountpoint, core, fusefs.Options{
			Options:         fs.Options{Logger: log},
			EntryTimeout:    opts.EntryTimeout,
			AttrTimeout:     opts.AttrTimeout,
			NegativeTimeout: opts.NegativeTimeout,
			NoXattrs:        opts.NoXattrs,
			Debug:           opts.DebugFUSE,
			UID:             opts.UID,
			GID:             opts.GID,
			Umask:           opts.Umask,
			// Other users get only what the shown modes allow.
			DefaultPermissions: opts.DefaultPermissions || opts.AllowOther,
			AllowOther:         opts.AllowOther,
			FSName:             fsname,
		})
		if err != nil {
			return fmt.Errorf("mounting on %s: %w", mountpoint, err)
		}
	}
	src := &mountStatus{
		started: time.Now(), mountpoint: mountpoint, cacheDir: opts.CacheDir, tempCache: useDemo && !explicitCache, stagingDir: stagingDir,
		readOnly: opts.ReadOnly, cache: c, api: rec, paths: paths,
	}
	for i, a := range accounts {
		src.accounts = append(src.accounts, control.Account{Name: a.Name, Service: a.Service, BaseURL: a.BaseURL,
			Writable: mounted[i].Backend.Features().Writable})
	}
	// From here on the mount exists: failures must unmount it again.
	cleanup := func() {
		if m == nil {
			return
		}
		if err := m.Unmount(); err != nil {
			log.Error("unmount failed", "mountpoint", mountpoint, "err", err)
		}
		m.Wait()
	}
	if !exportOnly {
		ctl, err := control.Serve(mountpoint, src)
		if err != nil {
			log.Warn("no control socket: bimfs status shows this mount from its journal only", "err", err)
		} else {
			defer ctl.Close()
		}
	}
	var davDone <-chan error
	if dav != nil && dav.addr != "" {
		srv, err := startWebDAV(core, dav, log)
		if err != nil {
			cleanup()
			return err
		}
		defer stopWebDAV(srv, log)
		davDone = srv.Done()
		log.Info("serving WebDAV", "url", srv.URL())
	}
	if opts.MetricsAddr != "" {
		ms, err := metrics.Serve(opts.MetricsAddr, src)
		if err != nil {
			cleanup()
			return err
		}
		defer ms.Close()
		log.Info("serving metrics", "url", "http://"+ms.Addr().String()+"/metrics")
	}
	if exportOnly {
		readiness.ready("serving WebDAV on " + dav.addr)
		select {
		case err := <-davDone:
			return err
		case <-ctx.Done():
			readiness.stopping()
			return nil
		}
	}
	log.Info("mounted", "mountpoint", mountpoint, "accounts", len(mounted), "cache_dir", opts.CacheDir, "read_only", opts.ReadOnly)
	if !explicitCache && !useDemo {
		warnLegacyStaging(log)
	}
	background := readiness.background()
	readiness.ready("mounted on " + mountpoint)
	if background {
		// Do not keep the starting shell's directory (maybe on a disk
		// someone wants to unmount) busy for the life of the mount.
		_ = os.Chdir("/")
	}

	done := make(chan struct{})
	go func() { m.Wait(); close(done) }()
	for {
		select {
		case <-done:
			log.Info("unmounted", "mountpoint", mountpoint)
			return nil
		case err := <-davDone:
			log.Error("the WebDAV export stopped; unmounting", "err", err)
			cleanup()
			return err
		case <-ctx.Done():
			readiness.stopping()
			if err := m.Unmount(); err != nil {
				log.Error("unmount failed; close open files and signal again", "mountpoint", mountpoint, "err", err)
				stop()
				ctx, stop = signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
				continue
			}
			<-done
			log.Info("unmounted", "mountpoint", mountpoint)
			return nil
		}
	}
}

// warnLegacyStaging points at uploads staged by versions that kept one
// shared cache directory: mounts now use one per mountpoint, so those
// uploads wait until a mount uses the old directory again.
func warnLegacyStaging(log *slog.Logger) {
	old := mountopts.DefaultCacheDir()
	ups, err := control.JournalUploads(filepath.Join(old, "staging"), nil, true)
	if err != nil || len(ups) == 0 {
		return
	}
	log.Warn("uploads staged in the shared cache directory of earlier versions wait there; mount once with -o cache_dir="+old+" to upload them",
		"count", len(ups), "dir", filepath.Join(old, "staging"))
}

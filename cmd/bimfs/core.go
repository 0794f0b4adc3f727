package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/bimfs/bimfs/cache"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/demo"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/wiring"
	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/mountopts"
	"github.com/bimfs/bimfs/remote"
)

// coreConfig is what `bimfs mount` and `bimfs serve` share: where the
// configuration comes from.
type coreConfig struct {
	configPath string
	dashO      string
	demo       bool
	debug      bool
}

// session is one filesystem core with everything it runs on: options,
// logger, demo servers, cache and backends. Front ends (the mount, the
// WebDAV export) share one session, so they share the cache and staged
// files and show the same tree.
type session struct {
	opts    *mountopts.Options
	log     *slog.Logger
	core    *fs.FS
	fsOpts  fs.Options
	closers []func()
}

// openSession loads the configuration and builds the core. The caller
// must Close it.
func openSession(ctx context.Context, cc coreConfig) (_ *session, err error) {
	opts, err := loadOptions(cc.configPath, cc.dashO)
	if err != nil {
		return nil, err
	}
	opts.Debug = opts.Debug || cc.debug
	log := newLogger(opts.Debug)
	slog.SetDefault(log)
	s := &session{opts: opts, log: log}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	env := wiring.Env{Logger: log, InsecureSkipVerify: opts.InsecureSkipVerify}
	accounts := opts.Accounts
	if cc.demo {
		d, err := demo.Start(ctx, demo.Options{}, env)
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, d.Close)
		env, accounts = d.Env, d.Accounts
		log.Info("demo servers running", "bim360", d.BIM360.URL, "bimcloud", d.BIMcloud.URL)
	}
	if len(accounts) == 0 {
		return nil, usagef("no accounts configured in %s; add an [account NAME] section or use --demo", mountopts.DefaultConfigPath())
	}

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
		return nil, fmt.Errorf("cache: %w", err)
	}
	s.closers = append(s.closers, func() { c.Close() })

	var opened []fs.Account
	for _, a := range accounts {
		b, err := wiring.Open(ctx, env, a, opts)
		if err != nil {
			if remote.IsKind(err, remote.Unauthenticated) {
				return nil, fmt.Errorf("account %s is not logged in: run `bimfs login %s` (%v)", a.Name, a.Name, err)
			}
			return nil, fmt.Errorf("account %s: %w", a.Name, err)
		}
		s.closers = append(s.closers, func() { b.Close() })
		opened = append(opened, fs.Account{Name: a.Name, Backend: b, Identity: wiring.Identity(a)})
	}
	s.fsOpts = fs.Options{
		MetadataTTL:    opts.MetadataTTL,
		StagingDir:     filepath.Join(opts.CacheDir, "staging"),
		AsyncWriteback: opts.AsyncWriteback,
		Cache:          c,
		Logger:         log,
	}
	core, err := fs.New(opened, s.fsOpts)
	if err != nil {
		return nil, err
	}
	s.core = core
	s.closers = append(s.closers, core.Close)
	return s, nil
}

// Close stops the core, then the backends, the cache and the demo
// servers (the reverse of their start).
func (s *session) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

package e2e

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bimfs/bimfs/cache"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/demo"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/wiring"
	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fusefs"
	"github.com/bimfs/bimfs/mountopts"
)

// mount is a real FUSE mount of both emulators, wired exactly like
// `bimfs mount --demo`.
type mount struct {
	dir   string
	demo  *demo.Demo
	cache *cache.Cache
	log   *logBuffer
}

// logBuffer collects log lines so tests can check what a user would read.
type logBuffer struct {
	mu    sync.Mutex
	lines strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines.String()
}

type mountConfig struct {
	demo     demo.Options
	fs       fusefs.Options
	cacheDir bool   // use a disk tier
	cacheAt  string // use this disk tier directory (implies cacheDir)
	fullDemo bool   // load the demo's sample data too
	setup    func(d *demo.Demo)
}

// parts is what a front end under test runs on: demo servers, a cache,
// the accounts that reach the demo, the log, and the mount options with
// the cache, logger and a staging directory filled in.
type parts struct {
	demo     *demo.Demo
	cache    *cache.Cache
	accounts []fs.Account
	logs     *logBuffer
	log      *slog.Logger
	opts     fusefs.Options
}

// startParts starts what cfg describes; everything stops when the test ends.
func startParts(tb testing.TB, cfg mountConfig) parts {
	tb.Helper()
	logs := &logBuffer{}
	var w io.Writer = logs
	if testing.Verbose() {
		w = io.MultiWriter(logs, os.Stderr)
	}
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx := context.Background()
	cfg.demo.Empty = !cfg.fullDemo
	d, err := demo.Start(ctx, cfg.demo, wiring.Env{Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(d.Close)
	if cfg.setup != nil {
		cfg.setup(d)
	}
	copts := cache.Options{MemoryBytes: 256 << 20, Logger: log}
	wiring.LimitMemory(copts.MemoryBytes)
	if cfg.cacheDir {
		copts.Dir = tb.TempDir()
	}
	if cfg.cacheAt != "" {
		copts.Dir = cfg.cacheAt
	}
	c, err := cache.New(copts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	var accounts []fs.Account
	// A fast change-feed poll keeps tests of remote changes short.
	opts := &mountopts.Options{PollInterval: 200 * time.Millisecond}
	opts.Defaults()
	for _, a := range d.Accounts {
		b, err := wiring.Open(ctx, d.Env, a, opts)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { b.Close() })
		accounts = append(accounts, fs.Account{Name: a.Name, Backend: b, Identity: wiring.Identity(a)})
	}
	fo := cfg.fs
	fo.Cache, fo.Logger = c, log
	if fo.StagingDir == "" {
		fo.StagingDir = tb.TempDir()
	}
	return parts{demo: d, cache: c, accounts: accounts, logs: logs, log: log, opts: fo}
}

func startMount(tb testing.TB, cfg mountConfig) *mount {
	tb.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		tb.Skip("no /dev/fuse: real-mount tests need FUSE")
	}
	parts := startParts(tb, cfg)
	d, c, logs, fo := parts.demo, parts.cache, parts.logs, parts.opts
	accounts := parts.accounts
	dir := tb.TempDir()
	m, err := fusefs.Mount(dir, accounts, fo)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := m.Unmount(); err != nil {
			tb.Errorf("unmount: %v", err)
		}
	})
	return &mount{dir: dir, demo: d, cache: c, log: logs}
}

// bim returns the mount path of a BIM 360 project's top folder.
func (m *mount) bim(hub, project, top string, rest ...string) string {
	return filepath.Join(append([]string{m.dir, demo.BIM360Account, hub, project, top}, rest...)...)
}

// bc returns the mount path below the BIMcloud project root.
func (m *mount) bc(rest ...string) string {
	return filepath.Join(append([]string{m.dir, demo.BIMcloudAccount}, rest...)...)
}

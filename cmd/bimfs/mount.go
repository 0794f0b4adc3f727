package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/bimfs/bimfs/cache"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/demo"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/wiring"
	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fusefs"
	"github.com/bimfs/bimfs/mountopts"
	"github.com/bimfs/bimfs/remote"
)

func runMount(args []string) error {
	f := newFlags("mount")
	configPath := f.String("config", "", "config file (default "+mountopts.DefaultConfigPath()+")")
	var dashO stringList
	f.Var(&dashO, "o", "mount options k=v,… (repeatable); see README")
	useDemo := f.Bool("demo", false, "serve built-in emulators with sample projects (no credentials needed)")
	debug := f.Bool("debug", false, "log every kernel request and API call")
	positional, err := parseInterspersed(f, args)
	if err != nil {
		return usageError{err}
	}
	if len(positional) != 1 {
		return usagef("mount needs exactly one MOUNTPOINT")
	}
	mountpoint, err := checkMountpoint(positional[0])
	if err != nil {
		return usageError{err}
	}
	opts, err := loadOptions(*configPath, strings.Join(dashO, ","))
	if err != nil {
		return err
	}
	opts.Debug = opts.Debug || *debug
	log := newLogger(opts.Debug)
	slog.SetDefault(log)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	env := wiring.Env{Logger: log, InsecureSkipVerify: opts.InsecureSkipVerify}
	accounts := opts.Accounts
	if *useDemo {
		d, err := demo.Start(ctx, demo.Options{}, env)
		if err != nil {
			return err
		}
		defer d.Close()
		env, accounts = d.Env, d.Accounts
		log.Info("demo servers running", "bim360", d.BIM360.URL, "bimcloud", d.BIMcloud.URL)
	}
	if len(accounts) == 0 {
		return usagef("no accounts configured in %s; add an [account NAME] section or use --demo", mountopts.DefaultConfigPath())
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
		return fmt.Errorf("cache: %w", err)
	}
	defer c.Close()

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
		mounted = append(mounted, fs.Account{Name: a.Name, Backend: b, Identity: wiring.Identity(a)})
	}

	m, err := fusefs.Mount(mountpoint, mounted, fusefs.Options{
		Options: fs.Options{
			MetadataTTL:    opts.MetadataTTL,
			StagingDir:     filepath.Join(opts.CacheDir, "staging"),
			StatePath:      filepath.Join(opts.CacheDir, "state.db"),
			AsyncWriteback: opts.AsyncWriteback,
			Cache:          c,
			Logger:         log,
		},
		EntryTimeout:    opts.EntryTimeout,
		AttrTimeout:     opts.AttrTimeout,
		NegativeTimeout: opts.NegativeTimeout,
		NoXattrs:        opts.NoXattrs,
		Debug:           opts.Debug,
		AllowOther:      opts.AllowOther,
		FSName:          "bimfs",
	})
	if err != nil {
		return fmt.Errorf("mounting on %s: %w", mountpoint, err)
	}
	log.Info("mounted", "mountpoint", mountpoint, "accounts", len(mounted))

	done := make(chan struct{})
	go func() { m.Wait(); close(done) }()
	for {
		select {
		case <-done:
			log.Info("unmounted", "mountpoint", mountpoint)
			return nil
		case <-ctx.Done():
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

// checkMountpoint resolves dir and refuses one that is missing, not a
// directory, or already a mount point.
func checkMountpoint(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		if os.IsNotExist(err) {
			return "", fmt.Errorf("mountpoint %s does not exist; create it with mkdir -p %s", abs, abs)
		}
		// ENOTCONN: a crashed mount left the directory behind.
		return "", fmt.Errorf("mountpoint %s is unusable (%v); if an old bimfs died, run fusermount3 -u %s", abs, err, abs)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("mountpoint %s is not a directory", abs)
	}
	if isMounted(abs) {
		return "", fmt.Errorf("mountpoint %s is busy: something is already mounted there (unmount it with fusermount3 -u %s)", abs, abs)
	}
	return abs, nil
}

// isMounted reports whether dir appears as a mount point in
// /proc/self/mountinfo.
func isMounted(dir string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMountinfo(fields[4]) == dir {
			return true
		}
	}
	return false
}

// unescapeMountinfo undoes the octal escapes (\040 for space …) of
// /proc/self/mountinfo paths.
func unescapeMountinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%3o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseInterspersed parses flags that may come before or after positional
// arguments ("bimfs mount ~/bim -o ro" as well as "bimfs mount -o ro ~/bim").
func parseInterspersed(f interface {
	Parse([]string) error
	Args() []string
}, args []string) ([]string, error) {
	var positional []string
	for {
		if err := f.Parse(args); err != nil {
			return nil, err
		}
		rest := f.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if rest[0] == "--" {
			return append(positional, rest[1:]...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

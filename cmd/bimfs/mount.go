package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/bimfs/bimfs/fs/fusefs"
	"github.com/bimfs/bimfs/mountopts"
)

func runMount(args []string) error {
	f := newFlags("mount")
	configPath := f.String("config", "", "config file (default "+mountopts.DefaultConfigPath()+")")
	var dashO stringList
	f.Var(&dashO, "o", "mount options k=v,… (repeatable); see README")
	useDemo := f.Bool("demo", false, "serve built-in emulators with sample projects (no credentials needed)")
	debug := f.Bool("debug", false, "log every kernel request and API call")
	dav := addDavFlags(f, "webdav-", "webdav", "", "also export the mount over WebDAV on this address (host:port), sharing its cache; see serve webdav")
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
	if *dav.addr != "" {
		if _, err := dav.config().Check(); err != nil {
			return usageError{err}
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	s, err := openSession(ctx, coreConfig{configPath: *configPath, dashO: strings.Join(dashO, ","), demo: *useDemo, debug: *debug})
	if err != nil {
		return err
	}
	defer s.Close()
	opts, log := s.opts, s.log

	m, err := fusefs.MountFS(mountpoint, s.core, fusefs.Options{
		Options:         s.fsOpts,
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
	log.Info("mounted", "mountpoint", mountpoint)

	// The WebDAV export shares the mount's core: one cache, one set of
	// staged files, the same tree.
	var davDone <-chan error
	if *dav.addr != "" {
		srv, err := startWebDAV(s, dav)
		if err != nil {
			m.Unmount()
			return err
		}
		davDone = srv.Done()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer cancel()
			srv.Shutdown(sctx)
		}()
	}

	done := make(chan struct{})
	go func() { m.Wait(); close(done) }()
	for {
		select {
		case <-done:
			log.Info("unmounted", "mountpoint", mountpoint)
			return nil
		case err := <-davDone:
			log.Error("the WebDAV export stopped; the mount stays", "err", err)
			davDone = nil
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

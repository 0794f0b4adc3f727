package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/control"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/wiring"
	"github.com/bimfs/bimfs/mountopts"
)

// statusReport is everything `bimfs status` knows; its JSON form is
// `bimfs status --json`.
type statusReport struct {
	// Mounts are the running mounts of this user, read live.
	Mounts []control.Status `json:"mounts"`
	// Accounts are the configured accounts and their login state.
	Accounts []accountState `json:"accounts"`
	// Staged are uploads in cache directories that no running mount
	// serves (state recovered or failed).
	Staged []stagedDir `json:"staged"`
}

type accountState struct {
	Name    string `json:"name"`
	Service string `json:"service"`
	BaseURL string `json:"baseUrl"`
	Login   string `json:"login"`
}

type stagedDir struct {
	CacheDir string           `json:"cacheDir"`
	Uploads  []control.Upload `json:"uploads"`
}

// troubled counts uploads that failed or wait with no mount to upload them.
func (r *statusReport) troubled() int {
	n := 0
	for _, m := range r.Mounts {
		for _, u := range m.Uploads {
			if u.Troubled() {
				n++
			}
		}
	}
	for _, d := range r.Staged {
		for _, u := range d.Uploads {
			if u.Troubled() {
				n++
			}
		}
	}
	return n
}

func newStatusCmd() *cobra.Command {
	var configPath, cacheDir string
	var asJSON, watch bool
	var interval time.Duration
	c := &cobra.Command{
		Use:   "status [flags]",
		Short: "Show mounts, accounts, uploads, cache use and API calls",
		Long: `Show the running mounts (read live from their control sockets), the
configured accounts and their login state, and uploads staged in cache
directories that no running mount serves.

Exit status 1 when an upload has failed or waits for a mount (recovered),
so scripts can check "bimfs status --json >/dev/null".`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if watch {
				return watchStatus(c.OutOrStdout(), configPath, cacheDir, interval)
			}
			r, err := gatherStatus(c.Context(), configPath, cacheDir)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(c.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(r); err != nil {
					return err
				}
			} else {
				printStatus(c.OutOrStdout(), r, configPath)
			}
			if n := r.troubled(); n > 0 {
				if !asJSON {
					fmt.Fprintf(os.Stderr, "bimfs: %d upload(s) need attention\n", n)
				}
				return exitCodeError{code: 1}
			}
			return nil
		},
	}
	c.Flags().StringVar(&configPath, "config", "", "config file (default "+mountopts.DefaultConfigPath()+")")
	c.Flags().StringVar(&cacheDir, "cache-dir", "", "read staged uploads of this cache directory (default: the config's, or every default one)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	c.Flags().BoolVar(&watch, "watch", false, "redraw live upload progress until interrupted")
	c.Flags().DurationVar(&interval, "interval", time.Second, "with --watch: time between redraws")
	return c
}

// gatherStatus reads the live mounts, the config and the journals.
func gatherStatus(ctx context.Context, configPath, cacheDir string) (*statusReport, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	r := &statusReport{Mounts: []control.Status{}, Accounts: []accountState{}, Staged: []stagedDir{}}
	mounts, err := control.All(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bimfs: listing running mounts:", err)
	}
	r.Mounts = append(r.Mounts, mounts...)

	configured := ""
	opts, err := loadOptions(configPath, "", func(o *mountopts.Options) error {
		configured = o.CacheDir
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, a := range opts.Accounts {
		r.Accounts = append(r.Accounts, accountState{Name: a.Name, Service: a.Service, BaseURL: a.BaseURL, Login: loginState(a)})
	}

	served := map[string]bool{}
	for _, m := range r.Mounts {
		served[filepath.Clean(m.CacheDir)] = true
	}
	var dirs []string
	switch {
	case cacheDir != "":
		dirs = []string{cacheDir}
	case configured != "":
		dirs = []string{configured}
	default:
		dirs = append([]string{mountopts.DefaultCacheDir()}, globDirs(mountopts.MountsCacheDir())...)
	}
	for _, d := range dirs {
		if served[filepath.Clean(d)] {
			continue
		}
		ups, err := control.JournalUploads(filepath.Join(d, "staging"), nil, true)
		if err != nil {
			return nil, fmt.Errorf("reading staged uploads in %s: %w", filepath.Join(d, "staging"), err)
		}
		if len(ups) > 0 || cacheDir != "" {
			r.Staged = append(r.Staged, stagedDir{CacheDir: d, Uploads: ups})
		}
	}
	return r, nil
}

func globDirs(parent string) []string {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, filepath.Join(parent, e.Name()))
		}
	}
	return out
}

// loginState describes whether account a has a usable login.
func loginState(a mountopts.Account) string {
	if a.TwoLegged {
		return "client credentials"
	}
	if a.ServiceAccount != "" {
		return "service account " + a.ServiceAccount
	}
	store, err := (wiring.Env{}).TokenStore(a.Name)
	if err != nil {
		return err.Error()
	}
	tok, err := store.Load()
	if err != nil {
		return "not logged in (run bimfs login " + a.Name + ")"
	}
	if tok.RefreshToken == "" && !tok.Expiry.IsZero() && tok.Expiry.Before(time.Now()) {
		return "login expired (run bimfs login " + a.Name + ")"
	}
	return "logged in"
}

func printStatus(w io.Writer, r *statusReport, configPath string) {
	for _, m := range r.Mounts {
		printMount(w, m)
	}
	if len(r.Accounts) == 0 {
		p := configPath
		if p == "" {
			p = mountopts.DefaultConfigPath()
		}
		fmt.Fprintln(w, "no accounts configured in", p)
	}
	for _, a := range r.Accounts {
		fmt.Fprintf(w, "%-20s %-9s %-40s %s\n", a.Name, a.Service, a.BaseURL, a.Login)
	}
	staged := 0
	for _, d := range r.Staged {
		if len(d.Uploads) == 0 {
			continue
		}
		staged += len(d.Uploads)
		fmt.Fprintf(w, "\n%d pending upload(s) staged in %s (no mount is running for it):\n", len(d.Uploads), filepath.Join(d.CacheDir, "staging"))
		for _, u := range d.Uploads {
			fmt.Fprintln(w, "  "+uploadLine(u))
		}
	}
	if staged == 0 && len(r.Mounts) == 0 {
		fmt.Fprintln(w, "\nno pending uploads")
	}
}

func printMount(w io.Writer, m control.Status) {
	mode := "read-write"
	if m.ReadOnly {
		mode = "read-only"
	}
	fmt.Fprintf(w, "%s: mounted %s by pid %d since %s (bimfs %s)\n", m.Mountpoint, mode, m.PID, m.Started.Local().Format(time.DateTime), m.Version)
	var names []string
	for _, a := range m.Accounts {
		names = append(names, a.Name+" ("+a.Service+")")
	}
	fmt.Fprintf(w, "  accounts: %s\n", strings.Join(names, ", "))
	fmt.Fprintf(w, "  cache:    %s\n", m.CacheDir)
	if c := m.Cache; c != nil {
		fmt.Fprintf(w, "            %s in memory, %s on disk; hit ratio %.1f%% (%d hits, %d misses); %s fetched\n",
			humanBytes(c.MemoryBytes), humanBytes(c.DiskBytes), c.HitRatio*100, c.Hits, c.Misses, humanBytes(c.BytesFetched))
	}
	if len(m.API) > 0 {
		fmt.Fprintf(w, "  %-44s %9s %7s %7s %9s\n", "api calls", "requests", "retries", "errors", "throttled")
		for _, e := range m.API {
			fmt.Fprintf(w, "    %-42s %9d %7d %7d %9d\n", e.Name, e.Requests, e.Retries, e.Errors, e.Throttled)
		}
	}
	if len(m.Uploads) == 0 {
		fmt.Fprintln(w, "  no pending uploads")
	} else {
		fmt.Fprintf(w, "  %d pending upload(s):\n", len(m.Uploads))
		for _, u := range m.Uploads {
			fmt.Fprintln(w, "    "+uploadLine(u))
		}
	}
	fmt.Fprintln(w)
}

func uploadLine(u control.Upload) string {
	progress := ""
	if u.Size > 0 {
		progress = fmt.Sprintf(" %d%%", u.Percent())
	}
	line := fmt.Sprintf("%-9s %s (%d bytes%s, %d attempt(s))", u.State, u.Path(), u.Size, progress, u.Attempts)
	if u.LastError != "" {
		line += ": " + u.LastError
	}
	return line
}

// watchStatus redraws the running mounts' uploads with progress bars.
func watchStatus(w io.Writer, configPath, cacheDir string, interval time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		r, err := gatherStatus(ctx, configPath, cacheDir)
		if err != nil {
			return err
		}
		var b strings.Builder
		b.WriteString("\033[H\033[2J") // home and clear
		fmt.Fprintf(&b, "bimfs status — %s (Ctrl-C to stop)\n\n", time.Now().Format(time.TimeOnly))
		if len(r.Mounts) == 0 {
			b.WriteString("no running mounts\n")
		}
		for _, m := range r.Mounts {
			fmt.Fprintf(&b, "%s (pid %d)\n", m.Mountpoint, m.PID)
			if len(m.Uploads) == 0 {
				b.WriteString("  no pending uploads\n")
			}
			for _, u := range m.Uploads {
				fmt.Fprintf(&b, "  %s %3d%% %-9s %s", progressBar(u.Percent(), 30), u.Percent(), u.State, u.Path())
				if u.LastError != "" {
					fmt.Fprintf(&b, ": %s", u.LastError)
				}
				b.WriteString("\n")
			}
		}
		for _, d := range r.Staged {
			for _, u := range d.Uploads {
				fmt.Fprintf(&b, "  %-9s %s (in %s, waits for a mount)\n", u.State, u.Path(), d.CacheDir)
			}
		}
		io.WriteString(w, b.String())
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// progressBar draws pct (0-100) as a bar of width cells.
func progressBar(pct, width int) string {
	if pct < 0 {
		pct = 0
	}
	if pct > 100 {
		pct = 100
	}
	full := pct * width / 100
	return "[" + strings.Repeat("#", full) + strings.Repeat("-", width-full) + "]"
}

// humanBytes formats n with a binary unit.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

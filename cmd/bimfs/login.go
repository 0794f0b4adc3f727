package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/bimfs/bimfs/cache/writeback"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/wiring"
	"github.com/bimfs/bimfs/mountopts"
)

func runLogin(args []string) error {
	f := newFlags("login")
	configPath := f.String("config", "", "config file")
	passwordStdin := f.Bool("password-stdin", false, "bimcloud: read the password from standard input (for scripts)")
	user := f.String("user", "", "bimcloud: user name for --password-stdin (default $USER)")
	noBrowser := f.Bool("no-browser", false, "only print the login URL")
	account, opts, err := accountArg(f, args, configPath)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	env := wiring.Env{Logger: newLogger(opts.Debug), InsecureSkipVerify: opts.InsecureSkipVerify}
	if *passwordStdin {
		name := *user
		if name == "" {
			name = os.Getenv("USER")
		}
		pw, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && pw == "" {
			return usagef("reading password from stdin: %v", err)
		}
		if err := wiring.LoginPassword(ctx, env, account, name, strings.TrimRight(pw, "\r\n")); err != nil {
			return err
		}
	} else {
		open := func(url string) error {
			fmt.Fprintf(os.Stderr, "Open this address in a browser to log in to %s:\n\n  %s\n\n", account.Name, url)
			if !*noBrowser {
				openBrowser(url)
			}
			return nil
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		if err := wiring.Login(ctx, env, account, open); err != nil {
			return err
		}
	}
	if account.ServiceAccount != "" {
		fmt.Fprintf(os.Stderr, "%s uses service account %s: every mount signs its own tokens with %s (no browser, nothing stored). The key works.\n",
			account.Name, account.ServiceAccount, account.ServiceAccountKeyFile)
		return nil
	}
	fmt.Fprintf(os.Stderr, "Logged in to %s.\n", account.Name)
	return nil
}

func runLogout(args []string) error {
	f := newFlags("logout")
	configPath := f.String("config", "", "config file")
	account, _, err := accountArg(f, args, configPath)
	if err != nil {
		return err
	}
	store, err := wiring.Env{}.TokenStore(account.Name)
	if err != nil {
		return err
	}
	if err := store.Delete(); err != nil {
		return err
	}
	if err := store.DeleteMeta(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "Removed the stored login of %s (%s).\n", account.Name, store.Path)
	return nil
}

func runStatus(args []string) error {
	f := newFlags("status")
	configPath := f.String("config", "", "config file")
	if err := f.Parse(args); err != nil {
		return usageError{err}
	}
	opts, err := loadOptions(*configPath, "")
	if err != nil {
		return err
	}
	if len(opts.Accounts) == 0 {
		fmt.Println("no accounts configured in", mountopts.DefaultConfigPath())
		return nil
	}
	for _, a := range opts.Accounts {
		state := "logged in"
		if a.TwoLegged {
			state = "client credentials"
		} else if a.ServiceAccount != "" {
			state = "service account " + a.ServiceAccount
		} else if store, err := (wiring.Env{}).TokenStore(a.Name); err != nil {
			state = err.Error()
		} else if tok, err := store.Load(); err != nil {
			state = "not logged in (run bimfs login " + a.Name + ")"
		} else if tok.RefreshToken == "" && !tok.Expiry.IsZero() && tok.Expiry.Before(time.Now()) {
			state = "login expired (run bimfs login " + a.Name + ")"
		}
		fmt.Printf("%-20s %-9s %-40s %s\n", a.Name, a.Service, a.BaseURL, state)
	}
	return printUploads(filepath.Join(opts.CacheDir, "staging"))
}

// printUploads lists files written through the mount that are not yet
// committed to the service.
func printUploads(dir string) error {
	recs, err := writeback.ReadRecords(dir)
	if err != nil {
		return fmt.Errorf("reading staged uploads in %s: %w", dir, err)
	}
	if len(recs) == 0 {
		fmt.Println("\nno pending uploads")
		return nil
	}
	fmt.Printf("\n%d pending upload(s) staged in %s:\n", len(recs), dir)
	for _, r := range recs {
		progress := ""
		if r.Size > 0 {
			progress = fmt.Sprintf(" %d%%", r.Uploaded*100/r.Size)
		}
		line := fmt.Sprintf("  %-9s %s/%s (%d bytes%s, %d attempt(s))", r.Status(), r.Account, r.Name, r.Size, progress, r.Attempts)
		if r.LastError != "" {
			line += ": " + r.LastError
		}
		fmt.Println(line)
	}
	return nil
}

// accountArg parses the flags and the single ACCOUNT argument and finds
// that account in the config.
func accountArg(f interface {
	Parse([]string) error
	Args() []string
}, args []string, configPath *string) (mountopts.Account, *mountopts.Options, error) {
	positional, err := parseInterspersed(f, args)
	if err != nil {
		return mountopts.Account{}, nil, usageError{err}
	}
	if len(positional) != 1 {
		return mountopts.Account{}, nil, usagef("need exactly one ACCOUNT")
	}
	opts, err := loadOptions(*configPath, "")
	if err != nil {
		return mountopts.Account{}, nil, err
	}
	a, ok := opts.Account(positional[0])
	if !ok {
		return mountopts.Account{}, nil, usagef("no account %q in the config", positional[0])
	}
	return a, opts, nil
}

// openBrowser tries the desktop's URL opener; failure is fine because the
// URL was printed.
func openBrowser(url string) {
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return
	}
	if path, err := exec.LookPath("xdg-open"); err == nil {
		cmd := exec.Command(path, url)
		if cmd.Start() == nil {
			go cmd.Wait()
		}
	}
}

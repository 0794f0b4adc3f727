package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/wiring"
	"github.com/bimfs/bimfs/mountopts"
)

func newLoginCmd() *cobra.Command {
	var configPath, user string
	var passwordStdin, noBrowser bool
	c := &cobra.Command{
		Use:   "login [flags] ACCOUNT",
		Short: "Log an account in and store its token (mode 0600)",
		Args:  exactArgs(1, "ACCOUNT"),
		RunE: func(c *cobra.Command, args []string) error {
			account, opts, err := findAccount(configPath, args[0])
			if err != nil {
				return err
			}
			return runLogin(account, opts, passwordStdin, user, noBrowser)
		},
	}
	c.Flags().StringVar(&configPath, "config", "", "config file (default "+mountopts.DefaultConfigPath()+")")
	c.Flags().BoolVar(&passwordStdin, "password-stdin", false, "bimcloud: read the password from standard input (for scripts)")
	c.Flags().StringVar(&user, "user", "", "bimcloud: user name for --password-stdin (default $USER)")
	c.Flags().BoolVar(&noBrowser, "no-browser", false, "only print the login URL")
	return c
}

func runLogin(account mountopts.Account, opts *mountopts.Options, passwordStdin bool, user string, noBrowser bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	env := wiring.Env{Logger: newLogger(opts.Debug), InsecureSkipVerify: opts.InsecureSkipVerify}
	if passwordStdin {
		name := user
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
			if !noBrowser {
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

func newLogoutCmd() *cobra.Command {
	var configPath string
	c := &cobra.Command{
		Use:   "logout [flags] ACCOUNT",
		Short: "Remove an account's stored token",
		Args:  exactArgs(1, "ACCOUNT"),
		RunE: func(c *cobra.Command, args []string) error {
			account, _, err := findAccount(configPath, args[0])
			if err != nil {
				return err
			}
			return runLogout(account)
		},
	}
	c.Flags().StringVar(&configPath, "config", "", "config file (default "+mountopts.DefaultConfigPath()+")")
	return c
}

func runLogout(account mountopts.Account) error {
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

// findAccount loads the config and finds the account called name.
func findAccount(configPath, name string) (mountopts.Account, *mountopts.Options, error) {
	opts, err := loadOptions(configPath, "", nil)
	if err != nil {
		return mountopts.Account{}, nil, err
	}
	a, ok := opts.Account(name)
	if !ok {
		return mountopts.Account{}, nil, usagef("no account %q in the config", name)
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

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/asfm"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/wiring"
	"github.com/bimfs/bimfs/mountopts"
	"github.com/bimfs/bimfs/remote/bim360"
)

// Exit statuses of `bimfs asfm status` and `update`.
const (
	asfmAllCurrent = 0
	asfmSomeStale  = 1
	asfmErrors     = 2
)

// newAsfmCmd is `bimfs asfm`: Autodesk Source File Manifests, as ArcGIS
// Pro writes them beside data downloaded from BIM 360. No mount is needed,
// so a server can schedule it.
func newAsfmCmd() *cobra.Command {
	asfmCmd := &cobra.Command{
		Use:   "asfm",
		Short: "Check, update or create ArcGIS source file manifests (.asfm)",
		Args: func(c *cobra.Command, args []string) error {
			return usagef("usage: bimfs asfm status|update [--config FILE] [--json] FILE.asfm... | bimfs asfm create [-o FILE.asfm] PATH_ON_MOUNT")
		},
		RunE: func(c *cobra.Command, args []string) error {
			return usagef("usage: bimfs asfm status|update [--config FILE] [--json] FILE.asfm... | bimfs asfm create [-o FILE.asfm] PATH_ON_MOUNT")
		},
	}
	for _, cmd := range []string{"status", "update"} {
		var configPath string
		var asJSON bool
		c := &cobra.Command{
			Use: cmd + " [flags] FILE.asfm...",
			Short: map[string]string{
				"status": "Say for each manifest whether its file is the cloud's current version (exit 0 all current, 1 some stale, 2 errors)",
				"update": "Download the current version of each stale manifest's file and bump its Version (exit 0 all updated, 2 errors)",
			}[cmd],
			Args: func(c *cobra.Command, args []string) error {
				if len(args) == 0 {
					return usagef("asfm %s: no manifest given", cmd)
				}
				return nil
			},
			RunE: func(c *cobra.Command, manifests []string) error {
				return runAsfmCheck(cmd, configPath, asJSON, manifests)
			},
		}
		c.Flags().StringVar(&configPath, "config", "", "config file (default "+mountopts.DefaultConfigPath()+")")
		c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per manifest")
		asfmCmd.AddCommand(c)
	}
	var out string
	create := &cobra.Command{
		Use:   "create [-o FILE.asfm] PATH_ON_MOUNT",
		Short: "Write a manifest for a file on a bimfs mount",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("asfm create: give one file on a bimfs mount")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			dst := out
			if dst == "" {
				dst = asfm.DefaultName(args[0])
			}
			if err := asfm.Create(args[0], dst); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "Wrote %s.\n", dst)
			return nil
		},
	}
	create.Flags().StringVarP(&out, "output", "o", "", "manifest to write (default: the file's stem + .asfm in the current folder)")
	asfmCmd.AddCommand(create)
	return asfmCmd
}

func runAsfmCheck(cmd, configPath string, asJSON bool, manifests []string) error {
	opts, err := loadOptions(configPath, "", nil)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	tool := &asfm.Tool{Accounts: asfmAccounts(opts)}
	var results []asfm.Result
	if cmd == "status" {
		results = tool.Status(ctx, manifests)
	} else {
		results = tool.Update(ctx, manifests)
	}
	return reportAsfm(os.Stdout, results, asJSON)
}

// asfmAccounts are the configured BIM 360 accounts, in config order.
func asfmAccounts(opts *mountopts.Options) []asfm.Account {
	env := wiring.Env{Logger: newLogger(opts.Debug), InsecureSkipVerify: opts.InsecureSkipVerify}
	var out []asfm.Account
	for _, a := range opts.Accounts {
		if a.Service != mountopts.ServiceBIM360 {
			continue
		}
		out = append(out, asfm.Account{Name: a.Name, Open: func(ctx context.Context) (asfm.Source, error) {
			b, err := wiring.Open(ctx, env, a, opts)
			if err != nil {
				return nil, err
			}
			return b.(*bim360.Backend), nil
		}})
	}
	return out
}

// reportAsfm prints results and returns the exit status: 0 all current (or
// updated), 1 some stale, 2 some could not be checked or updated.
func reportAsfm(w io.Writer, results []asfm.Result, asJSON bool) error {
	code := asfmAllCurrent
	enc := json.NewEncoder(w)
	for _, r := range results {
		switch {
		case r.Failed():
			code = asfmErrors
		case r.State == asfm.Stale && code == asfmAllCurrent:
			code = asfmSomeStale
		}
		if asJSON {
			if err := enc.Encode(r); err != nil {
				return err
			}
			continue
		}
		switch {
		case r.Error != "":
			fmt.Fprintf(w, "%s: %s: %s\n", r.Manifest, r.State, r.Error)
		case r.State == asfm.Updated:
			fmt.Fprintf(w, "%s: updated from version %d to %d\n", r.Manifest, r.Local, r.Tip)
		default:
			fmt.Fprintf(w, "%s: %s (local version %d, cloud version %d)\n", r.Manifest, r.State, r.Local, r.Tip)
		}
	}
	if code != asfmAllCurrent {
		what := "some manifests are stale"
		if code == asfmErrors {
			what = "some manifests could not be checked or updated"
		}
		return exitCodeError{error: errors.New(what), code: code}
	}
	return nil
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

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

// exitStatus is an error that carries the process's exit status; main
// exits with it.
type exitStatus struct {
	code int
	msg  string
}

func (e exitStatus) Error() string { return e.msg }

const asfmUsage = `usage:
  bimfs asfm status [--config FILE] [--json] FILE.asfm...
  bimfs asfm update [--config FILE] [--json] FILE.asfm...
  bimfs asfm create [-o FILE.asfm] PATH_ON_MOUNT
`

// runAsfm implements `bimfs asfm`: Autodesk Source File Manifests, as
// ArcGIS Pro writes them beside data downloaded from BIM 360.
func runAsfm(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, asfmUsage)
		return usagef("asfm: which command?")
	}
	switch args[0] {
	case "status", "update":
		return runAsfmCheck(args[0], args[1:])
	case "create":
		return runAsfmCreate(args[1:])
	case "help", "-h", "--help":
		fmt.Print(asfmUsage)
		return nil
	}
	fmt.Fprint(os.Stderr, asfmUsage)
	return usagef("asfm: unknown command %q", args[0])
}

func runAsfmCheck(cmd string, args []string) error {
	f := newFlags("asfm " + cmd)
	configPath := f.String("config", "", "config file")
	asJSON := f.Bool("json", false, "print one JSON object per manifest")
	manifests, err := parseInterspersed(f, args)
	if err != nil {
		return usageError{err}
	}
	if len(manifests) == 0 {
		return usagef("asfm %s: no manifest given", cmd)
	}
	opts, err := loadOptions(*configPath, "")
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
	return reportAsfm(os.Stdout, results, *asJSON)
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
		return exitStatus{code: code, msg: what}
	}
	return nil
}

func runAsfmCreate(args []string) error {
	f := newFlags("asfm create")
	out := f.String("o", "", "manifest to write (default: the file's stem + .asfm in the current folder)")
	files, err := parseInterspersed(f, args)
	if err != nil {
		return usageError{err}
	}
	if len(files) != 1 {
		return usagef("asfm create: give one file on a bimfs mount")
	}
	src := files[0]
	if *out == "" {
		*out = asfm.DefaultName(src)
	}
	if err := asfm.Create(src, *out); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "Wrote %s.\n", *out)
	return nil
}

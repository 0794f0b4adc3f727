// Command bimfs mounts BIM 360 / ACC Docs and BIMcloud accounts as a
// filesystem.
//
//	bimfs mount [--config FILE] [-o k=v,…] [--demo] MOUNTPOINT
//	bimfs login [--config FILE] [--password-stdin] ACCOUNT
//	bimfs logout [--config FILE] ACCOUNT
//	bimfs status [--config FILE]
//	bimfs asfm status|update|create …
//	bimfs version
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// exitUsage is the exit status for bad command lines and bad configs.
const exitUsage = 2

var commands = map[string]func(args []string) error{
	"mount":   runMount,
	"login":   runLogin,
	"logout":  runLogout,
	"status":  runStatus,
	"asfm":    runAsfm,
	"version": func([]string) error { fmt.Println("bimfs", version); return nil },
}

func main() {
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(exitUsage)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		if os.Args[1] == "help" || os.Args[1] == "-h" || os.Args[1] == "--help" {
			usage(os.Stdout)
			return
		}
		fmt.Fprintf(os.Stderr, "bimfs: unknown command %q\n", os.Args[1])
		usage(os.Stderr)
		os.Exit(exitUsage)
	}
	if err := cmd(os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "bimfs:", err)
		var es exitStatus
		if errors.As(err, &es) {
			os.Exit(es.code)
		}
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(exitUsage)
		}
		os.Exit(1)
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  bimfs mount [--config FILE] [-o k=v,...] [--demo] MOUNTPOINT
  bimfs login [--config FILE] [--password-stdin] [--user NAME] ACCOUNT
  bimfs logout [--config FILE] ACCOUNT
  bimfs status [--config FILE]
  bimfs asfm status|update [--config FILE] [--json] FILE.asfm...
  bimfs asfm create [-o FILE.asfm] PATH_ON_MOUNT
  bimfs version
`)
}

// usageError marks errors in what the user typed or configured.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// newFlags returns a flag set whose errors are returned, not fatal.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	return fs
}

func newLogger(debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

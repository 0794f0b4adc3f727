// Command bimfs mounts BIM 360 / ACC Docs and BIMcloud accounts as a
// filesystem.
//
//	bimfs mount [--daemon] [--config FILE] [-o k=v,…] [--demo] MOUNTPOINT
//	bimfs SOURCE MOUNTPOINT -o OPTIONS      (mount(8) / fstab helper form)
//	bimfs unmount [--wait] MOUNTPOINT
//	bimfs status [--json] [--watch] [--cache-dir DIR]
//	bimfs login|logout ACCOUNT
//	bimfs asfm status|update|create …
//	bimfs serve webdav [--addr HOST:PORT] [--demo]
//	bimfs version, bimfs completion bash|zsh|fish
//
// Exit status: 0 on success, 1 on failures at run time, 2 for bad command
// lines and configs; `bimfs status` exits 1 when an upload needs attention.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
)

// exitUsage is the exit status for bad command lines and bad configs.
const exitUsage = 2

func main() {
	os.Exit(runCLI(os.Args))
}

// runCLI executes one command line and returns the exit status.
func runCLI(argv []string) int {
	restoreHome()
	args, err := helperArgs(argv)
	if err != nil {
		return fail(err)
	}
	root := newRootCmd()
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		return fail(err)
	}
	return 0
}

// restoreHome sets HOME from the user database when it is missing: mount(8)
// removes it from the environment of helpers, and the config, token and
// cache locations derive from it.
func restoreHome() {
	if os.Getenv("HOME") != "" {
		return
	}
	if u, err := user.Current(); err == nil && u.HomeDir != "" {
		os.Setenv("HOME", u.HomeDir)
	}
}

// fail prints err, tells a waiting parent of a background mount, and
// returns the exit status for it.
func fail(err error) int {
	code := 1
	var ue usageError
	var ce exitCodeError
	switch {
	case errors.As(err, &ce):
		code = ce.code
	case errors.As(err, &ue), isCobraUsageError(err):
		code = exitUsage
	}
	if !errors.As(err, &ce) || ce.error != nil {
		fmt.Fprintln(os.Stderr, "bimfs:", err)
	}
	readiness.failed(err, code)
	return code
}

// usageError marks errors in what the user typed or configured.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// exitCodeError ends the program with code; a nil error prints nothing.
type exitCodeError struct {
	error
	code int
}

func (e exitCodeError) Error() string {
	if e.error == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.error.Error()
}

// isCobraUsageError recognises the argument errors cobra raises itself.
func isCobraUsageError(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument", "accepts ", "requires "} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

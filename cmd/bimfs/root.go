package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…"; without
// it the module version from the build info is used.
var version = ""

// versionString is "v1.2.3 (go1.26, rev 0123abc)" or as much as is known.
func versionString() string {
	v := version
	var extra []string
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = bi.Main.Version
		}
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			if modified == "true" {
				rev += "+dirty"
			}
			extra = append(extra, "rev "+rev)
		}
	}
	if v == "" || v == "(devel)" {
		v = "dev"
	}
	extra = append([]string{runtime.Version()}, extra...)
	return fmt.Sprintf("%s (%s)", v, strings.Join(extra, ", "))
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "bimfs",
		Short: "Mount BIM 360 / ACC Docs and BIMcloud accounts as a filesystem",
		Long: `bimfs mounts construction-cloud files as ordinary files.

It also runs as a mount(8) helper: "mount -t fuse.bimfs SOURCE DIR -o OPTIONS"
and /etc/fstab lines of type fuse.bimfs call "bimfs SOURCE DIR -o OPTIONS",
which mounts in the background and returns once the mount is ready.`,
		Version:       versionString(),
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetVersionTemplate("bimfs {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see %s --help)", err, c.CommandPath())}
	})
	root.AddCommand(newMountCmd(), newServeCmd(), newAsfmCmd(), newUnmountCmd(), newStatusCmd(), newLoginCmd(), newLogoutCmd(),
		&cobra.Command{
			Use:   "version",
			Short: "Print the version",
			Args:  noArgs,
			RunE: func(c *cobra.Command, _ []string) error {
				fmt.Fprintln(c.OutOrStdout(), "bimfs", versionString())
				return nil
			},
		})
	return root
}

// noArgs refuses positional arguments as a usage error.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", c.CommandPath(), args)
	}
	return nil
}

// exactArgs wants n positional arguments, named what in the message.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s needs exactly one %s (see %s --help)", c.CommandPath(), what, c.CommandPath())
		}
		return nil
	}
}

package main

import (
	"path/filepath"
	"strings"
)

// commandNames are the first words that are subcommands, not a mount(8)
// helper call.
var commandNames = map[string]bool{
	"mount": true, "serve": true, "asfm": true, "unmount": true, "umount": true, "status": true, "login": true, "logout": true,
	"version": true, "help": true, "completion": true, "__complete": true, "__completeNoDesc": true,
}

// helperArgs turns the argument form of a mount(8) helper into a mount
// command line. mount.fuse3 runs "bimfs SOURCE MOUNTPOINT -o OPTIONS" for
// fstab entries of type fuse.bimfs; a symlink named mount.fuse.bimfs is
// called by mount(8) directly as "mount.fuse.bimfs SOURCE DIR [-sfnv] [-o
// OPTIONS] [-t TYPE]". Both become
//
//	mount --daemon --fsname SOURCE -o OPTIONS MOUNTPOINT
//
// so the helper returns once the mount is ready and the filesystem keeps
// running in the background. Any other command line is returned unchanged
// (without argv[0]).
func helperArgs(argv []string) ([]string, error) {
	args := argv[1:]
	asHelper := strings.HasPrefix(filepath.Base(argv[0]), "mount.")
	if !asHelper && (len(args) == 0 || commandNames[args[0]] || strings.HasPrefix(args[0], "-")) {
		return args, nil
	}
	var positional, opts []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-o" || a == "-t":
			if i+1 >= len(args) {
				return nil, usagef("%s needs a value", a)
			}
			if a == "-o" {
				opts = append(opts, args[i+1])
			}
			i++
		case strings.HasPrefix(a, "-o") && len(a) > 2:
			opts = append(opts, a[2:])
		case a == "-f":
			// mount -f: pretend; there is nothing to record.
			return []string{"version"}, nil
		case a == "-s" || a == "-n" || a == "-v" || a == "--":
			// sloppy, no-mtab and verbose mean nothing here.
		case strings.HasPrefix(a, "-"):
			return nil, usagef("unknown option %q in mount helper arguments (want SOURCE MOUNTPOINT -o OPTIONS)", a)
		default:
			positional = append(positional, a)
		}
	}
	if len(positional) != 2 {
		return nil, usagef("unknown command %q (as a mount helper: bimfs SOURCE MOUNTPOINT -o OPTIONS)", args[0])
	}
	out := []string{"mount", "--daemon", "--fsname", positional[0]}
	if len(opts) > 0 {
		out = append(out, "-o", strings.Join(opts, ","))
	}
	return append(out, "--", positional[1]), nil
}

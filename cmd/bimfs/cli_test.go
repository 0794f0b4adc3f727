package main

import (
	"strings"
	"testing"

	"github.com/bimfs/bimfs/mountopts"
)

// TestHelpEverywhere checks that --help of every command exits 0 and lists
// its flags, that mount's help lists every -o option with its default, and
// that shell completion scripts are generated.
func TestHelpEverywhere(t *testing.T) {
	home := t.TempDir()
	for _, cmd := range [][]string{{}, {"mount"}, {"unmount"}, {"status"}, {"login"}, {"logout"}, {"version"}, {"completion"}} {
		args := append(cmd, "--help")
		out, code := run(t, home, args...)
		if code != 0 || !strings.Contains(out, "Usage:") || !strings.Contains(out, "-h, --help") {
			t.Errorf("%v: %d\n%s", args, code, out)
		}
	}
	out, _ := run(t, home, "mount", "--help")
	for _, d := range mountopts.Docs {
		if !strings.Contains(out, "  "+d.Key) || !strings.Contains(out, "(default "+d.Default+")") {
			t.Errorf("mount --help lacks option %s with its default %s", d.Key, d.Default)
		}
	}
	for _, want := range []string{"config=FILE", "demo", "--daemon", "--allow-non-empty", "--log-file", "--log-level", `(default "info")`, "--log-format", `(default "text")`, "x-systemd"} {
		if !strings.Contains(out, want) {
			t.Errorf("mount --help lacks %q", want)
		}
	}
	for shell, marker := range map[string]string{"bash": "__start_bimfs", "zsh": "#compdef bimfs", "fish": "complete -c bimfs"} {
		out, code := run(t, home, "completion", shell)
		if code != 0 || !strings.Contains(out, marker) {
			t.Errorf("completion %s: %d, %d bytes, no %q", shell, code, len(out), marker)
		}
	}
	// Completion of subcommands works through cobra's hidden command.
	if out, code := run(t, home, "__complete", "unm"); code != 0 || !strings.Contains(out, "unmount") {
		t.Errorf("__complete: %d %q", code, out)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	home := t.TempDir()
	for _, args := range [][]string{
		{"mount"}, {"mount", "a", "b"}, {"mount", "--frob", "x"}, {"status", "extra"}, {"unmount"},
		{"status", "--interval"}, {"only-one-arg"},
	} {
		if out, code := run(t, home, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, exitUsage, out)
		}
	}
}

func TestHelperArgs(t *testing.T) {
	cases := []struct {
		argv []string
		want string
	}{
		{[]string{"bimfs", "mount", "--demo", "/m"}, "mount --demo /m"},
		{[]string{"bimfs", "work", "/mnt/bim", "-o", "rw,nodev,config=/etc/bimfs/config"}, "mount --daemon --fsname work -o rw,nodev,config=/etc/bimfs/config -- /mnt/bim"},
		{[]string{"/sbin/mount.fuse.bimfs", "demo", "/m", "-n", "-o", "ro", "-t", "fuse.bimfs"}, "mount --daemon --fsname demo -o ro -- /m"},
		{[]string{"bimfs", "src", "/m"}, "mount --daemon --fsname src -- /m"},
		{[]string{"bimfs", "--version"}, "--version"},
	}
	for _, c := range cases {
		got, err := helperArgs(c.argv)
		if err != nil || strings.Join(got, " ") != c.want {
			t.Errorf("%q: %q %v, want %q", c.argv, got, err, c.want)
		}
	}
	if _, err := helperArgs([]string{"bimfs", "a", "b", "c"}); err == nil {
		t.Error("three positional arguments accepted")
	}
	if _, err := helperArgs([]string{"bimfs", "a", "/m", "-z"}); err == nil {
		t.Error("unknown helper flag accepted")
	}
}

// TestMountFuse3OnlyOptions: setuid= and drop_privileges only reach bimfs
// when mount(8) bypasses mount.fuse3; the message says how to fix that.
func TestMountFuse3OnlyOptions(t *testing.T) {
	home, mnt := t.TempDir(), t.TempDir()
	for _, o := range []string{"setuid=nobody", "drop_privileges"} {
		out, code := run(t, home, "mount", "--demo", "-o", "ro,"+o, mnt)
		if code != exitUsage || !strings.Contains(out, o) || !strings.Contains(out, "mount.fuse3") {
			t.Errorf("-o %s: %d %s", o, code, out)
		}
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/control"
)

func newUnmountCmd() *cobra.Command {
	var wait bool
	var timeout time.Duration
	c := &cobra.Command{
		Use:     "unmount [flags] MOUNTPOINT",
		Aliases: []string{"umount"},
		Short:   "Unmount a bimfs mount, reporting (or waiting for) pending uploads",
		Long: `Unmount MOUNTPOINT and wait for its bimfs process to finish.

Uploads that are still pending are reported; they stay staged in the cache
directory and resume at the next mount of it. With --wait, bimfs first waits
until no upload is open, pending or uploading (failed ones are reported and
kept), then unmounts.`,
		Args: exactArgs(1, "MOUNTPOINT"),
		RunE: func(c *cobra.Command, args []string) error {
			return runUnmount(args[0], wait, timeout)
		},
	}
	c.Flags().BoolVar(&wait, "wait", false, "wait for pending uploads before unmounting")
	c.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "with --wait: give up (and stay mounted) after this long")
	return c
}

func runUnmount(dir string, wait bool, timeout time.Duration) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return usageError{err}
	}
	ctx := context.Background()
	st, serr := control.GetMount(ctx, abs)
	live := serr == nil
	if !live && !isMounted(abs) {
		return fmt.Errorf("%s is not mounted", abs)
	}
	if live {
		if wait {
			deadline := time.Now().Add(timeout)
			for inFlight(st) > 0 {
				if time.Now().After(deadline) {
					return fmt.Errorf("%d upload(s) still in flight after %s; %s stays mounted", inFlight(st), timeout, abs)
				}
				fmt.Fprintf(os.Stderr, "waiting for %d upload(s)...\n", inFlight(st))
				time.Sleep(500 * time.Millisecond)
				if st, err = control.GetMount(ctx, abs); err != nil {
					return fmt.Errorf("reading the mount's state: %w", err)
				}
			}
		}
		if n := len(st.Uploads); n > 0 && st.TemporaryCache {
			fmt.Fprintf(os.Stderr, "%d upload(s) not finished; they are discarded with the temporary cache %s:\n", n, st.CacheDir)
		} else if n > 0 {
			fmt.Fprintf(os.Stderr, "%d upload(s) not finished; they stay staged in %s and resume at the next mount:\n", n, st.CacheDir)
		}
		for _, u := range st.Uploads {
			fmt.Fprintln(os.Stderr, "  "+uploadLine(u))
		}
	}
	if err := unmountDir(abs); err != nil {
		return err
	}
	if live && st.PID > 0 && st.PID != os.Getpid() {
		// The mount process closes its staging journal and cache after the
		// kernel lets go; wait so a following mount finds them free.
		deadline := time.Now().Add(30 * time.Second)
		for syscall.Kill(st.PID, 0) == nil {
			if time.Now().After(deadline) {
				return fmt.Errorf("unmounted %s, but bimfs (pid %d) has not exited yet", abs, st.PID)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	fmt.Fprintf(os.Stderr, "unmounted %s\n", abs)
	return nil
}

// inFlight counts uploads a running mount is still working on.
func inFlight(s control.Status) int {
	n := 0
	for _, u := range s.Uploads {
		if u.InFlight() {
			n++
		}
	}
	return n
}

// unmountDir unmounts directly when privileged and with fusermount3
// otherwise.
func unmountDir(dir string) error {
	if os.Geteuid() == 0 {
		err := unix.Unmount(dir, 0)
		if errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("%s is busy: files on it are open (see lsof +f -- %s)", dir, dir)
		}
		if err != nil {
			return fmt.Errorf("unmounting %s: %w", dir, err)
		}
		return nil
	}
	bin := "fusermount3"
	if _, err := exec.LookPath(bin); err != nil {
		bin = "fusermount"
	}
	out, err := exec.Command(bin, "-u", dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s -u %s: %v: %s", bin, dir, err, out)
	}
	return nil
}

package fusefs_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/bimfs/bimfs/fs/fusefs"
	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/remotetest"
)

// TestInterruptCancelsBackendCall kills a process blocked in a lookup on a
// slow backend and checks that the backend call's context is cancelled, so
// an interrupted program does not leave a request running. (Reads through
// the page cache are the kernel's background read-ahead requests, which it
// never interrupts; they end when their block arrives.)
func TestInterruptCancelsBackendCall(t *testing.T) {
	mem := newProjectMemory()
	slow, _ := mem.Lookup("Hub A/Project 1/Plans")
	started := make(chan struct{}, 1)
	canceled := make(chan error, 1)
	mem.SetFault(func(ctx context.Context, op string, id remote.ID) error {
		if op != remotetest.OpList || id != slow {
			return nil
		}
		select {
		case started <- struct{}{}:
		default:
		}
		<-ctx.Done() // a service that never answers
		select {
		case canceled <- ctx.Err():
		default:
		}
		return ctx.Err()
	})
	mnt := mountOne(t, mem, fusefs.Options{})
	cmd := exec.Command("ls", filepath.Join(mnt, "Hub A/Project 1/Plans/"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the listing never reached the backend")
	}
	cmd.Process.Kill()
	select {
	case err := <-canceled:
		if err == nil {
			t.Fatal("backend call ended without its context being done")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("killing the reader did not cancel the backend call")
	}
}

package fusefs_test

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/bimfs/bimfs/fs/fusefs"
)

// TestSingleProc serves and uses the mount from one process with
// GOMAXPROCS=1, where the go-fuse "Deadlocks" notes bite: in-process
// reads in parallel, and child processes started while the mount is busy.
func TestSingleProc(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	mnt := mountOne(t, newProjectMemory(), fusefs.Options{})
	var wg sync.WaitGroup
	errs := make(chan string, len(projectTree))
	for p, data := range projectTree {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := os.ReadFile(filepath.Join(mnt, p))
			if err != nil || !bytes.Equal(got, data) {
				errs <- p
			}
		}()
	}
	dst := t.TempDir()
	run(t, "cp", "-r", filepath.Join(mnt, "Hub A"), dst)
	wg.Wait()
	close(errs)
	for p := range errs {
		t.Errorf("parallel read of %s failed", p)
	}
	big := "Hub A/Project 1/Project Files/Models/big.rvt"
	run(t, "cmp", filepath.Join(mnt, big), filepath.Join(dst, big))
	run(t, "ls", "-lR", mnt)
}

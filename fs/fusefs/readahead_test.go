package fusefs_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fstest"
	"github.com/bimfs/bimfs/fs/fusefs"
	"github.com/bimfs/bimfs/remote/remotetest"
)

// bdiReadAhead returns the kernel read-ahead of the mount at mnt.
func bdiReadAhead(t testing.TB, mnt string) (string, bool) {
	var st syscall.Stat_t
	err := syscall.Stat(mnt, &st)
	for err == syscall.EINTR { // retry as package os does
		err = syscall.Stat(mnt, &st)
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev)))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

func TestKernelReadAheadRaised(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("only root may set the read-ahead")
	}
	for _, tc := range []struct {
		kb   int
		want string
	}{{0, fmt.Sprint(fusefs.DefaultKernelReadAheadKB)}, {2048, "2048"}} {
		mnt := fstest.Mount(t, []fs.Account{{Name: "a", Backend: remotetest.NewMemory()}}, fusefs.Options{KernelReadAheadKB: tc.kb})
		got, ok := bdiReadAhead(t, mnt)
		if !ok {
			t.Skip("no bdi in /sys for the mount")
		}
		if got != tc.want {
			t.Errorf("KernelReadAheadKB %d: read_ahead_kb is %s, want %s", tc.kb, got, tc.want)
		}
	}
}

// BenchmarkKernelReadAhead reads a 64 MiB file that is in the cache with
// the kernel's default read-ahead and with the raised one; compare the
// MB/s of the two sub-benchmarks.
func BenchmarkKernelReadAhead(b *testing.B) {
	data := content(60, 64<<20)
	for _, kb := range []int{-1, 1024, fusefs.DefaultKernelReadAheadKB, 16384} {
		b.Run(fmt.Sprintf("read_ahead_kb=%d", kb), func(b *testing.B) {
			mem := remotetest.NewMemory()
			mem.AddFile("f.bin", data)
			mnt := fstest.Mount(b, []fs.Account{{Name: "a", Backend: mem}}, fusefs.Options{KernelReadAheadKB: kb})
			if got, ok := bdiReadAhead(b, mnt); ok {
				b.Logf("read_ahead_kb of the mount: %s", got)
			}
			p := filepath.Join(mnt, "a", "f.bin")
			readAll := func() {
				f, err := os.Open(p)
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				buf := make([]byte, 128<<10)
				if n, err := io.CopyBuffer(io.Discard, f, buf); err != nil || n != int64(len(data)) {
					b.Fatalf("read %d, %v", n, err)
				}
				// Drop the kernel's pages so every round goes through FUSE.
				unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
			}
			readAll() // warm the block cache
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for range b.N {
				readAll()
			}
		})
	}
}

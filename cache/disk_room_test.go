package cache

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/bimfs/bimfs/remote"
)

// TestDiskTierLeavesRoomOnItsFilesystem puts far more blocks than a small
// filesystem holds into a disk tier whose configured bound is larger than
// that filesystem: the tier stays below the free space minus the reserve
// it keeps for staged uploads, and FreeDisk gives space back on demand.
func TestDiskTierLeavesRoomOnItsFilesystem(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64m"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	c, err := New(Options{Dir: filepath.Join(dir, "c"), MemoryBytes: -1, DiskBytes: 10 << 30, BlockSize: 1 << 20,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	block := make([]byte, 1<<20)
	for i := range 100 {
		c.Put(remote.Version{ID: fmt.Sprint("v", i)}, 0, block)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	reserve := int64(64<<20) / reserveFraction
	if free < reserve-(1<<20) {
		t.Fatalf("the cache left %d bytes free on a 64 MiB filesystem, want about %d for staging", free, reserve)
	}
	used := c.Stats().DiskBytes
	if used == 0 {
		t.Fatal("the disk tier stored nothing")
	}
	if got := c.FreeDisk(4 << 20); got < 4<<20 || c.Stats().DiskBytes > used-(4<<20) {
		t.Fatalf("FreeDisk(4 MiB) freed %d bytes (tier %d -> %d)", got, used, c.Stats().DiskBytes)
	}
}

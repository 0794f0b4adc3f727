package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/demo"
	bimemu "github.com/bimfs/bimfs/remote/bim360/emulator"
)

// getAll reads u with one GET, as a WebDAV client copying a file does.
func getAll(tb testing.TB, u string) int64 {
	tb.Helper()
	resp, err := http.Get(u)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %s", u, resp.Status)
	}
	n, err := io.CopyBuffer(io.Discard, resp.Body, make([]byte, 1<<20))
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// dropPageCache asks the kernel to drop its cached pages of path.
func dropPageCache(tb testing.TB, path string) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		tb.Fatal(err)
	}
}

func timed(tb testing.TB, want int64, read func() int64) time.Duration {
	tb.Helper()
	start := time.Now()
	if n := read(); n != want {
		tb.Fatalf("read %d bytes, want %d", n, want)
	}
	return time.Since(start)
}

// BenchmarkWebDAVRead reads a 1 GiB file through the WebDAV export and
// through the mount, cold (fresh cache) and warm, and reports the
// export's speed as a ratio of the mount's measured in the same run:
//
//	go test -run '^$' -bench WebDAVRead -benchtime 1x ./cmd/bimfs/internal/e2e
func BenchmarkWebDAVRead(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var tr bimTree
		cfg := func(mount bool) exportConfig {
			return exportConfig{mountConfig: mountConfig{demo: demo.Options{Empty: true, BIM360: benchBIMOptions()}, cacheDir: true, setup: func(d *demo.Demo) {
				setupBIM(&tr)(d)
				d.BIM360.AddFile(tr.projectID, tr.files, "big.las", bimemu.Synthetic(9, benchFileSize))
			}}, mount: mount}
		}
		// The mount, cold then warm; the export of the same core reads
		// from the same, now warm, cache.
		e := startExport(b, cfg(true))
		path := filepath.Join(e.dir, e.bimPath(tr.hub, tr.project, "Project Files", "big.las"))
		mountCold := timed(b, benchFileSize, func() int64 { return readAll(b, path) })
		mountWarm := timed(b, benchFileSize, func() int64 { return readAll(b, path) })
		// The mount's warm read above came from the kernel's page cache,
		// which HTTP never uses; dropped, the mount reads through the
		// daemon's cache as the export does.
		dropPageCache(b, path)
		mountDaemon := timed(b, benchFileSize, func() int64 { return readAll(b, path) })
		davWarm := timed(b, benchFileSize, func() int64 { return getAll(b, e.bimURL(tr.hub, tr.project, "Project Files", "big.las")) })
		// An export alone on a fresh core and cache: its cold read.
		e2 := startExport(b, cfg(false))
		davCold := timed(b, benchFileSize, func() int64 { return getAll(b, e2.bimURL(tr.hub, tr.project, "Project Files", "big.las")) })

		b.ReportMetric(mibps(benchFileSize, mountCold), "mount-cold-MiB/s")
		b.ReportMetric(mibps(benchFileSize, davCold), "dav-cold-MiB/s")
		b.ReportMetric(mibps(benchFileSize, mountWarm), "mount-warm-MiB/s")
		b.ReportMetric(mibps(benchFileSize, davWarm), "dav-warm-MiB/s")
		b.ReportMetric(mibps(benchFileSize, mountDaemon), "mount-daemon-MiB/s")
		b.ReportMetric(mountCold.Seconds()/davCold.Seconds(), "dav/mount-cold")
		b.ReportMetric(mountWarm.Seconds()/davWarm.Seconds(), "dav/mount-warm")
		b.ReportMetric(mountDaemon.Seconds()/davWarm.Seconds(), "dav/mount-daemon")
		b.Logf("1 GiB: mount cold %v (%.0f MiB/s), WebDAV cold %v (%.2f× the mount); warm: mount %v (%.0f MiB/s, page cache), mount without page cache %v (%.0f MiB/s), WebDAV %v (%.0f MiB/s: %.2f× the mount, %.2f× the mount without page cache)",
			mountCold.Round(time.Millisecond), mibps(benchFileSize, mountCold), davCold.Round(time.Millisecond), mountCold.Seconds()/davCold.Seconds(),
			mountWarm.Round(time.Millisecond), mibps(benchFileSize, mountWarm), mountDaemon.Round(time.Millisecond), mibps(benchFileSize, mountDaemon),
			davWarm.Round(time.Millisecond), mibps(benchFileSize, davWarm), mountWarm.Seconds()/davWarm.Seconds(), mountDaemon.Seconds()/davWarm.Seconds())
	}
}

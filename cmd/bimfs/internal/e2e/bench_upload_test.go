package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/demo"
	"github.com/bimfs/bimfs/remote/bim360"
	bimemu "github.com/bimfs/bimfs/remote/bim360/emulator"
)

// makeLocalFile writes size pseudo-random-looking bytes (not sparse, so
// every layer really moves them).
func makeLocalFile(tb testing.TB, size int64) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "upload.bin")
	f, err := os.Create(p)
	if err != nil {
		tb.Fatal(err)
	}
	buf := make([]byte, 4<<20)
	for off := int64(0); off < size; off += int64(len(buf)) {
		for i := range buf {
			buf[i] = bimemu.SyntheticByte(5, off+int64(i))
		}
		n := min(int64(len(buf)), size-off)
		if _, err := f.Write(buf[:n]); err != nil {
			tb.Fatal(err)
		}
	}
	f.Close()
	return p
}

// BenchmarkBIM360Upload: a 1 GiB cp onto the mount (close returns after
// the service committed it) divided by a raw chunked HTTP upload of the
// same bytes with the same part size and parallelism.
func BenchmarkBIM360Upload(b *testing.B) {
	const size = 1 << 30
	local := makeLocalFile(b, size)
	for i := 0; i < b.N; i++ {
		var tr bimTree
		opts := benchBIMOptions()
		opts.PartDir = b.TempDir()
		m := startMount(b, mountConfig{demo: demo.Options{BIM360: opts}, setup: setupBIM(&tr)})
		s := m.demo.BIM360

		f, _ := os.Open(local)
		start := time.Now()
		_, err := bim360.RawUpload(context.Background(), bim360.RawUploadRequest{
			BaseURL: s.URL, Token: s.Token(), ProjectID: tr.projectID, FolderID: tr.files, Name: "raw.bin",
			Content: f, Size: size, PartSize: bim360.DefaultPartSize, Parallel: bim360.DefaultUploadParallel, CreateItem: true,
		})
		raw := time.Since(start)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		runCmd(b, "cp", local, m.bim(tr.hub, tr.project, "Project Files", "mounted.bin"))
		mounted := time.Since(start)
		if s.FindChild(tr.projectID, tr.files, "mounted.bin") == "" {
			b.Fatal("the upload did not create the item")
		}
		b.ReportMetric(mibps(size, raw), "raw-MiB/s")
		b.ReportMetric(mibps(size, mounted), "mount-MiB/s")
		b.ReportMetric(raw.Seconds()/mounted.Seconds(), "mount/raw")
		b.Logf("1 GiB upload: raw chunked HTTP %v (%.0f MiB/s); cp onto the mount %v (%.2f× raw speed)",
			raw.Round(time.Millisecond), mibps(size, raw), mounted.Round(time.Millisecond), raw.Seconds()/mounted.Seconds())
	}
}

// BenchmarkBIM360CopyPeakRSS copies a 1 GiB and then a 4 GiB file onto
// the mount and reports the peak resident memory of the process serving
// the mount (which also hosts the emulator, whose parts go to disk) during
// each copy. Flat memory means the two peaks are about the same.
func BenchmarkBIM360CopyPeakRSS(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var tr bimTree
		opts := benchBIMOptions()
		opts.BytesPerSecond = 0
		opts.PartDir = b.TempDir()
		m := startMount(b, mountConfig{demo: demo.Options{BIM360: opts}, setup: setupBIM(&tr)})
		var peaks []int64
		for _, size := range []int64{1 << 30, 4 << 30} {
			local := makeLocalFile(b, size)
			base := rssKiB(b, "VmRSS")
			// Writing 5 to clear_refs resets the peak (VmHWM) to the current RSS.
			if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
				b.Skipf("cannot reset peak RSS: %v", err)
			}
			start := time.Now()
			runCmd(b, "cp", local, m.bim(tr.hub, tr.project, "Project Files", filepath.Base(local)+strconv.FormatInt(size, 10)))
			took := time.Since(start)
			peak := rssKiB(b, "VmHWM")
			peaks = append(peaks, peak)
			os.Remove(local)
			b.Logf("%d GiB cp onto the mount in %v: RSS before %d MiB, peak %d MiB",
				size>>30, took.Round(time.Millisecond), base/1024, peak/1024)
		}
		b.ReportMetric(float64(peaks[1])/1024, "peak-RSS-4GiB-MiB")
		b.ReportMetric(float64(peaks[1])/float64(peaks[0]), "peak4GiB/peak1GiB")
	}
}

func rssKiB(tb testing.TB, field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	tb.Fatalf("no %s in /proc/self/status", field)
	return 0
}

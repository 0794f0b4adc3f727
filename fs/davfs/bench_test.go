package davfs_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/davfs"
)

// BenchmarkGetWarm reads a 64 MiB file through the export from a warm
// memory cache: the export's own cost per byte.
func BenchmarkGetWarm(b *testing.B) {
	const size = 64 << 20
	m := newMem(map[string][]byte{pf + "/big.bin": content(5, size)})
	s := newServerTB(b, davfs.Options{}, fs.Account{Name: "acme", Backend: m})
	u := s.url + url("acme", pf, "big.bin")
	get := func() {
		resp, err := http.Get(u)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.CopyBuffer(io.Discard, resp.Body, make([]byte, 1<<20))
		resp.Body.Close()
		if n != size {
			b.Fatalf("read %d", n)
		}
	}
	get()
	b.SetBytes(size)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		get()
	}
	b.ReportMetric(float64(size*b.N)/(1<<20)/time.Since(start).Seconds(), "MiB/s")
}

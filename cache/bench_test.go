package cache

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote"
)

const (
	benchSize    = 32 << 20
	benchChunk   = 128 << 10 // what the kernel sends without a larger max_read
	benchLatency = 2 * time.Millisecond
)

// readThrough reads the whole file through a new handle.
func readThrough(tb testing.TB, c *Cache, src *fakeSource, rangeReads bool, size int) {
	v := benchVersion(src)
	r := c.Open(src, rangeReads, "item", v, int64(size))
	defer r.Close()
	buf := make([]byte, benchChunk)
	for off := int64(0); ; off += benchChunk {
		_, err := r.ReadAt(context.Background(), buf, off)
		if err == io.EOF {
			return
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
}

var benchSrc = map[bool]*fakeSource{}

func benchSource(rangeReads bool) *fakeSource {
	if s := benchSrc[rangeReads]; s != nil {
		return s
	}
	s := newFakeSource(rangeReads)
	s.latency = benchLatency
	s.add("bench", benchSize)
	benchSrc[rangeReads] = s
	return s
}

func benchVersion(src *fakeSource) (v0 remote.Version) {
	src.mu.Lock()
	defer src.mu.Unlock()
	for id := range src.files {
		v0.ID = id
	}
	return v0
}

func benchCache(tb testing.TB, opts Options) *Cache {
	opts.Logger = slog.New(slog.DiscardHandler)
	c, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// measure times one full read of the bench file under the given setup.
func measure(tb testing.TB, rangeReads bool, opts Options, warm bool) time.Duration {
	src := benchSource(rangeReads)
	c := benchCache(tb, opts)
	defer c.Close()
	if warm {
		readThrough(tb, c, src, rangeReads, benchSize)
		if c.mem != nil {
			c.mem.c.Wait()
		}
	}
	start := time.Now()
	readThrough(tb, c, src, rangeReads, benchSize)
	return time.Since(start)
}

// BenchmarkRead reads a 32 MiB file in 128 KiB reads from a source with
// 2 ms per request: cold with and without read-ahead, streamed, and warm
// from each tier.
func BenchmarkRead(b *testing.B) {
	cases := []struct {
		name       string
		rangeReads bool
		opts       func(b *testing.B) Options
		warm       bool
	}{
		{"cold/readahead", true, func(*testing.B) Options { return Options{} }, false},
		{"cold/no-readahead", true, func(*testing.B) Options { return Options{MaxReadAhead: 1} }, false},
		{"cold/stream", false, func(b *testing.B) Options { return Options{Dir: b.TempDir()} }, false},
		{"warm/memory", true, func(*testing.B) Options { return Options{} }, true},
		{"warm/disk", true, func(b *testing.B) Options { return Options{Dir: b.TempDir(), MemoryBytes: -1} }, true},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(benchSize)
			src := benchSource(tc.rangeReads)
			c := benchCache(b, tc.opts(b))
			defer c.Close()
			if tc.warm {
				readThrough(b, c, src, tc.rangeReads, benchSize)
			}
			b.ResetTimer()
			for b.Loop() {
				if !tc.warm {
					b.StopTimer()
					c.Close()
					c = benchCache(b, tc.opts(b))
					b.StartTimer()
				}
				readThrough(b, c, src, tc.rangeReads, benchSize)
			}
			b.ReportMetric(float64(c.Stats().RemoteRequests), "requests/last")
		})
	}
}

// BenchmarkRatios prints how much read-ahead and each tier gain over a
// cold read without read-ahead.
func BenchmarkRatios(b *testing.B) {
	var base, ra, mem, disk time.Duration
	for b.Loop() {
		base += measure(b, true, Options{MaxReadAhead: 1}, false)
		ra += measure(b, true, Options{}, false)
		mem += measure(b, true, Options{}, true)
		disk += measure(b, true, Options{Dir: b.TempDir(), MemoryBytes: -1}, true)
	}
	b.ReportMetric(float64(base)/float64(ra), "readahead-speedup")
	b.ReportMetric(float64(base)/float64(mem), "memory-speedup")
	b.ReportMetric(float64(base)/float64(disk), "disk-speedup")
}

// TestBenchHelpers keeps the benchmark's reading path honest: it returns
// the source's bytes.
func TestBenchHelpers(t *testing.T) {
	src := newFakeSource(true)
	v := src.add("h", 3*benchChunk+5)
	c := newTestCache(t, Options{})
	r := c.Open(src, true, "item", v, int64(3*benchChunk+5))
	defer r.Close()
	if got := readAll(t, r, 3*benchChunk+5, benchChunk); !bytes.Equal(got, src.content(v)) {
		t.Fatal("wrong bytes")
	}
}

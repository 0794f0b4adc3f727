package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/bimfs/bimfs/remote"
)

// TestReadAtBytes checks every byte of unaligned reads, reads across block
// boundaries and reads at and past the end of file, in both modes, with and
// without a disk tier.
func TestReadAtBytes(t *testing.T) {
	const bs = 4096
	sizes := []int{0, 1, 100, bs - 1, bs, bs + 1, 5*bs + 123}
	for _, rangeReads := range []bool{true, false} {
		for _, withDisk := range []bool{false, true} {
			for _, size := range sizes {
				name := fmt.Sprintf("range=%v/disk=%v/size=%d", rangeReads, withDisk, size)
				t.Run(name, func(t *testing.T) {
					opts := Options{BlockSize: bs}
					if withDisk {
						opts.Dir = t.TempDir()
					}
					c := newTestCache(t, opts)
					src := newFakeSource(rangeReads)
					v := src.add("f", size)
					want := src.content(v)
					r := c.Open(src, rangeReads, "item", v, int64(size))
					defer r.Close()
					type rd struct{ off, n int }
					reads := []rd{{0, 10}, {bs - 3, 7}, {size - 1, 1}, {size - 5, 100}, {size, 10},
						{size + 10, 1}, {0, size}, {0, size + 1}, {1, 2*bs + 5}, {bs, bs}, {3, 0}}
					for _, x := range reads {
						if x.off < 0 || x.n < 0 {
							continue
						}
						p := make([]byte, x.n)
						n, err := r.ReadAt(context.Background(), p, int64(x.off))
						wantN := max(0, min(x.n, size-x.off))
						if n != wantN {
							t.Fatalf("ReadAt(%d, %d) = %d bytes, want %d (err %v)", x.off, x.n, n, wantN, err)
						}
						atEnd := x.n > 0 && x.off+x.n > size
						if atEnd && err != io.EOF || !atEnd && err != nil {
							t.Fatalf("ReadAt(%d, %d) err = %v, want EOF: %v", x.off, x.n, err, atEnd)
						}
						if n > 0 && !bytes.Equal(p[:n], want[x.off:x.off+n]) {
							t.Fatalf("ReadAt(%d, %d) returned wrong bytes", x.off, x.n)
						}
					}
					if got := readAll(t, r, size, 1000); !bytes.Equal(got, want) {
						t.Fatalf("sequential read: got %d bytes, want %d, or contents differ", len(got), len(want))
					}
				})
			}
		}
	}
}

func TestNegativeOffset(t *testing.T) {
	c := newTestCache(t, Options{})
	src := newFakeSource(true)
	v := src.add("f", 100)
	r := c.Open(src, true, "item", v, 100)
	defer r.Close()
	_, err := r.ReadAt(context.Background(), make([]byte, 1), -1)
	if !remote.IsKind(err, remote.Invalid) {
		t.Fatalf("err = %v, want kind invalid", err)
	}
}

// TestSequentialPrefetchGrows reads a file front to back in small reads:
// the cache must use far fewer requests than blocks, requests must grow,
// and no byte may be fetched twice.
func TestSequentialPrefetchGrows(t *testing.T) {
	const bs, nblocks = 4096, 512
	c := newTestCache(t, Options{BlockSize: bs, MaxReadAhead: 64 * bs, Parallel: 4})
	src := newFakeSource(true)
	v := src.add("big", nblocks*bs)
	r := c.Open(src, true, "item", v, nblocks*bs)
	defer r.Close()
	maxBuffered := 0
	buf := make([]byte, 1024)
	var got []byte
	for off := int64(0); ; off += int64(len(buf)) {
		n, err := r.ReadAt(context.Background(), buf, off)
		got = append(got, buf[:n]...)
		maxBuffered = max(maxBuffered, r.buffered())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, src.content(v)) {
		t.Fatal("wrong bytes")
	}
	reqs := src.requests()
	st := c.Stats()
	t.Logf("%d requests for %d blocks, stats %+v", len(reqs), nblocks, st)
	if len(reqs) > nblocks/4 {
		t.Errorf("%d requests for %d blocks; sequential reads should need far fewer", len(reqs), nblocks)
	}
	if st.BytesFetched != nblocks*bs {
		t.Errorf("fetched %d bytes for a %d byte file", st.BytesFetched, nblocks*bs)
	}
	if st.PrefetchReqs == 0 {
		t.Error("no prefetch requests")
	}
	var first, largest int64 = reqs[0].length, 0
	for _, q := range reqs {
		largest = max(largest, q.length)
		if q.length%bs != 0 {
			t.Errorf("request length %d is not a multiple of the block size", q.length)
		}
	}
	if largest < 8*bs || largest <= first {
		t.Errorf("requests did not grow: first %d, largest %d bytes", first, largest)
	}
	if limit := int(64 + 3); maxBuffered > limit {
		t.Errorf("handle buffered %d blocks, bound is %d", maxBuffered, limit)
	}
	if m := src.maxActive.Load(); m > 4+1 {
		t.Errorf("%d concurrent requests, want at most Parallel+1 demand", m)
	}
}

// TestRandomAccessFetchesOnlyTouchedBlocks reads like GDAL on a tiled
// GeoTIFF: a header, then tiles scattered over the file.
func TestRandomAccessFetchesOnlyTouchedBlocks(t *testing.T) {
	const bs, nblocks = 4096, 400
	c := newTestCache(t, Options{BlockSize: bs})
	src := newFakeSource(true)
	v := src.add("tif", nblocks*bs)
	want := src.content(v)
	r := c.Open(src, true, "item", v, nblocks*bs)
	defer r.Close()
	blocks := []int64{0, 0, 1, 250, 37, 390, 120, 121, 300, 7, 199, 388}
	offs := []int64{0, 400, bs, 250*bs + 100, 37*bs + 4000, 390 * bs, 120*bs + 17, 121*bs + 5, 300 * bs, 7*bs + 1, 199*bs + 2000, 388 * bs}
	touched := map[int64]bool{}
	for i, off := range offs {
		p := make([]byte, 64)
		if _, err := r.ReadAt(context.Background(), p, off); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p, want[off:off+64]) {
			t.Fatalf("wrong bytes at %d", off)
		}
		touched[blocks[i]] = true
	}
	st := c.Stats()
	if st.BytesFetched > int64(len(touched)+4)*bs {
		t.Errorf("fetched %d bytes for %d touched blocks: random access prefetched", st.BytesFetched, len(touched))
	}
	for _, q := range src.requests() {
		if q.length > 2*bs {
			t.Errorf("request of %d bytes during random access", q.length)
		}
	}
}

// TestSeekDropsWindow checks that a seek after a long sequential run does
// not keep prefetching at the old pace.
func TestSeekDropsWindow(t *testing.T) {
	const bs, nblocks = 4096, 512
	c := newTestCache(t, Options{BlockSize: bs, MaxReadAhead: 64 * bs})
	src := newFakeSource(true)
	v := src.add("f", nblocks*bs)
	r := c.Open(src, true, "item", v, nblocks*bs)
	defer r.Close()
	p := make([]byte, bs)
	for k := int64(0); k < 40; k++ {
		if _, err := r.ReadAt(context.Background(), p, k*bs); err != nil {
			t.Fatal(err)
		}
	}
	if r.ra.window == 0 {
		t.Fatal("sequential reads did not open a window")
	}
	before := c.Stats().PrefetchReqs
	if _, err := r.ReadAt(context.Background(), p, 400*bs); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p, src.content(v)[400*bs:401*bs]) {
		t.Fatal("wrong bytes after seek")
	}
	if r.ra.window != 0 {
		t.Errorf("window %d after a seek, want 0", r.ra.window)
	}
	if got := c.Stats().PrefetchReqs - before; got != 0 {
		t.Errorf("%d prefetch requests after a seek", got)
	}
}

// TestSingleflightOneBlock: N handles reading one block at once cause one
// request.
func TestSingleflightOneBlock(t *testing.T) {
	const n = 8
	c := newTestCache(t, Options{BlockSize: 4096})
	src := newFakeSource(true)
	v := src.add("f", 10000)
	src.hold()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.Open(src, true, "item", v, 10000)
			defer r.Close()
			p := make([]byte, 100)
			if _, err := r.ReadAt(context.Background(), p, 50); err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(p, src.content(v)[50:150]) {
				errs <- errors.New("wrong bytes")
			}
		}()
	}
	eventually(t, "readers to join", func() bool { return c.Stats().Joins == n-1 })
	src.release()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := src.calls.Load(); got != 1 {
		t.Errorf("%d requests for one block read by %d handles", got, n)
	}
}

// TestSingleflightWholeFile: N handles reading a whole file in one call
// each fetch every byte once.
func TestSingleflightWholeFile(t *testing.T) {
	const n, size = 6, 8*4096 + 10
	c := newTestCache(t, Options{BlockSize: 4096})
	src := newFakeSource(true)
	v := src.add("f", size)
	src.hold()
	var wg sync.WaitGroup
	results := make([][]byte, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.Open(src, true, "item", v, size)
			defer r.Close()
			p := make([]byte, size)
			m, err := r.ReadAt(context.Background(), p, 0)
			if err != nil {
				t.Error(err)
			}
			results[i] = p[:m]
		}()
	}
	eventually(t, "readers to join", func() bool { return c.Stats().Joins >= n-1 })
	src.release()
	wg.Wait()
	for i, got := range results {
		if !bytes.Equal(got, src.content(v)) {
			t.Errorf("reader %d: wrong bytes", i)
		}
	}
	if got := src.calls.Load(); got != 1 {
		t.Errorf("%d requests, want 1", got)
	}
	if got := c.Stats().BytesFetched; got != size {
		t.Errorf("fetched %d bytes of a %d byte file", got, size)
	}
}

// TestSourceErrorPropagates: the source's *remote.Error reaches the caller
// unchanged, and the next read tries again.
func TestSourceErrorPropagates(t *testing.T) {
	c := newTestCache(t, Options{BlockSize: 4096})
	src := newFakeSource(true)
	v := src.add("f", 20000)
	denied := &remote.Error{Kind: remote.Permission, Op: "fake.ReadRange", Status: 403}
	src.inject(&fault{err: denied, n: 1})
	r := c.Open(src, true, "item", v, 20000)
	defer r.Close()
	p := make([]byte, 10)
	_, err := r.ReadAt(context.Background(), p, 5000)
	var re *remote.Error
	if !errors.As(err, &re) || re != denied {
		t.Fatalf("err = %v, want the source's error", err)
	}
	if _, err := r.ReadAt(context.Background(), p, 5000); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if !bytes.Equal(p, src.content(v)[5000:5010]) {
		t.Fatal("wrong bytes")
	}
}

// TestFailedPrefetchDoesNotPoison: prefetch requests fail, reads still
// succeed by fetching on demand.
func TestFailedPrefetchDoesNotPoison(t *testing.T) {
	const bs, nblocks = 4096, 64
	c := newTestCache(t, Options{BlockSize: bs, MaxReadAhead: 16 * bs})
	src := newFakeSource(true)
	v := src.add("f", nblocks*bs)
	// Every multi-block request (only prefetches are) fails, many times.
	src.inject(&fault{when: func(off, length int64) bool { return length > bs && off > 2*bs },
		err: remote.Errorf(remote.Unavailable, "fake.ReadRange", "HTTP 503"), n: 1000})
	r := c.Open(src, true, "item", v, nblocks*bs)
	defer r.Close()
	if got := readAll(t, r, nblocks*bs, 1000); !bytes.Equal(got, src.content(v)) {
		t.Fatal("wrong bytes")
	}
	if c.Stats().PrefetchReqs == 0 {
		t.Fatal("test did not exercise prefetch")
	}
}

// TestBrokenResponses: a short or broken body is requested again, up to
// rangeRepeats times; a failure every time is an error; the bytes of a
// too-long body past the blocks it completed are never served.
func TestBrokenResponses(t *testing.T) {
	cases := []struct {
		name    string
		fault   fault
		wantErr remote.Kind
	}{
		{"short once", fault{short: 100, n: 1}, -1},
		{"broken once", fault{fail: 100, n: 1}, -1},
		{"short every time", fault{short: 100, n: rangeRepeats + 1}, remote.Unavailable},
		{"broken every time", fault{fail: 5, n: rangeRepeats + 1}, remote.Unavailable},
		{"too long every time", fault{long: true, n: rangeRepeats + 1}, remote.KindUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCache(t, Options{BlockSize: 4096})
			src := newFakeSource(true)
			v := src.add("f", 3*4096)
			ft := tc.fault
			src.inject(&ft)
			r := c.Open(src, true, "item", v, 3*4096)
			defer r.Close()
			p := make([]byte, 2*4096)
			n, err := r.ReadAt(context.Background(), p, 4096)
			if tc.wantErr < 0 {
				if err != nil || !bytes.Equal(p, src.content(v)[4096:]) {
					t.Fatalf("n=%d err=%v or wrong bytes", n, err)
				}
				if c.Stats().Retries != 1 {
					t.Errorf("retries = %d, want 1", c.Stats().Retries)
				}
				return
			}
			// Blocks that arrived whole before the fault may be served;
			// they must be the right bytes.
			var re *remote.Error
			if !errors.As(err, &re) || re.Kind != tc.wantErr || !bytes.Equal(p[:n], src.content(v)[4096:4096+n]) {
				t.Fatalf("n=%d err=%v, want a %v *remote.Error and right bytes", n, err, tc.wantErr)
			}
			// The failure is not cached.
			if _, err := r.ReadAt(context.Background(), p, 4096); err != nil || !bytes.Equal(p, src.content(v)[4096:]) {
				t.Fatalf("after the fault: %v or wrong bytes", err)
			}
		})
	}
}

// TestContextCancel: a cancelled read returns at once and its fetch is
// cancelled at the source.
func TestContextCancel(t *testing.T) {
	c := newTestCache(t, Options{BlockSize: 4096})
	src := newFakeSource(true)
	v := src.add("f", 10000)
	src.hold()
	defer src.release()
	r := c.Open(src, true, "item", v, 10000)
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := r.ReadAt(ctx, make([]byte, 10), 0)
		done <- err
	}()
	eventually(t, "the request", func() bool { return src.calls.Load() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	eventually(t, "the source to see the cancellation", func() bool { return src.canceled.Load() == 1 })
}

// TestCloseCancelsPrefetch: closing a handle cancels the prefetches nobody
// else waits for.
func TestCloseCancelsPrefetch(t *testing.T) {
	const bs = 4096
	c := newTestCache(t, Options{BlockSize: bs, MaxReadAhead: 32 * bs})
	src := newFakeSource(true)
	v := src.add("f", 100*bs)
	r := c.Open(src, true, "item", v, 100*bs)
	p := make([]byte, bs)
	for k := int64(0); k < 3; k++ {
		if _, err := r.ReadAt(context.Background(), p, k*bs); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "prefetches to finish", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, p := range r.buf {
			if !p.isDone() {
				return false
			}
		}
		return true
	})
	// Hold every further request; the next read is served from the buffer
	// and prefetches further.
	src.hold()
	defer src.release()
	calls := src.calls.Load()
	if _, err := r.ReadAt(context.Background(), p, 3*bs); err != nil {
		t.Fatal(err)
	}
	eventually(t, "prefetches", func() bool { return src.calls.Load() > calls })
	started := src.calls.Load() - calls
	r.Close()
	eventually(t, "prefetches to be cancelled", func() bool { return src.canceled.Load() >= started })
	if _, err := r.ReadAt(context.Background(), p, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("read after Close: %v", err)
	}
}

// TestReadAfterCacheClose fails cleanly.
func TestReadAfterCacheClose(t *testing.T) {
	c, err := New(Options{BlockSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	src := newFakeSource(true)
	v := src.add("f", 10000)
	r := c.Open(src, true, "item", v, 10000)
	c.Close()
	if _, err := r.ReadAt(context.Background(), make([]byte, 10), 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
}

// TestConcurrentReadsOneHandle: parallel reads of one handle at mixed
// offsets, as the kernel issues them, all return the right bytes.
func TestConcurrentReadsOneHandle(t *testing.T) {
	const bs, size = 4096, 200*4096 + 1234
	for _, rangeReads := range []bool{true, false} {
		c := newTestCache(t, Options{BlockSize: bs, MaxReadAhead: 16 * bs, MemoryBytes: 32 * bs})
		src := newFakeSource(rangeReads)
		v := src.add("par", size)
		want := src.content(v)
		r := c.Open(src, rangeReads, "item", v, size)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := make([]byte, 3000)
				for i := range 150 {
					// Half the goroutines read sequentially, half jump.
					off := int64(i * 3000)
					if g%2 == 1 {
						off = int64((i*7919 + g*104729) % size)
					}
					n, err := r.ReadAt(context.Background(), p, off)
					if err != nil && err != io.EOF {
						t.Errorf("ReadAt(%d): %v", off, err)
						return
					}
					if !bytes.Equal(p[:n], want[off:off+int64(n)]) {
						t.Errorf("ReadAt(%d): wrong bytes", off)
						return
					}
				}
			}()
		}
		wg.Wait()
		if n := r.buffered(); n > r.maxBuf+1 {
			t.Errorf("handle buffers %d blocks, bound %d", n, r.maxBuf)
		}
		r.Close()
	}
}

// TestMemoryTierBound: the memory tier stays within its budget.
func TestMemoryTierBound(t *testing.T) {
	const bs, budget = 4096, 16 * 4096
	c := newTestCache(t, Options{BlockSize: bs, MemoryBytes: budget})
	src := newFakeSource(true)
	v := src.add("mem", 100*bs)
	r := c.Open(src, true, "item", v, 100*bs)
	defer r.Close()
	readAll(t, r, 100*bs, bs)
	c.mem.c.Wait()
	if used := c.Stats().MemoryBytes; used > budget || used <= 0 {
		t.Fatalf("memory tier holds %d bytes, budget %d", used, budget)
	}
}

package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/bimfs/bimfs/remote"
)

// TestStreamShared: readers of one version share one sequential stream,
// including a reader that starts at the end.
func TestStreamShared(t *testing.T) {
	for _, withDisk := range []bool{false, true} {
		t.Run(fmt.Sprintf("disk=%v", withDisk), func(t *testing.T) {
			const bs, size = 4096, 30*4096 + 99
			opts := Options{BlockSize: bs}
			if withDisk {
				opts.Dir = t.TempDir()
			}
			c := newTestCache(t, opts)
			src := newFakeSource(false)
			v := src.add("stream", size)
			want := src.content(v)
			var wg sync.WaitGroup
			for i := range 3 {
				// All open before any reads, as when processes share a file.
				r := c.Open(src, false, "item", v, size)
				defer r.Close()
				wg.Add(1)
				go func() {
					defer wg.Done()
					if i == 2 {
						p := make([]byte, 50)
						if _, err := r.ReadAt(context.Background(), p, size-50); err != nil {
							t.Error(err)
						} else if !bytes.Equal(p, want[size-50:]) {
							t.Error("wrong bytes at the end")
						}
					}
					if got := readAll(t, r, size, 1000+i*517); !bytes.Equal(got, want) {
						t.Errorf("reader %d: wrong bytes", i)
					}
				}()
			}
			wg.Wait()
			st := c.Stats()
			if st.StreamPasses != 1 || src.calls.Load() != 1 || st.BytesFetched != size {
				t.Fatalf("passes %d, requests %d, bytes %d; want 1, 1, %d", st.StreamPasses, src.calls.Load(), st.BytesFetched, size)
			}
			for _, q := range src.requests() {
				if q.off != 0 {
					t.Fatalf("request at offset %d", q.off)
				}
			}
		})
	}
}

// TestStreamServesArrivedBytes: a read returns as soon as its bytes have
// arrived, while the stream is still stalled further on.
func TestStreamServesArrivedBytes(t *testing.T) {
	const bs, size = 4096, 10 * 4096
	c := newTestCache(t, Options{BlockSize: bs, Dir: t.TempDir()})
	src := newFakeSource(false)
	v := src.add("slow", size)
	resume := make(chan struct{})
	src.inject(&fault{stall: 2*bs + 10, resume: resume, n: 1})
	r := c.Open(src, false, "item", v, size)
	defer r.Close()
	p := make([]byte, 2*bs)
	if _, err := r.ReadAt(context.Background(), p, 0); err != nil || !bytes.Equal(p, src.content(v)[:2*bs]) {
		t.Fatalf("err %v or wrong bytes", err) // the test would hang if the read waited for more
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.ReadAt(context.Background(), p, 5*bs)
		done <- err
	}()
	close(resume)
	if err := <-done; err != nil || !bytes.Equal(p, src.content(v)[5*bs:7*bs]) {
		t.Fatalf("err %v or wrong bytes", err)
	}
}

// TestStreamRestartsAfterBreak: a stream that breaks after progress is
// restarted from 0, skipping blocks already stored.
func TestStreamRestartsAfterBreak(t *testing.T) {
	const bs, size = 4096, 12 * 4096
	c := newTestCache(t, Options{BlockSize: bs, Dir: t.TempDir()})
	src := newFakeSource(false)
	v := src.add("flaky", size)
	src.inject(&fault{fail: 5*bs + 100, n: 1})
	r := c.Open(src, false, "item", v, size)
	defer r.Close()
	if got := readAll(t, r, size, 3000); !bytes.Equal(got, src.content(v)) {
		t.Fatal("wrong bytes")
	}
	// The last block's write may still be running after the read returned.
	eventually(t, "the last block write", func() bool { return c.Stats().DiskWrites >= 12 })
	st := c.Stats()
	if st.StreamPasses != 2 || st.DiskWrites != 12 {
		t.Fatalf("passes %d, disk writes %d; want 2, 12", st.StreamPasses, st.DiskWrites)
	}
}

// TestStreamErrors: the source's error reaches the reader as it is; a
// stream breaking without progress fails instead of looping; the next read
// tries again.
func TestStreamErrors(t *testing.T) {
	const bs, size = 4096, 8 * 4096
	c := newTestCache(t, Options{BlockSize: bs})
	src := newFakeSource(false)
	v := src.add("err", size)
	gone := &remote.Error{Kind: remote.NotFound, Op: "fake.ReadRange", Status: 404}
	src.inject(&fault{err: gone, n: 1})
	r := c.Open(src, false, "item", v, size)
	defer r.Close()
	p := make([]byte, 100)
	if _, err := r.ReadAt(context.Background(), p, 3*bs); err != gone {
		t.Fatalf("err = %v, want the source's error", err)
	}

	src.inject(&fault{fail: 10, n: 100})
	_, err := r.ReadAt(context.Background(), p, 3*bs)
	var re *remote.Error
	if !errors.As(err, &re) || re.Kind != remote.Unavailable {
		t.Fatalf("err = %v, want unavailable", err)
	}
	if passes := c.Stats().StreamPasses; passes > 3 {
		t.Errorf("%d passes for a stream that never progressed", passes)
	}

	src.mu.Lock()
	src.faults = nil
	src.mu.Unlock()
	if got := readAll(t, r, size, 1000); !bytes.Equal(got, src.content(v)) {
		t.Fatal("wrong bytes after the faults")
	}
}

// TestStreamRefetchesLostBlock: without a disk tier, a block that fell out
// of the stream's window is fetched by a new pass.
func TestStreamRefetchesLostBlock(t *testing.T) {
	const bs, size = 4096, 16 * 4096
	c := newTestCache(t, Options{BlockSize: bs, MemoryBytes: -1, MaxReadAhead: 2 * bs})
	src := newFakeSource(false)
	v := src.add("lost", size)
	r := c.Open(src, false, "item", v, size)
	defer r.Close()
	if got := readAll(t, r, size, bs); !bytes.Equal(got, src.content(v)) {
		t.Fatal("wrong bytes")
	}
	r2 := c.Open(src, false, "item", v, size)
	defer r2.Close()
	p := make([]byte, 10)
	if _, err := r2.ReadAt(context.Background(), p, 5); err != nil || !bytes.Equal(p, src.content(v)[5:15]) {
		t.Fatalf("err %v or wrong bytes", err)
	}
	if passes := c.Stats().StreamPasses; passes != 2 {
		t.Fatalf("%d passes, want 2", passes)
	}
	if m := c.streams[v.ID].window; m != 2 {
		t.Fatalf("window %d", m)
	}
}

// TestStreamTooLong: a stream longer than the listed size is not served:
// a second pass is tried, and if it is too long as well the read fails and
// nothing stored from the stream is kept.
func TestStreamTooLong(t *testing.T) {
	for _, times := range []int{1, 100} {
		t.Run(fmt.Sprint(times), func(t *testing.T) {
			const bs, size = 4096, 3 * 4096
			c := newTestCache(t, Options{BlockSize: bs, Dir: t.TempDir()})
			src := newFakeSource(false)
			v := src.add("long", size)
			src.inject(&fault{long: true, n: times})
			r := c.Open(src, false, "item", v, size)
			defer r.Close()
			p := make([]byte, 10)
			_, err := r.ReadAt(context.Background(), p, size-10)
			if times == 1 {
				if err != nil || !bytes.Equal(p, src.content(v)[size-10:]) {
					t.Fatalf("err %v or wrong bytes", err)
				}
				return
			}
			if err == nil || !remote.IsKind(err, remote.KindUnknown) {
				t.Fatalf("err = %v, want an error of kind unknown", err)
			}
			if st := c.Stats(); st.DiskBlocks != 0 {
				t.Fatalf("%d blocks kept from a bad stream", st.DiskBlocks)
			}
		})
	}
}

// TestStreamCloseCancels: closing the last reader stops the stream.
func TestStreamCloseCancels(t *testing.T) {
	const bs, size = 4096, 8 * 4096
	c := newTestCache(t, Options{BlockSize: bs, Dir: t.TempDir()})
	src := newFakeSource(false)
	v := src.add("close", size)
	src.inject(&fault{stall: bs, resume: make(chan struct{}), n: 1})
	r := c.Open(src, false, "item", v, size)
	if _, err := r.ReadAt(context.Background(), make([]byte, 10), 0); err != nil {
		t.Fatal(err)
	}
	r.Close()
	eventually(t, "the stream to be cancelled", func() bool { return src.canceled.Load() == 1 })
}

// TestStreamSkipsStoredBlocks: a stream does not store again what the disk
// tier holds, and is not fooled by a partial block seeded with Put.
func TestStreamSkipsStoredBlocks(t *testing.T) {
	const bs, size = 4096, 10*4096 + 1
	c := newTestCache(t, Options{BlockSize: bs, Dir: t.TempDir(), MemoryBytes: -1})
	src := newFakeSource(false)
	v := src.add("seeded", size)
	want := src.content(v)
	c.Put(v, 0, want[:4*bs])
	c.Put(v, 6*bs, want[6*bs:6*bs+100]) // not the end of the file: never used
	r := c.Open(src, false, "item", v, size)
	defer r.Close()
	if got := readAll(t, r, size, 1000); !bytes.Equal(got, want) {
		t.Fatal("wrong bytes")
	}
	c.Close()
	st := c.Stats()
	// 4 + 1 blocks from Put, then the 7 blocks the stream had to store.
	if st.StreamPasses != 1 || st.DiskWrites != 5+7 || st.DiskHits < 4 {
		t.Fatalf("passes %d, disk writes %d, disk hits %d; want 1, 12, at least 4", st.StreamPasses, st.DiskWrites, st.DiskHits)
	}
}

package cache

import (
	"context"
	"testing"

	"github.com/bimfs/bimfs/remote"
)

// TestStreamStaleDropsBlocks: a stream whose source finds at the last byte
// that the version is gone fails with Stale at once (no restart) and keeps
// none of the blocks it stored on the way.
func TestStreamStaleDropsBlocks(t *testing.T) {
	const bs, size = 4096, 6 * 4096
	c := newTestCache(t, Options{BlockSize: bs, Dir: t.TempDir()})
	src := newFakeSource(false)
	v := src.add("stale-stream", size)
	src.inject(&fault{staleAtEnd: true, n: 100})
	r := c.Open(src, false, "item", v, size)
	defer r.Close()
	_, err := r.ReadAt(context.Background(), make([]byte, 10), size-10)
	if !remote.IsKind(err, remote.Stale) {
		t.Fatalf("err %v, want Stale", err)
	}
	st := c.Stats()
	if st.StreamPasses != 1 {
		t.Fatalf("%d stream passes; a stale version must not be streamed again", st.StreamPasses)
	}
	if st.DiskBlocks != 0 {
		t.Fatalf("%d blocks of a stale version kept on disk", st.DiskBlocks)
	}
	for k := range int64(size / bs) {
		if _, ok := c.lookup(blockKey{v.ID, k}, bs); ok {
			t.Fatalf("block %d of a stale version still cached", k)
		}
	}
}

// TestFetchStaleNotStored: with range reads, the blocks of a range that
// ends Stale never reach the disk tier and leave no trace in memory; the
// next read fetches again.
func TestFetchStaleNotStored(t *testing.T) {
	const bs, size = 4096, 4 * 4096
	c := newTestCache(t, Options{BlockSize: bs, Dir: t.TempDir()})
	src := newFakeSource(true)
	v := src.add("stale-range", size)
	src.inject(&fault{staleAtEnd: true, n: 1})
	r := c.Open(src, true, "item", v, size)
	defer r.Close()
	_, err := r.ReadAt(context.Background(), make([]byte, size), 0)
	if !remote.IsKind(err, remote.Stale) {
		t.Fatalf("err %v, want Stale", err)
	}
	for k := range int64(size / bs) {
		if _, ok := c.lookup(blockKey{v.ID, k}, bs); ok {
			t.Fatalf("block %d of a stale range still cached", k)
		}
	}
	calls := src.calls.Load()
	p := make([]byte, size)
	if _, err := r.ReadAt(context.Background(), p, 0); err != nil || string(p) != string(src.content(v)) {
		t.Fatalf("read after the stale range: %v", err)
	}
	if src.calls.Load() == calls {
		t.Fatal("the read after a stale range was served from the cache")
	}
	c.Close() // flushes the disk queue
	if st := c.Stats(); st.DiskWrites != int64(size/bs) {
		t.Fatalf("%d disk writes, want only the %d blocks of the good read", st.DiskWrites, size/bs)
	}
}

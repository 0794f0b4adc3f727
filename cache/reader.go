package cache

import (
	"context"
	"io"
	"sync"

	"github.com/bimfs/bimfs/remote"
)

// maxAttempts bounds how often one block lookup starts over after the fetch
// it waited for was a failed prefetch or was cancelled by someone else.
const maxAttempts = 3

// Reader reads one immutable version of one file through the cache. It is
// what a file handle holds; ReadAt may be called concurrently.
type Reader struct {
	c       *Cache
	src     Source
	id      remote.ID
	v       remote.Version
	size    int64
	bs      int64
	nblocks int64
	maxBuf  int           // bound on len(buf)
	sem     chan struct{} // limits this handle's concurrent prefetch requests
	stream  *stream       // set in streaming mode

	// mu protects the following.
	mu     sync.Mutex
	closed bool
	buf    map[int64]*pending // blocks this handle read recently or prefetched
	ra     readahead
	owned  map[*fetch]struct{} // prefetches holding a reference from this handle
}

// Open returns a reader for version v (size bytes) of file id.
//
// With rangeReads the reader fetches blocks on demand and prefetches ahead
// of sequential reads. Without it the source only serves streams from
// offset 0 (BIMcloud): the file is then streamed sequentially from the
// start, once for all readers of the version, its blocks are stored as they
// arrive, and each read is served as soon as its bytes have arrived.
func (c *Cache) Open(src Source, rangeReads bool, id remote.ID, v remote.Version, size int64) *Reader {
	bs := c.opts.BlockSize
	r := &Reader{
		c: c, src: src, id: id, v: v,
		size:    max(size, 0),
		bs:      bs,
		nblocks: numBlocks(max(size, 0), bs),
		maxBuf:  int(c.opts.MaxReadAhead/bs) + 2,
		sem:     make(chan struct{}, max(c.opts.Parallel, 1)),
		buf:     make(map[int64]*pending),
		owned:   make(map[*fetch]struct{}),
	}
	r.ra.reset()
	if !rangeReads {
		r.stream = c.acquireStream(src, id, v, r.size)
	}
	return r
}

// ReadAt reads len(p) bytes at off with io.ReaderAt semantics: fewer bytes
// only at the end of the file (with io.EOF) or with an error. Errors from
// the source are returned as they are (*remote.Error); ctx aborts waiting.
func (r *Reader) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, remote.Errorf(remote.Invalid, "cache.ReadAt", "negative offset %d", off)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if off >= r.size {
		r.mu.Lock()
		closed := r.closed
		r.mu.Unlock()
		if closed {
			return 0, ErrClosed
		}
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), r.size)
	first, last := off/r.bs, (end-1)/r.bs
	if err := r.plan(off, end); err != nil {
		return 0, err
	}
	var started map[int64]*pending
	if r.stream == nil && last > first {
		var fs []*fetch
		fs, started = r.demandRuns(first, last)
		for _, f := range fs {
			defer r.c.release(f)
		}
	}
	n := 0
	for k := first; k <= last; k++ {
		data, err := r.block(ctx, k, started[k])
		if err != nil {
			return n, err
		}
		lo := max(off, k*r.bs) - k*r.bs
		hi := min(end, (k+1)*r.bs) - k*r.bs
		n += copy(p[n:], data[lo:hi])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Close releases the reader's buffers, cancels its prefetches that nobody
// else waits for, and ends its share of a stream.
func (r *Reader) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	owned := r.owned
	r.owned = nil
	r.buf = nil
	r.mu.Unlock()
	for f := range owned {
		r.c.release(f)
	}
	if r.stream != nil {
		r.c.releaseStream(r.stream)
	}
	return nil
}

// block returns the bytes of block k. started, if not nil, is the block's
// pending in a fetch this read started.
func (r *Reader) block(ctx context.Context, k int64, started *pending) ([]byte, error) {
	key := blockKey{r.v.ID, k}
	want := blockLen(r.size, r.bs, k)
	for attempt := 1; ; attempt++ {
		p, err := started, error(nil)
		started = nil
		if p == nil {
			p, err = r.local(key, want)
		}
		if err != nil {
			return nil, err
		}
		if p == nil && r.stream != nil {
			r.c.st.misses.Add(1)
			data, err := r.stream.get(ctx, k)
			if err != nil {
				return nil, err
			}
			r.keep(ready(key, data))
			return data, nil
		}
		joined := false
		if p == nil {
			if p, err = r.demand(key); err != nil {
				return nil, err
			}
			joined = true
		} else {
			joined = r.c.join(p)
		}
		data, err := r.wait(ctx, p, joined)
		if err == nil && int64(len(data)) == want {
			r.keep(p)
			return data, nil
		}
		if err == nil {
			// Cannot happen with a well-behaved fetch; never serve it.
			err = remote.Errorf(remote.KindUnknown, "cache.ReadAt", "block %d of version %s has %d bytes, want %d", k, r.v.ID, len(data), want)
		}
		r.unkeep(p)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// A failed prefetch, or a fetch cancelled because its owner went
		// away, says nothing about this read: fetch again on demand.
		if attempt < maxAttempts && p.f != nil && (p.f.speculative || errIsCancel(err)) {
			continue
		}
		return nil, err
	}
}

// local finds block k in this handle's buffer or in the memory or disk tier.
func (r *Reader) local(key blockKey, want int64) (*pending, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	p := r.buf[key.index]
	r.mu.Unlock()
	if p != nil {
		r.c.st.bufferHits.Add(1)
		return p, nil
	}
	if data, ok := r.c.lookup(key, want); ok {
		p = ready(key, data)
		r.keep(p)
		return p, nil
	}
	return nil, nil
}

// demand joins the fetch of block key already in flight or starts one, and
// returns it with a reference held.
func (r *Reader) demand(key blockKey) (*pending, error) {
	c := r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if p := c.usableLocked(key); p != nil {
		c.st.joins.Add(1)
		p.f.refs++ // harmless if finished: release only cancels unfinished fetches
		return p, nil
	}
	c.st.misses.Add(1)
	f := c.startFetchLocked(c.ctx, r, key.index, 1, false, 1)
	return f.blocks[0], nil
}

// demandRuns starts one demand fetch per run of contiguous blocks in
// [first, last] that are nowhere to be found, so a read spanning several
// missing blocks costs one request. It returns the fetches, which the caller
// releases, and their pendings by block.
func (r *Reader) demandRuns(first, last int64) ([]*fetch, map[int64]*pending) {
	missing := make([]bool, last-first+1)
	any := false
	r.mu.Lock()
	for k := first; k <= last; k++ {
		key := blockKey{r.v.ID, k}
		missing[k-first] = r.buf[k] == nil && !r.c.present(key, blockLen(r.size, r.bs, k))
		any = any || missing[k-first]
	}
	r.mu.Unlock()
	if !any {
		return nil, nil
	}
	c := r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, nil
	}
	var fs []*fetch
	started := make(map[int64]*pending)
	start := int64(-1)
	flush := func(end int64) {
		if start >= 0 && end-start > 1 { // a single block is fetched by block itself
			f := c.startFetchLocked(c.ctx, r, start, end-start, false, 1)
			c.st.misses.Add(end - start)
			fs = append(fs, f)
			for _, p := range f.blocks {
				started[p.key.index] = p
			}
		}
		start = -1
	}
	for k := first; k <= last; k++ {
		if !missing[k-first] || c.usableLocked(blockKey{r.v.ID, k}) != nil {
			flush(k)
			continue
		}
		if start < 0 {
			start = k
		}
	}
	flush(last + 1)
	return fs, started
}

// present reports cheaply whether a tier holds block key (the disk tier
// only by its index).
func (c *Cache) present(key blockKey, want int64) bool {
	if c.mem != nil {
		if _, ok := c.mem.get(key, want); ok {
			return true
		}
	}
	return c.disk != nil && c.disk.has(key, want)
}

// usableLocked returns the in-flight pending of key unless its fetch was
// cancelled (a new fetch must replace it).
func (c *Cache) usableLocked(key blockKey) *pending {
	p := c.inflight[key]
	if p == nil {
		return nil
	}
	if p.isDone() {
		if p.err == nil {
			return p
		}
		return nil
	}
	if p.f.finished || p.f.ctx.Err() != nil {
		return nil
	}
	return p
}

// join takes a reference on p's fetch if it is still running.
func (c *Cache) join(p *pending) bool {
	if p.f == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.f.finished {
		return false
	}
	p.f.refs++
	return true
}

// wait waits for p and then drops the reference taken on its fetch.
func (r *Reader) wait(ctx context.Context, p *pending, joined bool) ([]byte, error) {
	select {
	case <-p.done:
	case <-ctx.Done():
	}
	if joined {
		r.c.release(p.f)
	}
	if !p.isDone() {
		return nil, ctx.Err()
	}
	return p.data, p.err
}

// keep records p in the handle's buffer, so that the next reads of the
// block do not depend on the memory tier having admitted it.
func (r *Reader) keep(p *pending) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	k := p.key.index
	r.buf[k] = p
	for len(r.buf) > r.maxBuf {
		// Drop the block farthest from the one just used.
		far, dist := int64(-1), int64(-1)
		for i := range r.buf {
			d := i - k
			if d < 0 {
				d = -d
			}
			if d > dist {
				far, dist = i, d
			}
		}
		delete(r.buf, far)
	}
}

// unkeep forgets p if the buffer still holds it.
func (r *Reader) unkeep(p *pending) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.buf[p.key.index] == p {
		delete(r.buf, p.key.index)
	}
}

// buffered returns the number of blocks in the handle's buffer.
func (r *Reader) buffered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.buf)
}

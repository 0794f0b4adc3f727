package cache

// readahead classifies a handle's access pattern, in the manner of gcsfuse's
// random reader: reads that continue where the previous one ended grow a
// prefetch window, from one block doubling each time the reader enters a new
// block, up to MaxReadAhead; any other read is a seek, which drops the
// window to nothing.
// A header read followed by scattered tile reads (GDAL on a GeoTIFF)
// therefore fetches only the blocks it touches.
type readahead struct {
	next      int64 // offset where a sequential read would start
	lastBlock int64 // highest block read in the current sequential run
	window    int64 // prefetch window in bytes; 0 means random access
	ahead     int64 // blocks below this index have been prefetched
}

func (ra *readahead) reset() {
	*ra = readahead{}
}

// observe records a read of [off, end) and reports whether it continues the
// sequential run. Reads that start within one block of the expected offset
// still count, because the kernel issues read-ahead requests concurrently
// and they arrive slightly out of order.
func (ra *readahead) observe(off, end, bs, maxWindow int64) bool {
	lastB := (end - 1) / bs
	if off < ra.next-bs || off > ra.next+bs {
		ra.window, ra.ahead = 0, 0
		ra.lastBlock = lastB
		ra.next = end
		return false
	}
	if lastB > ra.lastBlock {
		ra.window = min(max(bs, 2*ra.window), maxWindow)
		ra.lastBlock = lastB
	}
	ra.next = max(ra.next, end)
	return true
}

// span returns the blocks [from, to) to prefetch after a sequential read
// ending in block lastB, or an empty span. Prefetching starts again only
// when less than half the window is left ahead of the reader, so that each
// round asks for at least half a window: fewer, larger requests.
func (ra *readahead) span(lastB, bs, nblocks int64) (from, to int64) {
	wb := ra.window / bs
	if wb == 0 {
		return 0, 0
	}
	from = max(ra.ahead, lastB+1)
	to = min(lastB+1+wb, nblocks)
	if from >= to || (from-lastB-1)*2 >= wb {
		return 0, 0
	}
	ra.ahead = to
	return from, to
}

// plan updates the access pattern with a read of [off, end), trims the
// buffer and starts the prefetches the pattern calls for.
func (r *Reader) plan(off, end int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	firstB, lastB := off/r.bs, (end-1)/r.bs
	var drop []*fetch
	if r.ra.observe(off, end, r.bs, r.c.opts.MaxReadAhead) {
		for k := range r.buf {
			if k < firstB-1 {
				delete(r.buf, k)
			}
		}
	} else {
		// A seek: what was read ahead is not going to be used.
		clear(r.buf)
		for f := range r.owned {
			drop = append(drop, f)
		}
		clear(r.owned)
	}
	if r.stream == nil {
		if from, to := r.ra.span(lastB, r.bs, r.nblocks); from < to {
			r.prefetchLocked(from, to)
		}
	}
	if len(drop) > 0 {
		c := r.c
		c.mu.Lock()
		for _, f := range drop {
			c.releaseLocked(f)
		}
		c.mu.Unlock()
	}
	return nil
}

// prefetchLocked fetches the blocks of [from, to) that are not already
// buffered, in flight or cached, splitting them into up to Parallel
// requests. r.mu is held.
func (r *Reader) prefetchLocked(from, to int64) {
	c := r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	// Forget prefetches that have completed.
	for f := range r.owned {
		if f.finished {
			delete(r.owned, f)
			c.releaseLocked(f)
		}
	}
	chunk := max(1, (to-from+int64(c.opts.Parallel)-1)/int64(max(c.opts.Parallel, 1)))
	start := int64(-1)
	flush := func(end int64) {
		for s := start; start >= 0 && s < end; s += chunk {
			n := min(chunk, end-s)
			f := c.startFetchLocked(c.ctx, r, s, n, true, 1)
			r.owned[f] = struct{}{}
			for _, p := range f.blocks {
				r.buf[p.key.index] = p
			}
		}
		start = -1
	}
	for k := from; k < to; k++ {
		key := blockKey{r.v.ID, k}
		want := blockLen(r.size, r.bs, k)
		switch {
		case r.buf[k] != nil:
		case c.usableLocked(key) != nil:
			r.buf[k] = c.inflight[key]
		case c.mem != nil && c.memHold(r, key, want):
		case c.disk != nil && c.disk.has(key, want):
		default:
			if start < 0 {
				start = k
			}
			continue
		}
		flush(k)
	}
	flush(to)
}

// memHold copies a memory-tier block into r's buffer so that it survives
// until read. It reports whether the block was there.
func (c *Cache) memHold(r *Reader, key blockKey, want int64) bool {
	data, ok := c.mem.get(key, want)
	if ok {
		r.buf[key.index] = ready(key, data)
	}
	return ok
}

// releaseLocked is release with c.mu held.
func (c *Cache) releaseLocked(f *fetch) {
	f.refs--
	if f.refs == 0 && !f.finished {
		f.cancel()
	}
}

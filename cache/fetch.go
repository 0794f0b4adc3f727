package cache

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/bimfs/bimfs/remote"
)

// fetch is one range request for the contiguous blocks of its pendings.
//
// Its context is detached from any single reader: it is cancelled when the
// last reference goes away. A demand fetch is referenced by each reader
// waiting for one of its blocks; a prefetch is also referenced by the handle
// that issued it until that handle closes or seeks elsewhere.
type fetch struct {
	ctx         context.Context
	cancel      context.CancelFunc
	speculative bool
	src         Source
	id          remote.ID
	v           remote.Version
	size        int64
	sem         chan struct{} // the issuing handle's parallelism limit, or nil
	blocks      []*pending

	// Guarded by Cache.mu.
	refs     int
	finished bool
}

// startFetchLocked registers blocks [first, first+n) as in flight and starts
// fetching them. The caller holds c.mu, has checked that none of the blocks
// is in flight, and gets refs references to release.
func (c *Cache) startFetchLocked(parent context.Context, r *Reader, first, n int64, speculative bool, refs int) *fetch {
	ctx, cancel := context.WithCancel(parent)
	f := &fetch{
		ctx: ctx, cancel: cancel, speculative: speculative,
		src: r.src, id: r.id, v: r.v, size: r.size,
		refs: refs,
	}
	if speculative {
		f.sem = r.sem
		c.st.prefetchReqs.Add(1)
	}
	for k := first; k < first+n; k++ {
		p := &pending{key: blockKey{r.v.ID, k}, f: f, done: make(chan struct{})}
		f.blocks = append(f.blocks, p)
		c.inflight[p.key] = p
	}
	if !c.spawn(func() { c.runFetch(f) }) {
		// Only during Close: fail the blocks right away.
		f.finished = true
		for _, p := range f.blocks {
			p.err = ErrClosed
			delete(c.inflight, p.key)
			close(p.done)
		}
	}
	return f
}

// release drops one reference to f, cancelling it if it was the last one and
// the bytes have not arrived yet.
func (c *Cache) release(f *fetch) {
	if f == nil {
		return
	}
	c.mu.Lock()
	f.refs--
	last := f.refs == 0 && !f.finished
	c.mu.Unlock()
	if last {
		f.cancel()
	}
}

func (c *Cache) runFetch(f *fetch) {
	defer f.cancel()
	var err error
	if f.sem != nil {
		select {
		case f.sem <- struct{}{}:
			defer func() { <-f.sem }()
		case <-f.ctx.Done():
			err = f.ctx.Err()
		}
	}
	if err == nil {
		err = f.ctx.Err() // cancelled while queued
	}
	delivered := 0
	if err == nil {
		delivered, err = c.readBlocks(f, func(i int, data []byte) { c.deliver(f.blocks[i], data) })
	}
	if err != nil && f.ctx.Err() == nil && !errIsCancel(err) {
		c.log.Warn("cache: fetch failed", "version", f.v.ID, "offset", f.blocks[0].key.index*c.opts.BlockSize,
			"blocks", len(f.blocks), "delivered", delivered, "prefetch", f.speculative, "err", err)
	}
	stale := remote.IsKind(err, remote.Stale)
	if stale && c.mem != nil {
		// Before anyone learns that the range failed: a reader told so
		// must not find its blocks in the memory tier.
		for _, p := range f.blocks[:delivered] {
			c.mem.del(p.key)
		}
	}
	c.mu.Lock()
	f.finished = true
	for _, p := range f.blocks[delivered:] {
		p.err = err
		if c.inflight[p.key] == p {
			delete(c.inflight, p.key)
		}
		close(p.done)
	}
	if stale {
		for _, p := range f.blocks[:delivered] {
			if c.inflight[p.key] == p {
				delete(c.inflight, p.key)
			}
		}
	}
	c.mu.Unlock()
	// The disk tier gets the blocks only once the range has been read to
	// its end: a source that checks the version after the last byte
	// (remote.Stale) has then proven them. A stale range's blocks were
	// dropped from the memory tier above.
	if stale {
		return
	}
	for _, p := range f.blocks[:delivered] {
		c.storeq <- storeJob{p}
	}
}

// deliver hands one block to its waiters as soon as its bytes are in, so a
// sequential reader need not wait for the rest of a long range request,
// and stores it in the memory tier. runFetch queues it for the disk tier
// once the whole range has arrived.
func (c *Cache) deliver(p *pending, data []byte) {
	c.mu.Lock()
	p.data = data
	close(p.done)
	c.mu.Unlock()
	if c.mem != nil {
		c.mem.set(p.key, data)
	}
}

// readBlocks reads f's blocks with one range request and passes each to
// deliver as soon as all of its bytes have arrived. It returns how many
// blocks were delivered. A response that breaks off is requested again (up to rangeRepeats times)
// from the first block not yet delivered; one that is longer than asked for
// is an error for the blocks after the last one it could still deliver (all
// delivered bytes came from the requested offsets of one immutable version,
// so they are right). Errors from ReadRange itself are returned as they are.
func (c *Cache) readBlocks(f *fetch, deliver func(i int, data []byte)) (int, error) {
	bs := c.opts.BlockSize
	first := f.blocks[0].key.index
	lens := make([]int64, len(f.blocks))
	for i := range lens {
		lens[i] = blockLen(f.size, bs, first+int64(i))
	}
	done := 0
	for attempt := 0; ; attempt++ {
		off := (first + int64(done)) * bs
		var total int64
		for _, n := range lens[done:] {
			total += n
		}
		c.st.remoteRequests.Add(1)
		rc, err := f.src.ReadRange(f.ctx, f.id, f.v, off, total)
		if err != nil {
			return done, err
		}
		n, got, err := readExact(rc, lens[done:], func(i int, b []byte) { deliver(done+i, b) })
		rc.Close()
		c.st.bytesFetched.Add(got)
		done += n
		if err == nil {
			return done, nil
		}
		if f.ctx.Err() != nil {
			return done, f.ctx.Err()
		}
		err = rangeError(f.v, off, total, got, err)
		if attempt >= rangeRepeats || errors.Is(err, errTooLong) || done == len(lens) || remote.IsKind(err, remote.Stale) {
			return done, err
		}
		c.st.retries.Add(1)
		c.log.Info("cache: repeating range request", "version", f.v.ID, "offset", off, "length", total, "err", err)
	}
}

// rangeRepeats is how often a range whose body broke off is requested
// again, each time from the first block not yet delivered. Connections to
// object stores reset now and then on long downloads; one repeat made a
// 24 MiB read fail about once in a few runs at a 10% reset rate, three
// make it negligible while a dead source still fails within seconds.
const rangeRepeats = 3

// errTooLong marks a response with more bytes than requested.
var errTooLong = errors.New("response longer than requested")

// readExact reads one buffer per length from r, passing each to deliver
// as soon as it is complete, and checks that r ends after the last. It
// returns the number of buffers delivered and the bytes read.
func readExact(r io.Reader, lens []int64, deliver func(i int, b []byte)) (int, int64, error) {
	var got int64
	for i, n := range lens {
		b := make([]byte, n)
		m, err := io.ReadFull(r, b)
		got += int64(m)
		if err != nil {
			return i, got, err
		}
		if i == len(lens)-1 {
			// The last block is held back until the response is known to
			// end here: a longer response means the server answered some
			// other range.
			var one [1]byte
			if m, _ := io.ReadFull(r, one[:]); m > 0 {
				return i, got, errTooLong
			}
		}
		deliver(i, b)
	}
	return len(lens), got, nil
}

// rangeError turns a broken response into a *remote.Error. A *remote.Error
// from the body is kept as it is.
func rangeError(v remote.Version, off, want, got int64, err error) error {
	var re *remote.Error
	switch {
	case errors.As(err, &re):
		return err
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return &remote.Error{Kind: remote.Unavailable, Op: "cache.ReadRange",
			Message: fmt.Sprintf("short response for version %s at offset %d: got %d of %d bytes", v.ID, off, got, want)}
	case errors.Is(err, errTooLong):
		return &remote.Error{Kind: remote.KindUnknown, Op: "cache.ReadRange",
			Message: fmt.Sprintf("response for version %s at offset %d is longer than the %d bytes requested", v.ID, off, want)}
	default:
		return &remote.Error{Kind: remote.Unavailable, Op: "cache.ReadRange",
			Message: fmt.Sprintf("reading version %s at offset %d", v.ID, off), Err: err}
	}
}

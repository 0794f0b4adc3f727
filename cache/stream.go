package cache

import (
	"context"
	"io"
	"sync"

	"github.com/bimfs/bimfs/remote"
)

// maxStreamRestarts bounds how often a stream that broke off after making
// progress is restarted without a reader asking again.
const maxStreamRestarts = 3

// stream reads one version sequentially for every reader of it, for sources
// without range reads. It stores each block as it arrives (disk tier, or
// memory tier when there is none) and keeps the most recent blocks itself,
// so waiting readers get their bytes even if the memory tier drops them.
//
// A run is one goroutine making passes over the file. A pass that breaks
// off after progress is restarted; one that makes none ends the run with
// its error, which the readers waiting at that moment receive. The next
// read starts a new run. Since the source cannot start mid-file, a pass
// starts at 0 and skips (downloads but does not store) blocks already on
// disk.
type stream struct {
	c       *Cache
	src     Source
	id      remote.ID
	v       remote.Version
	size    int64
	nblocks int64
	window  int64 // blocks kept in recent; also the run-ahead limit without disk

	ctx    context.Context // ends when the last reader closes
	cancel context.CancelFunc

	// mu protects the following.
	mu         sync.Mutex
	refs       int // open readers
	running    bool
	gen        int // incremented for each run
	pass       int // incremented for each pass
	passCancel context.CancelFunc
	restart    bool  // the current pass is cancelled to start over
	pos        int64 // next block the current pass delivers
	err        error // why the last run ended, if it failed
	recent     map[int64][]byte
	order      []int64       // keys of recent, oldest first
	lastWanted int64         // block of the latest read
	waiting    map[int64]int // blocks readers are waiting for, with counts
	diskOK     bool          // the last block write to disk succeeded
	changed    chan struct{}
}

// acquireStream returns the stream of version v, creating it if needed.
func (c *Cache) acquireStream(src Source, id remote.ID, v remote.Version, size int64) *stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.streams[v.ID]; s != nil {
		s.mu.Lock()
		alive := s.refs > 0 // else its last reader is stopping it
		if alive {
			s.refs++
		}
		s.mu.Unlock()
		if alive {
			return s
		}
	}
	s := &stream{
		c: c, src: src, id: id, v: v, size: size,
		nblocks: numBlocks(size, c.opts.BlockSize),
		window:  max(2, c.opts.MaxReadAhead/c.opts.BlockSize),
		recent:  make(map[int64][]byte),
		waiting: make(map[int64]int),
		diskOK:  c.disk != nil,
		changed: make(chan struct{}),
		refs:    1,
	}
	s.ctx, s.cancel = context.WithCancel(c.ctx)
	c.streams[v.ID] = s
	return s
}

// releaseStream ends a reader's share of s, stopping it after the last one.
func (c *Cache) releaseStream(s *stream) {
	s.mu.Lock()
	s.refs--
	last := s.refs == 0
	s.mu.Unlock()
	if !last {
		return
	}
	s.cancel()
	c.mu.Lock()
	if c.streams[s.v.ID] == s {
		delete(c.streams, s.v.ID)
	}
	c.mu.Unlock()
}

func (s *stream) broadcastLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// get waits until block k has been streamed and returns it.
func (s *stream) get(ctx context.Context, k int64) ([]byte, error) {
	key := blockKey{s.v.ID, k}
	want := blockLen(s.size, s.c.opts.BlockSize, k)
	myGen := -1
	for {
		if data, ok := s.c.lookup(key, want); ok {
			return data, nil
		}
		s.mu.Lock()
		if k != s.lastWanted {
			s.lastWanted = k
			s.broadcastLocked()
		}
		if data, ok := s.recent[k]; ok {
			s.mu.Unlock()
			return data, nil
		}
		switch {
		case s.running && k < s.pos:
			// This pass went past k. Unless k reached a tier since the
			// lookup above, it was evicted before it was read: start over
			// to fetch it again.
			pass := s.pass
			s.mu.Unlock()
			if data, ok := s.c.lookup(key, want); ok {
				return data, nil
			}
			s.mu.Lock()
			if !s.running || s.pass != pass || k >= s.pos {
				s.mu.Unlock()
				continue
			}
			s.restartLocked()
		case !s.running && myGen == s.gen && s.err != nil:
			err := s.err
			s.mu.Unlock()
			return nil, err
		case !s.running:
			if err := s.startLocked(); err != nil {
				s.mu.Unlock()
				return nil, err
			}
		}
		myGen = s.gen
		ch := s.changed
		s.waiting[k]++
		s.mu.Unlock()
		var err error
		select {
		case <-ch:
		case <-ctx.Done():
			err = ctx.Err()
		}
		s.mu.Lock()
		if s.waiting[k]--; s.waiting[k] == 0 {
			delete(s.waiting, k)
			s.broadcastLocked()
		}
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
}

func (s *stream) startLocked() error {
	if s.ctx.Err() != nil {
		return ErrClosed
	}
	s.running = true
	s.err = nil
	s.gen++
	s.newPassLocked()
	if !s.c.spawn(s.run) {
		s.running = false
		return ErrClosed
	}
	return nil
}

// newPassLocked prepares the state for the next pass. Sources that need
// streaming cannot start mid-file, so every pass starts at 0.
func (s *stream) newPassLocked() {
	s.pass++
	s.restart = false
	s.pos = 0
}

func (s *stream) restartLocked() {
	if !s.restart && s.passCancel != nil {
		s.restart = true
		s.passCancel()
	}
}

// stored reports whether block k need not be stored again by this pass.
func (s *stream) stored(k int64) bool {
	if _, ok := s.recent[k]; ok {
		return true
	}
	return s.c.disk != nil && s.c.disk.has(blockKey{s.v.ID, k}, blockLen(s.size, s.c.opts.BlockSize, k))
}

func (s *stream) run() {
	restarts := 0
	for {
		s.mu.Lock()
		ctx, cancel := context.WithCancel(s.ctx)
		s.passCancel = cancel
		start := s.pos
		s.mu.Unlock()

		progressed, err := s.runPass(ctx, start)
		cancel()

		s.mu.Lock()
		s.passCancel = nil
		switch {
		case err == nil:
			s.running = false
		case s.ctx.Err() != nil:
			s.running, s.err = false, ErrClosed
		case remote.IsKind(err, remote.Stale):
			// The version is gone: the blocks this run stored may be
			// another version's bytes. Drop them all; another pass
			// would only fail the same way.
			s.mu.Unlock()
			s.purge()
			s.mu.Lock()
			s.c.log.Warn("cache: version changed while streaming; dropped its blocks", "version", s.v.ID, "err", err)
			s.running, s.err = false, err
		case s.restart:
			s.newPassLocked()
			s.mu.Unlock()
			continue
		case progressed && restarts < maxStreamRestarts:
			restarts++
			s.c.log.Info("cache: restarting stream", "version", s.v.ID, "at_block", s.pos, "err", err)
			s.newPassLocked()
			s.mu.Unlock()
			continue
		default:
			s.c.log.Warn("cache: stream failed", "version", s.v.ID, "at_block", s.pos, "err", err)
			s.running, s.err = false, err
		}
		s.broadcastLocked()
		s.mu.Unlock()
		return
	}
}

// runPass streams the file from block start to the end. progressed reports
// whether it delivered a block that was not stored before.
func (s *stream) runPass(ctx context.Context, start int64) (progressed bool, err error) {
	c := s.c
	bs := c.opts.BlockSize
	off := start * bs
	if start >= s.nblocks {
		return false, nil
	}
	c.st.remoteRequests.Add(1)
	c.st.streamPasses.Add(1)
	rc, err := s.src.ReadRange(ctx, s.id, s.v, off, s.size-off)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	var scratch []byte
	for k := start; k < s.nblocks; k++ {
		if err := s.waitWindow(ctx, k); err != nil {
			return progressed, err
		}
		n := blockLen(s.size, bs, k)
		s.mu.Lock()
		skip := s.stored(k)
		s.mu.Unlock()
		var b []byte
		if skip {
			if int64(cap(scratch)) < n {
				scratch = make([]byte, n)
			}
			b = scratch[:n]
		} else {
			b = make([]byte, n)
		}
		m, err := io.ReadFull(rc, b)
		c.st.bytesFetched.Add(int64(m))
		if err != nil {
			if ctx.Err() != nil {
				return progressed, ctx.Err()
			}
			return progressed, rangeError(s.v, off, s.size-off, k*bs-off+int64(m), err)
		}
		if k == s.nblocks-1 {
			// The stream must end here; check before the last block is
			// served. A longer stream means the listed size is not this
			// content's, and nothing stored from it can be trusted.
			var one [1]byte
			if m, _ := io.ReadFull(rc, one[:]); m > 0 {
				s.purge()
				return progressed, rangeError(s.v, off, s.size-off, s.size-off, errTooLong)
			}
		}
		if skip {
			s.advance(k)
			continue
		}
		progressed = true
		s.deliver(k, b)
	}
	return progressed, nil
}

// waitWindow blocks while block k is too far ahead of the readers to be
// kept. Without a working disk tier, streamed blocks live only in recent
// (and perhaps the memory tier), which holds window blocks. The stream stays
// within reach of the lowest block a reader waits for, so that block is
// still there when the reader wakes, or else of the latest read.
func (s *stream) waitWindow(ctx context.Context, k int64) error {
	for {
		s.mu.Lock()
		limit := s.lastWanted
		if len(s.waiting) > 0 {
			limit = s.nblocks
			for w := range s.waiting {
				limit = min(limit, w)
			}
		}
		if k < limit+s.ahead() {
			s.mu.Unlock()
			return nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ahead is how many blocks the stream may run ahead of its readers. Blocks
// on disk may run far ahead, but not so far that the stream evicts blocks
// its readers have not read yet.
func (s *stream) ahead() int64 {
	if !s.diskOK {
		return s.window
	}
	return max(s.window, s.c.opts.DiskBytes/(2*s.c.opts.BlockSize))
}

// advance records that block k went by and wakes the readers.
func (s *stream) advance(k int64) {
	s.mu.Lock()
	s.pos = k + 1
	s.broadcastLocked()
	s.mu.Unlock()
}

// deliver hands block k to the readers and stores it.
func (s *stream) deliver(k int64, b []byte) {
	c := s.c
	key := blockKey{s.v.ID, k}
	s.mu.Lock()
	if _, ok := s.recent[k]; !ok {
		s.recent[k] = b
		s.order = append(s.order, k)
		for len(s.order) > int(s.window) {
			delete(s.recent, s.order[0])
			s.order = s.order[1:]
		}
	}
	s.pos = k + 1
	s.broadcastLocked()
	s.mu.Unlock()
	if c.mem != nil {
		c.mem.set(key, b)
	}
	if c.disk != nil {
		ok := c.writeDisk(key, b)
		s.mu.Lock()
		s.diskOK = ok
		s.mu.Unlock()
	}
}

// purge forgets every block of the version: a stream longer than the size
// the listing gave means the stored blocks cannot be trusted.
func (s *stream) purge() {
	c := s.c
	s.mu.Lock()
	clear(s.recent)
	s.order = nil
	s.mu.Unlock()
	for k := range s.nblocks {
		key := blockKey{s.v.ID, k}
		if c.mem != nil {
			c.mem.del(key)
		}
		if c.disk != nil {
			c.disk.remove(key)
		}
	}
}

// Package cache holds file bytes fetched from a remote backend.
//
// Bytes are cached in fixed-size blocks keyed by (immutable version ID,
// block index), so a cached block is valid for ever. Reads go through three
// tiers: the handle's own read-ahead buffer, a ristretto memory tier and a
// size-bounded disk tier that survives restarts; only then is the backend
// asked, with one request per block no matter how many readers want it.
//
// Ristretto may drop a Set, so it never holds the only copy of bytes a
// reader is waiting for: fetched blocks are handed to waiters directly and
// prefetched blocks live in per-handle buffers.
//
// Sources with range reads are read block-wise with read-ahead that grows on
// sequential access (readahead.go); sources that only stream from offset 0
// are streamed once per version for all its readers (stream.go). Meta
// caches directory listings.
//
// Lock order: Reader.mu, then Cache.mu, then stream.mu, then the leaf locks
// Cache.goMu and disk.mu. No lock is held while talking to the source or
// reading block files.
package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/bimfs/bimfs/remote"
)

// Defaults for zero Options fields.
const (
	DefaultMemoryBytes  = 256 << 20
	DefaultDiskBytes    = 10 << 30
	DefaultBlockSize    = 1 << 20
	DefaultMaxReadAhead = 64 << 20
	// DefaultParallel is eight range requests per handle: object stores
	// cap each connection's throughput, and on the benchmark (one 1 GiB
	// cold read, 128 MiB/s per connection) eight streams read 1.3× faster
	// than four while sixteen gained nothing more.
	DefaultParallel = 8
)

// storeQueue is how many fetched blocks may wait for the disk writers before
// fetches slow down to the disk's pace.
const (
	storeQueue   = 32
	storeWorkers = 2
	// landedKeep is how many fetched blocks stay findable in the in-flight
	// table after they were stored, covering the moment before the memory
	// tier shows a Set (or a failed disk write).
	landedKeep = 16
)

// Options configures a Cache. Zero values mean the defaults above.
type Options struct {
	// Dir is the disk tier directory; "" disables the disk tier.
	Dir string
	// MemoryBytes is the memory tier budget in bytes of block data; a
	// negative value disables the memory tier.
	MemoryBytes int64
	// DiskBytes bounds the disk tier; least recently used blocks are evicted.
	DiskBytes int64
	// BlockSize is the unit of caching; range requests are multiples of it.
	BlockSize int64
	// MaxReadAhead bounds the per-handle prefetch window (and so the bytes
	// a handle buffers).
	MaxReadAhead int64
	// Parallel is the number of concurrent prefetch requests per handle.
	Parallel int
	// Logger receives warnings about the disk tier and failed fetches.
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if o.MemoryBytes == 0 {
		o.MemoryBytes = DefaultMemoryBytes
	}
	if o.DiskBytes == 0 {
		o.DiskBytes = DefaultDiskBytes
	}
	if o.BlockSize == 0 {
		o.BlockSize = DefaultBlockSize
	}
	if o.MaxReadAhead == 0 {
		o.MaxReadAhead = DefaultMaxReadAhead
	}
	if o.Parallel == 0 {
		o.Parallel = DefaultParallel
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch {
	case o.BlockSize < 4096 || o.BlockSize > 1<<30:
		return o, fmt.Errorf("cache: block size %d out of range [4 KiB, 1 GiB]", o.BlockSize)
	case o.DiskBytes < 0:
		return o, fmt.Errorf("cache: negative disk size %d", o.DiskBytes)
	case o.MaxReadAhead < 0:
		return o, fmt.Errorf("cache: negative read-ahead %d", o.MaxReadAhead)
	case o.Parallel < 0:
		return o, fmt.Errorf("cache: negative parallelism %d", o.Parallel)
	}
	return o, nil
}

// Source is what the cache needs from a backend; remote.Backend satisfies it.
type Source interface {
	ReadRange(ctx context.Context, id remote.ID, v remote.Version, off, length int64) (io.ReadCloser, error)
}

var _ Source = remote.Backend(nil)

// ErrClosed is returned by reads on a closed Reader or Cache.
var ErrClosed = os.ErrClosed

// Cache is a two-tier block cache shared by all open files of a mount.
// Its methods are safe for concurrent use.
type Cache struct {
	opts Options
	log  *slog.Logger
	mem  *memory // nil when disabled
	disk *disk   // nil when Options.Dir is ""
	st   counters

	// ctx is cancelled by Close and is the parent of every fetch and stream.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // fetch and stream goroutines

	// goMu protects goClosed, which keeps wg.Add from racing with Close's
	// wg.Wait. It is a leaf lock: spawn is called with other locks held.
	goMu     sync.Mutex
	goClosed bool

	storeq  chan storeJob
	storeWG sync.WaitGroup

	// mu protects the following.
	mu       sync.Mutex
	closed   bool
	inflight map[blockKey]*pending // blocks being fetched, being stored, or landed
	landed   []*pending            // stored blocks still in inflight, oldest first
	streams  map[string]*stream    // by version ID
}

// New creates a cache. With a Dir it opens (and rebuilds the index of) the
// disk tier found there; the directory may not be shared by two caches.
func New(opts Options) (*Cache, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Cache{
		opts:     opts,
		log:      opts.Logger,
		inflight: make(map[blockKey]*pending),
		streams:  make(map[string]*stream),
		storeq:   make(chan storeJob, storeQueue),
	}
	if opts.MemoryBytes > 0 {
		if c.mem, err = newMemory(opts.MemoryBytes, opts.BlockSize); err != nil {
			return nil, err
		}
	}
	if opts.Dir != "" {
		if c.disk, err = openDisk(opts.Dir, opts.DiskBytes, opts.Logger, &c.st); err != nil {
			if c.mem != nil {
				c.mem.close()
			}
			return nil, err
		}
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	for range storeWorkers {
		c.storeWG.Add(1)
		go c.storeWorker()
	}
	return c, nil
}

// Close cancels all fetches and streams, waits for them and for pending disk
// writes, and releases the disk tier. Open readers fail with ErrClosed.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.goMu.Lock()
	c.goClosed = true
	c.goMu.Unlock()
	c.wg.Wait()
	close(c.storeq)
	c.storeWG.Wait()
	var err error
	if c.disk != nil {
		err = c.disk.close()
	}
	if c.mem != nil {
		c.mem.close()
	}
	return err
}

// spawn runs fn in a goroutine that Close waits for, unless the cache is
// closing.
func (c *Cache) spawn(fn func()) bool {
	c.goMu.Lock()
	defer c.goMu.Unlock()
	if c.goClosed {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
	return true
}

// FreeDisk evicts cached blocks until n bytes of disk are free again and
// returns how many it freed (0 without a disk tier). Staged uploads call
// it when they find the disk full: written data has priority.
func (c *Cache) FreeDisk(n int64) int64 {
	if c.disk == nil {
		return 0
	}
	return c.disk.free(n)
}

// BlockSize returns the block size in use. Put stores whole blocks only, so
// callers seeding the cache should pass block-aligned data.
func (c *Cache) BlockSize() int64 { return c.opts.BlockSize }

// Put seeds the cache with bytes of version v starting at off, for example
// the content just uploaded as a new version. Blocks are written to the disk
// tier first (synchronously), then to the memory tier. Only blocks that data
// covers from their start are stored: every whole block, and a trailing
// partial block, which readers use only if it is the file's last block.
func (c *Cache) Put(v remote.Version, off int64, data []byte) {
	if off < 0 || v.ID == "" {
		return
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return
	}
	bs := c.opts.BlockSize
	end := off + int64(len(data))
	for k := (off + bs - 1) / bs; k*bs < end; k++ {
		lo := k * bs
		hi := min(lo+bs, end)
		b := make([]byte, hi-lo)
		copy(b, data[lo-off:hi-off])
		key := blockKey{v.ID, k}
		if c.disk != nil {
			c.writeDisk(key, b)
		}
		if c.mem != nil {
			c.mem.set(key, b)
		}
	}
}

// writeDisk stores one block in the disk tier. A failure (typically a full
// disk) is logged and otherwise ignored: the disk tier is only a cache.
func (c *Cache) writeDisk(k blockKey, b []byte) bool {
	if err := c.disk.put(k, b); err != nil {
		c.st.diskWriteErrors.Add(1)
		c.disk.logWriteError(err)
		return false
	}
	c.st.diskWrites.Add(1)
	return true
}

type storeJob struct {
	p *pending
}

// storeWorker writes fetched blocks to the disk tier. Until then, and for
// landedKeep blocks more, later readers find the bytes through the in-flight
// table instead of fetching them again.
func (c *Cache) storeWorker() {
	defer c.storeWG.Done()
	for j := range c.storeq {
		if c.disk != nil {
			c.writeDisk(j.p.key, j.p.data)
		}
		c.mu.Lock()
		c.landed = append(c.landed, j.p)
		if len(c.landed) > landedKeep {
			old := c.landed[0]
			c.landed = c.landed[1:]
			if c.inflight[old.key] == old {
				delete(c.inflight, old.key)
			}
		}
		c.mu.Unlock()
	}
}

// lookup returns block k from the memory or disk tier if it is there with
// exactly the expected length.
func (c *Cache) lookup(k blockKey, want int64) ([]byte, bool) {
	if c.mem != nil {
		if b, ok := c.mem.get(k, want); ok {
			c.st.memoryHits.Add(1)
			return b, true
		}
	}
	if c.disk != nil {
		if b, ok := c.disk.get(k, want); ok {
			c.st.diskHits.Add(1)
			if c.mem != nil {
				c.mem.set(k, b)
			}
			return b, true
		}
	}
	return nil, false
}

// errIsCancel reports whether err only says that a context ended.
func errIsCancel(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

package cache

import "sync/atomic"

// Stats are cumulative counters of a Cache since New, plus the current sizes
// of its tiers. Block counts are per block looked up, not per read call.
type Stats struct {
	BufferHits int64 // blocks served from a handle's own read-ahead buffer
	MemoryHits int64 // blocks served from the memory tier
	DiskHits   int64 // blocks served from the disk tier
	Joins      int64 // block lookups that waited for a fetch already in flight (singleflight)
	Misses     int64 // block lookups that had to start a fetch or wait for a stream

	RemoteRequests int64 // ReadRange calls, including retries and streams
	PrefetchReqs   int64 // read-ahead requests issued (some are cancelled before they are sent)
	Retries        int64 // range requests repeated after a short or broken response
	StreamPasses   int64 // sequential streams started (streaming mode)
	BytesFetched   int64 // bytes received from sources

	DiskWrites      int64 // block files written
	DiskWriteErrors int64 // block files that could not be written (e.g. disk full)
	DiskEvictions   int64 // block files removed to respect DiskBytes
	DiskCorrupt     int64 // torn or corrupt block files found and removed

	DiskBytes   int64 // current size of the disk tier
	DiskBlocks  int64 // current number of block files
	MemoryBytes int64 // approximate bytes held by the memory tier
}

type counters struct {
	bufferHits, memoryHits, diskHits, joins, misses         atomic.Int64
	remoteRequests, prefetchReqs, retries, streamPasses     atomic.Int64
	bytesFetched                                            atomic.Int64
	diskWrites, diskWriteErrors, diskEvictions, diskCorrupt atomic.Int64
}

// Stats returns a snapshot of the cache's counters.
func (c *Cache) Stats() Stats {
	s := Stats{
		BufferHits:      c.st.bufferHits.Load(),
		MemoryHits:      c.st.memoryHits.Load(),
		DiskHits:        c.st.diskHits.Load(),
		Joins:           c.st.joins.Load(),
		Misses:          c.st.misses.Load(),
		RemoteRequests:  c.st.remoteRequests.Load(),
		PrefetchReqs:    c.st.prefetchReqs.Load(),
		Retries:         c.st.retries.Load(),
		StreamPasses:    c.st.streamPasses.Load(),
		BytesFetched:    c.st.bytesFetched.Load(),
		DiskWrites:      c.st.diskWrites.Load(),
		DiskWriteErrors: c.st.diskWriteErrors.Load(),
		DiskEvictions:   c.st.diskEvictions.Load(),
		DiskCorrupt:     c.st.diskCorrupt.Load(),
	}
	if c.disk != nil {
		s.DiskBytes, s.DiskBlocks = c.disk.usage()
	}
	if c.mem != nil {
		s.MemoryBytes = c.mem.used()
	}
	return s
}

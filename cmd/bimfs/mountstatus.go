package main

import (
	"os"
	"time"

	"github.com/bimfs/bimfs/cache"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/apistats"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/control"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/tracked"
)

// mountStatus is the control.StatusSource of a running mount, built from
// what the command line can see of the filesystem: its staging journal
// (upload state and progress, written by the filesystem every few
// seconds), the block cache's counters, the API call recorder and the
// folder paths learnt from listings.
type mountStatus struct {
	started    time.Time
	mountpoint string
	cacheDir   string
	tempCache  bool
	stagingDir string
	readOnly   bool
	accounts   []control.Account
	cache      *cache.Cache
	api        *apistats.Recorder
	paths      *tracked.Paths
}

// Status implements control.StatusSource.
func (s *mountStatus) Status() control.Status {
	uploads, _ := control.JournalUploads(s.stagingDir, s.paths.Folder, false)
	st := s.cache.Stats()
	hits := st.BufferHits + st.MemoryHits + st.DiskHits + st.Joins
	ratio := 0.0
	if hits+st.Misses > 0 {
		ratio = float64(hits) / float64(hits+st.Misses)
	}
	return control.Status{
		Version:        versionString(),
		PID:            os.Getpid(),
		Mountpoint:     s.mountpoint,
		CacheDir:       s.cacheDir,
		TemporaryCache: s.tempCache,
		Started:        s.started,
		ReadOnly:       s.readOnly,
		Accounts:       s.accounts,
		Uploads:        uploads,
		Cache: &control.Cache{
			MemoryBytes: st.MemoryBytes, DiskBytes: st.DiskBytes, DiskBlocks: st.DiskBlocks,
			Hits: hits, Misses: st.Misses, HitRatio: ratio, BytesFetched: st.BytesFetched,
		},
		API: s.api.Snapshot(),
	}
}

package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// fakeSource serves in-memory files with counters, optional latency, a gate
// that holds requests, and injected faults.
type fakeSource struct {
	rangeReads bool
	latency    time.Duration

	mu     sync.Mutex
	files  map[string][]byte // by version ID
	reqs   []fakeReq
	gate   chan struct{} // when set, requests wait until it is closed
	faults []*fault

	calls, active, maxActive, canceled atomic.Int64
}

type fakeReq struct{ off, length int64 }

// fault changes the answer to the next n requests that match.
type fault struct {
	when  func(off, length int64) bool // nil matches every request
	err   error                        // returned by ReadRange
	short int64                        // > 0: the body ends cleanly after short bytes
	fail  int64                        // > 0: the body breaks after fail bytes
	long  bool                         // the body has one byte too many
	// staleAtEnd: the body fails with remote.Stale instead of its last
	// byte, as a source whose check after the last byte failed.
	staleAtEnd bool
	// stall > 0: the body pauses after stall bytes until resume is closed.
	stall  int64
	resume chan struct{}
	n      int
}

func newFakeSource(rangeReads bool) *fakeSource {
	return &fakeSource{rangeReads: rangeReads, files: make(map[string][]byte)}
}

// add creates a file of size pseudo-random bytes and returns its version.
func (f *fakeSource) add(id string, size int) remote.Version {
	b := make([]byte, size)
	rng := rand.New(rand.NewPCG(uint64(size), uint64(len(id))))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	v := remote.Version{ID: "urn:adsk.wipprod:fs.file:vf." + id + "?version=1", Number: 1}
	f.mu.Lock()
	f.files[v.ID] = b
	f.mu.Unlock()
	return v
}

func (f *fakeSource) content(v remote.Version) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.files[v.ID]
}

func (f *fakeSource) inject(ft *fault) {
	f.mu.Lock()
	f.faults = append(f.faults, ft)
	f.mu.Unlock()
}

func (f *fakeSource) hold() {
	f.mu.Lock()
	f.gate = make(chan struct{})
	f.mu.Unlock()
}

func (f *fakeSource) release() {
	f.mu.Lock()
	if f.gate != nil {
		close(f.gate)
		f.gate = nil
	}
	f.mu.Unlock()
}

func (f *fakeSource) requests() []fakeReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeReq(nil), f.reqs...)
}

func (f *fakeSource) ReadRange(ctx context.Context, id remote.ID, v remote.Version, off, length int64) (io.ReadCloser, error) {
	f.calls.Add(1)
	n := f.active.Add(1)
	for {
		m := f.maxActive.Load()
		if n <= m || f.maxActive.CompareAndSwap(m, n) {
			break
		}
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, fakeReq{off, length})
	gate := f.gate
	data, ok := f.files[v.ID]
	var ft *fault
	for i, x := range f.faults {
		if x.when == nil || x.when(off, length) {
			ft = x
			if x.n--; x.n <= 0 {
				f.faults = append(f.faults[:i:i], f.faults[i+1:]...)
			}
			break
		}
	}
	f.mu.Unlock()

	fail := func(err error) (io.ReadCloser, error) {
		f.active.Add(-1)
		return nil, err
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			f.canceled.Add(1)
			return fail(ctx.Err())
		}
	}
	if f.latency > 0 {
		t := time.NewTimer(f.latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			f.canceled.Add(1)
			return fail(ctx.Err())
		}
	}
	switch {
	case !ok:
		return fail(remote.Errorf(remote.NotFound, "fake.ReadRange", "no version %s", v.ID))
	case !f.rangeReads && off != 0:
		return fail(remote.Errorf(remote.Invalid, "fake.ReadRange", "offset %d not supported", off))
	case off < 0 || off > int64(len(data)) || length < 0:
		return fail(remote.Errorf(remote.Invalid, "fake.ReadRange", "bad range %d+%d", off, length))
	case ft != nil && ft.err != nil:
		return fail(ft.err)
	}
	body := data[off:min(off+length, int64(len(data)))]
	var r io.Reader = bytes.NewReader(body)
	if ft != nil {
		switch {
		case ft.short > 0:
			r = bytes.NewReader(body[:min(ft.short, int64(len(body)))])
		case ft.fail > 0:
			r = io.MultiReader(bytes.NewReader(body[:min(ft.fail, int64(len(body)))]), errReader{errors.New("connection reset by peer")})
		case ft.long:
			r = io.MultiReader(bytes.NewReader(body), bytes.NewReader([]byte{0xAA}))
		case ft.staleAtEnd:
			r = io.MultiReader(bytes.NewReader(body[:max(len(body)-1, 0)]),
				errReader{remote.Errorf(remote.Stale, "fake.ReadRange", "version %s is gone", v.ID)})
		case ft.stall > 0:
			cut := min(ft.stall, int64(len(body)))
			r = io.MultiReader(bytes.NewReader(body[:cut]), &stallReader{ctx: ctx, resume: ft.resume, f: f}, bytes.NewReader(body[cut:]))
		}
	}
	return &fakeBody{r: r, f: f}, nil
}

// stallReader blocks until resume is closed or ctx ends, then reads EOF.
type stallReader struct {
	ctx    context.Context
	resume chan struct{}
	f      *fakeSource
}

func (s *stallReader) Read([]byte) (int, error) {
	select {
	case <-s.resume:
		return 0, io.EOF
	case <-s.ctx.Done():
		s.f.canceled.Add(1)
		return 0, s.ctx.Err()
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

type fakeBody struct {
	r      io.Reader
	f      *fakeSource
	closed bool
}

func (b *fakeBody) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *fakeBody) Close() error {
	if !b.closed {
		b.closed = true
		b.f.active.Add(-1)
	}
	return nil
}

// newTestCache returns a cache with small blocks, closed at the end of the
// test.
func newTestCache(t testing.TB, opts Options) *Cache {
	t.Helper()
	if opts.BlockSize == 0 {
		opts.BlockSize = 4096
	}
	if opts.MaxReadAhead == 0 {
		opts.MaxReadAhead = 64 * opts.BlockSize
	}
	if opts.Logger == nil && !testing.Verbose() {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readAll reads r from start to end in chunks of n bytes.
func readAll(t testing.TB, r *Reader, size, n int) []byte {
	t.Helper()
	out := make([]byte, 0, size)
	buf := make([]byte, n)
	for off := 0; ; off += n {
		m, err := r.ReadAt(context.Background(), buf, int64(off))
		out = append(out, buf[:m]...)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("ReadAt(%d): %v", off, err)
		}
	}
}

// eventually polls cond; the bound only keeps a broken test from hanging.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for range 5000 {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}

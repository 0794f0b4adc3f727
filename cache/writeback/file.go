package writeback

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// File is one staged file, shared by every handle that has it open: all
// handles see each other's bytes, as with a local file.
//
// Content generations. Every change bumps gen. A close or fsync freezes
// the current generation into an immutable snapshot (Commit), and only
// snapshots are uploaded, so an upload never holds a lock that a read or
// write needs and never sends a half-written state. A write while a
// snapshot is uploading goes to the live copy, which is recreated from the
// snapshot first if the snapshot took its place (copy on write).
type File struct {
	m *Manager

	// ioMu is held for reading by reads and for writing by writes,
	// truncates, fills and the taking of a snapshot (all local disk).
	ioMu sync.RWMutex

	// jmu serializes writing this file's journal record, which is always
	// written from the file's current state (see syncRecord). Taken
	// before mu, never across the network.
	jmu sync.Mutex

	mu  sync.Mutex // protects the fields below
	rec Record
	// live is the open live copy; nil when the latest content is only in
	// the snapshot (after a final commit) or not opened yet (recovered).
	live *os.File
	refs int
	// gen counts changes; snapGen is the generation of the newest
	// snapshot and doneGen the newest generation the service has.
	gen, snapGen, doneGen uint64
	// up is the upload in flight, if any.
	up *upload
	// paused counts callers that hold uploads back (Pause); unpaused is
	// closed when the count drops back to zero.
	paused    int
	unpaused  chan struct{}
	discarded bool
	// retired: committed or discarded with no handle left; the File is
	// out of the manager and can no longer be acquired.
	retired  bool
	lastKind remote.Kind
	entry    remote.Entry
}

// upload is one upload attempt in flight.
type upload struct {
	gen uint64
	ctx context.Context
	// cancel stops the upload for a Pause; release frees its context.
	cancel, release func()
	// done is closed once err is set and the outcome recorded.
	done chan struct{}
	err  error
}

// Acquire registers one more handle on a file the caller already holds.
func (f *File) Acquire() {
	f.mu.Lock()
	f.refs++
	f.mu.Unlock()
}

// TryAcquire registers one more handle on a file found through the
// manager. It fails when the file was discarded or retired meanwhile; the
// caller then stages the file anew.
func (f *File) TryAcquire() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.retired || f.discarded {
		return false
	}
	f.refs++
	return true
}

// Record returns a snapshot of the file's journal record.
func (f *File) Record() Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rec
}

// Key is the file's staging key.
func (f *File) Key() string { return f.rec.Key }

// Size is the staged content's length.
func (f *File) Size() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rec.Size
}

// Changed reports whether the content differs from what the service has
// (changes not yet uploaded, or never uploaded at all).
func (f *File) Changed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gen > f.doneGen || f.rec.Item == ""
}

// Busy reports whether the file has open handles.
func (f *File) Busy() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refs > 0
}

// Fill copies the current remote content into the live copy without
// counting as a change, so opening a file read-write and closing it
// without a write creates no version.
func (f *File) Fill(ctx context.Context, src io.ReaderAt, size int64) error {
	f.ioMu.Lock()
	defer f.ioMu.Unlock()
	data, err := f.liveLocked()
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(int64(len(buf)), size-off)
		got, err := src.ReadAt(buf[:n], off)
		if int64(got) < n {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if err := f.m.writeRoom(func() error { _, err := data.WriteAt(buf[:n], off); return err }); err != nil {
			return err
		}
		off += n
	}
	f.mu.Lock()
	f.rec.Size = size
	f.mu.Unlock()
	return nil
}

// ReadAt reads staged bytes.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	f.ioMu.RLock()
	defer f.ioMu.RUnlock()
	src, closeSrc, err := f.readSource()
	if err != nil {
		return 0, err
	}
	defer closeSrc()
	size := f.Size()
	if off >= size {
		return 0, io.EOF
	}
	if int64(len(p)) > size-off {
		p = p[:size-off]
	}
	n, err := src.ReadAt(p, off)
	if errors.Is(err, io.EOF) {
		// A sparse tail past the written data reads as zeros.
		clear(p[n:])
		n, err = len(p), nil
	}
	return n, err
}

// readSource returns the file holding the latest content: the live copy,
// or the newest snapshot. Called with ioMu held.
func (f *File) readSource() (*os.File, func(), error) {
	f.mu.Lock()
	live, key, gen := f.live, f.rec.Key, f.snapGen
	f.mu.Unlock()
	if live != nil {
		return live, func() {}, nil
	}
	if fileSize(f.m.dataPath(key)) >= 0 || gen == 0 {
		l, err := f.liveLocked()
		return l, func() {}, err
	}
	s, err := os.Open(f.m.snapPath(key, gen))
	if err != nil {
		return nil, nil, localErr("writeback.read", err)
	}
	return s, func() { s.Close() }, nil
}

// WriteAt writes into the live copy. A full disk first asks the block
// cache for room; if there is still none, a NoSpace error returns and the
// bytes written before stay intact.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	f.ioMu.Lock()
	defer f.ioMu.Unlock()
	data, err := f.liveLocked()
	if err != nil {
		return 0, err
	}
	var n int
	err = f.m.writeRoom(func() error {
		var werr error
		n, werr = data.WriteAt(p, off)
		return werr
	})
	end := max(off+int64(n), f.Size())
	if cerr := f.changed(end); err == nil {
		err = cerr
	}
	return n, err
}

// Truncate sets the staged size.
func (f *File) Truncate(size int64) error {
	f.ioMu.Lock()
	defer f.ioMu.Unlock()
	data, err := f.liveLocked()
	if err != nil {
		return err
	}
	if err := f.m.writeRoom(func() error { return data.Truncate(size) }); err != nil {
		return err
	}
	return f.changed(size)
}

// MarkChanged counts the current content as a change that must reach the
// service even if no byte was written (a created or truncated file).
func (f *File) MarkChanged() error {
	f.ioMu.Lock()
	defer f.ioMu.Unlock()
	return f.changed(f.Size())
}

// changed records a modification. The journal is written when the file
// goes from clean to dirty, not on every write. Called with ioMu held.
func (f *File) changed(size int64) error {
	f.mu.Lock()
	f.rec.Size = size
	f.gen++
	f.rec.Modified = time.Now().UTC()
	f.rec.MTime = time.Time{}
	if f.discarded {
		// Deleted while open: handles keep their bytes, nothing is
		// journaled or uploaded.
		f.mu.Unlock()
		return nil
	}
	wasClean := !f.rec.Dirty
	f.rec.Dirty = true
	f.mu.Unlock()
	if wasClean {
		return f.syncRecord()
	}
	return nil
}

// liveLocked returns the live copy, creating it if needed: from the
// newest snapshot when one holds the latest content (copy on write), else
// empty (a file being created or filled). Called with ioMu held for
// writing, or for reading when no snapshot exists.
func (f *File) liveLocked() (*os.File, error) {
	f.mu.Lock()
	live, key, gen := f.live, f.rec.Key, f.snapGen
	f.mu.Unlock()
	if live != nil {
		return live, nil
	}
	path := f.m.dataPath(key)
	if fileSize(path) < 0 && gen != 0 {
		if err := f.m.copyFile(f.m.snapPath(key, gen), path); err != nil {
			return nil, err
		}
	}
	d, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, localErr("writeback.stage", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.live != nil { // lost a race with another opener
		d.Close()
		return f.live, nil
	}
	f.live = d
	return d, nil
}

// Entry is the remote entry of the last successful upload.
func (f *File) Entry() (remote.Entry, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.entry, f.entry.ID != ""
}

// SetMTime records a modification time the user set on the content as it
// is now; it is journaled with the next record save and handed to the
// commit callback with the record.
func (f *File) SetMTime(t time.Time) error {
	f.mu.Lock()
	f.rec.MTime = t
	f.mu.Unlock()
	return f.syncRecord()
}

// MTime is the modification time the user set on the content, if any.
func (f *File) MTime() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rec.MTime
}

// Modified is when the content was last changed here (zero if never).
func (f *File) Modified() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rec.Modified
}

func (f *File) closeLive() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.live != nil {
		f.live.Close()
		f.live = nil
	}
}

// localErr classifies a failure of the local staging disk: a full disk is
// NoSpace (ENOSPC), a size the filesystem cannot hold TooLarge (EFBIG).
func localErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT):
		return &remote.Error{Kind: remote.NoSpace, Op: op, Message: "staging disk is full", Err: err}
	case errors.Is(err, syscall.EFBIG):
		return &remote.Error{Kind: remote.TooLarge, Op: op, Message: "size exceeds what the staging filesystem can hold", Err: err}
	}
	var re *remote.Error
	if errors.As(err, &re) {
		return err
	}
	return &remote.Error{Kind: remote.KindUnknown, Op: op, Message: "staging disk", Err: err}
}

// syncRecord brings the journal record in line with the file's current
// state: written while the file holds anything the service lacks (changes,
// a snapshot, an upload state, recovered content), removed otherwise.
// Deciding from the current state under jmu, rather than from a copy taken
// earlier, keeps a late write from removing the record of a change made
// meanwhile (or reviving the record of a finished upload).
func (f *File) syncRecord() error {
	f.jmu.Lock()
	defer f.jmu.Unlock()
	f.mu.Lock()
	rec := f.rec
	keep := !f.discarded && !f.retired && (rec.Dirty || rec.Snapshot != 0 || rec.State != "")
	f.mu.Unlock()
	if !keep {
		if err := os.Remove(f.m.recordPath(rec.Key)); err != nil && !os.IsNotExist(err) {
			return localErr("writeback.journal", err)
		}
		return nil
	}
	return f.m.saveRecord(rec)
}

package writeback

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// File is one staged file, shared by every handle that has it open for
// writing: all writers see each other's bytes, as with a local file, and
// each close uploads the content as it is at that moment.
type File struct {
	m *Manager

	// upMu serialises uploads of this file.
	upMu sync.Mutex
	// ioMu is held for reading by reads and uploads and for writing by
	// writes and truncates, so an upload never sends a half-written state.
	ioMu sync.RWMutex

	mu        sync.Mutex // protects the fields below
	rec       Record
	data      *os.File
	refs      int
	dirty     bool
	discarded bool
	// retired is set, together with refs reaching zero, when the file's
	// staged data is about to be removed: it can no longer be acquired.
	retired  bool
	lastKind remote.Kind
	entry    remote.Entry
}

// Acquire registers one more handle on a file the caller already holds.
func (f *File) Acquire() {
	f.mu.Lock()
	f.refs++
	f.mu.Unlock()
}

// TryAcquire registers one more handle on a file found with Find or
// Staged. It fails when the file was discarded or has been committed and
// released meanwhile; the caller then stages the file anew.
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

// Size is the staged content's length.
func (f *File) Size() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rec.Size
}

// Dirty reports whether the staged bytes differ from the last upload.
func (f *File) Dirty() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dirty
}

// MarkDirty forces the next Flush to upload even if nothing was written
// (a newly created or truncated file must reach the service).
func (f *File) MarkDirty() error {
	f.ioMu.Lock()
	defer f.ioMu.Unlock()
	return f.changed(f.Size())
}

// Fill copies the current remote content into the staged copy without
// marking it dirty, so opening a file read-write and closing it without a
// write creates no new version.
func (f *File) Fill(ctx context.Context, src io.ReaderAt, size int64) error {
	f.ioMu.Lock()
	defer f.ioMu.Unlock()
	data, err := f.file()
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := int64(len(buf))
		if size-off < n {
			n = size - off
		}
		got, err := src.ReadAt(buf[:n], off)
		if int64(got) < n {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if _, err := data.WriteAt(buf[:n], off); err != nil {
			return noSpace(err)
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
	data, err := f.file()
	if err != nil {
		return 0, err
	}
	size := f.Size()
	if off >= size {
		return 0, io.EOF
	}
	if int64(len(p)) > size-off {
		p = p[:size-off]
	}
	n, err := data.ReadAt(p, off)
	if err == io.EOF && n == len(p) {
		// A sparse tail past the written data reads as zeros.
		err = nil
	}
	if err == io.EOF {
		clear(p[n:])
		n, err = len(p), nil
	}
	return n, err
}

// WriteAt writes into the staged copy. A full disk returns a NoSpace
// error and leaves the bytes written before intact.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	f.ioMu.Lock()
	defer f.ioMu.Unlock()
	data, err := f.file()
	if err != nil {
		return 0, err
	}
	n, err := data.WriteAt(p, off)
	end := off + int64(n)
	if end < f.Size() {
		end = f.Size()
	}
	if cerr := f.changed(end); err == nil {
		err = cerr
	}
	return n, noSpace(err)
}

// Truncate sets the staged size.
func (f *File) Truncate(size int64) error {
	f.ioMu.Lock()
	defer f.ioMu.Unlock()
	data, err := f.file()
	if err != nil {
		return err
	}
	if err := data.Truncate(size); err != nil {
		return noSpace(err)
	}
	return f.changed(size)
}

// changed records a modification; the journal is written only when the
// file goes from clean to dirty, not on every write. Callers hold ioMu.
func (f *File) changed(size int64) error {
	f.mu.Lock()
	f.rec.Size = size
	if f.discarded {
		// Deleted while open: the bytes stay readable for the handles
		// that have it, but nothing is journaled or uploaded.
		f.mu.Unlock()
		return nil
	}
	wasClean := !f.dirty || f.rec.State != Open
	f.dirty = true
	f.rec.State = Open
	rec := f.rec
	f.mu.Unlock()
	if wasClean {
		return f.m.saveRecord(rec)
	}
	return nil
}

// Flush makes the content durable. In the default synchronous mode it
// returns only after the service committed it (or with the error that
// prevented it); with Options.Async it returns once the data and the
// journal are on local disk and the upload is queued.
func (f *File) Flush(ctx context.Context) error {
	f.mu.Lock()
	needed := !f.discarded && (f.dirty || f.rec.State == Failed || f.rec.State == Pending)
	f.mu.Unlock()
	if !needed {
		return nil
	}
	if f.m.opts.Async {
		if err := f.persist(Pending); err != nil {
			return err
		}
		f.m.kick()
		return nil
	}
	_, err := f.upload(ctx)
	return err
}

// persist fsyncs the data and saves the record in state s.
func (f *File) persist(s State) error {
	f.ioMu.RLock()
	defer f.ioMu.RUnlock()
	data, err := f.file()
	if err != nil {
		return err
	}
	if err := data.Sync(); err != nil {
		return noSpace(err)
	}
	f.mu.Lock()
	f.rec.State = s
	rec := f.rec
	f.mu.Unlock()
	return f.m.saveRecord(rec)
}

// Release drops one handle. The last release of a committed file removes
// its staged data; an uncommitted file stays staged for the uploader.
func (f *File) Release() {
	f.mu.Lock()
	f.refs--
	last := f.refs == 0
	committed := !f.dirty && f.rec.State != Failed && f.rec.State != Pending
	discarded := f.discarded
	if last && (discarded || committed) {
		f.retired = true
	}
	f.mu.Unlock()
	if !last {
		return
	}
	switch {
	case discarded || committed:
		f.closeData()
		os.Remove(f.m.dataPath(f.rec.Key))
		if discarded {
			f.m.removeRecord(f.rec.Key)
		}
		f.m.forget(f)
	default:
		// With refs at zero the uploader may already have picked the
		// file up: wait for that upload rather than overwrite its state.
		f.upMu.Lock()
		f.mu.Lock()
		state, retired := f.rec.State, f.retired
		f.mu.Unlock()
		var err error
		switch {
		case retired || state == "":
			// Committed (and cleaned up) by that upload.
		case state == Open:
			err = f.persist(Pending)
		default:
			err = f.persist(state)
		}
		f.upMu.Unlock()
		if err != nil {
			f.m.log.Error("cannot queue staged file for upload; it stays in the staging directory", "name", f.Record().Name, "err", err)
		}
		f.m.kick()
	}
}

// Rename records a new remote name, parent and target for the staged
// content. It waits for an upload in progress, so the change applies to
// the next upload as a whole; a file that failed for a reason a rename
// may cure (an invalid name, say) becomes due for upload again.
func (f *File) Rename(parent remote.ID, name string, existing remote.ID) error {
	_, err := f.rename(parent, name, existing, false)
	return err
}

// RenameIfNew is Rename for content that has never been uploaded: it
// changes nothing and returns false if the file has been committed (its
// record names an existing remote file), which the caller must then
// rename remotely.
func (f *File) RenameIfNew(parent remote.ID, name string, existing remote.ID) (bool, error) {
	return f.rename(parent, name, existing, true)
}

func (f *File) rename(parent remote.ID, name string, existing remote.ID, onlyNew bool) (bool, error) {
	f.upMu.Lock()
	defer f.upMu.Unlock()
	f.m.mu.Lock()
	f.mu.Lock()
	if onlyNew && f.rec.Existing != "" {
		f.mu.Unlock()
		f.m.mu.Unlock()
		return false, nil
	}
	f.m.unindexLocked(f, f.rec)
	f.rec.Parent, f.rec.Name, f.rec.Existing = parent, name, existing
	f.lastKind = remote.KindUnknown
	if !f.discarded && !f.retired {
		f.m.indexLocked(f, f.rec)
	}
	rec := f.rec
	staged := !f.discarded && (f.dirty || f.rec.State == Pending || f.rec.State == Failed)
	f.mu.Unlock()
	delete(f.m.next, rec.Key)
	f.m.mu.Unlock()
	if !staged {
		return true, nil
	}
	err := f.m.saveRecord(rec)
	f.m.kick()
	return true, err
}

// Discard drops the staged content (the file was deleted). It waits for an
// upload in progress; the caller then checks Record().Existing to learn
// whether a remote file must be removed as well. Handles that still have
// the file open keep reading and writing their bytes, which go nowhere.
func (f *File) Discard() {
	f.upMu.Lock()
	defer f.upMu.Unlock()
	f.mu.Lock()
	f.discarded = true
	f.dirty = false
	refs := f.refs
	if refs == 0 {
		f.retired = true
	}
	rec := f.rec
	f.mu.Unlock()
	f.m.mu.Lock()
	f.m.unindexLocked(f, rec)
	f.m.mu.Unlock()
	f.m.removeRecord(rec.Key)
	if refs == 0 {
		f.closeData()
		f.m.forget(f)
	}
}

// Entry is the remote entry of the last successful upload.
func (f *File) Entry() (remote.Entry, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.entry, f.entry.ID != ""
}

// progressSaveInterval is how often upload progress is written to the
// journal during an upload.
const progressSaveInterval = 2 * time.Second

// upload sends the staged content once.
func (f *File) upload(ctx context.Context) (remote.Entry, error) {
	f.upMu.Lock()
	defer f.upMu.Unlock()
	if err := f.persist(Uploading); err != nil {
		return remote.Entry{}, err
	}
	f.ioMu.RLock()
	data, err := f.file()
	if err != nil {
		f.ioMu.RUnlock()
		return remote.Entry{}, err
	}
	f.mu.Lock()
	rec := f.rec
	f.mu.Unlock()
	// Progress reaches the journal (for `bimfs status`, which runs in
	// another process) a few times a minute. progressMu orders those saves
	// before the final state change so a late one cannot bring back the
	// record of a finished upload.
	var progressMu sync.Mutex
	lastSaved, inFlight := time.Now(), true
	e, err := f.m.opts.Upload(ctx, rec.Account, remote.UploadRequest{
		Parent: rec.Parent, Name: rec.Name, Existing: rec.Existing, Size: rec.Size, Content: data,
		Progress: func(done int64) {
			f.mu.Lock()
			f.rec.Uploaded = done
			snap := f.rec
			f.mu.Unlock()
			progressMu.Lock()
			defer progressMu.Unlock()
			if inFlight && time.Since(lastSaved) >= progressSaveInterval {
				lastSaved = time.Now()
				f.m.saveRecord(snap)
			}
		},
	})
	progressMu.Lock()
	inFlight = false
	progressMu.Unlock()
	if err == nil && f.m.opts.OnCommit != nil {
		f.m.opts.OnCommit(rec, e, data)
	}
	// State changes happen before ioMu is released: a write waiting for it
	// must find the file clean and mark it dirty again, not be forgotten.
	f.mu.Lock()
	if err != nil {
		f.rec.State = Failed
		f.rec.Attempts++
		f.rec.LastError = err.Error()
		f.lastKind = remote.KindOf(err)
		kind, rec := f.lastKind, f.rec
		f.mu.Unlock()
		f.ioMu.RUnlock()
		next := "it will be retried"
		if !retriable(kind) {
			next = "rename, move or delete it to resolve"
		}
		f.m.log.Error("upload failed; the file stays staged in "+f.m.dir+": "+next, "account", rec.Account, "name", rec.Name,
			"attempt", rec.Attempts, "err", err)
		if serr := f.m.saveRecord(rec); serr != nil {
			f.m.log.Error("cannot update staging record", "name", rec.Name, "err", serr)
		}
		f.m.retryLater(rec.Key, rec.Attempts)
		return remote.Entry{}, err
	}
	f.dirty = false
	f.entry = e
	f.rec.State = ""
	f.rec.Existing = e.ID
	f.rec.BaseVersion = e.Version.ID
	f.rec.LastError = ""
	f.rec.Attempts = 0
	f.rec.Uploaded = rec.Size
	refs := f.refs
	if refs == 0 {
		f.retired = true
	}
	f.mu.Unlock()
	f.ioMu.RUnlock()
	// The record goes; the data stays while handles are open because a
	// later write must be able to re-journal it.
	os.Remove(f.m.recordPath(rec.Key))
	if refs == 0 {
		f.closeData()
		os.Remove(f.m.dataPath(rec.Key))
		f.m.forget(f)
	}
	f.m.retryNow(rec.Key)
	syncDir(f.m.dir)
	f.m.log.Info("uploaded", "account", rec.Account, "name", rec.Name, "size", rec.Size, "version", e.Version.Number)
	return e, nil
}

// file returns the open data file, opening it for recovered records.
func (f *File) file() (*os.File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.data != nil {
		return f.data, nil
	}
	d, err := os.OpenFile(f.m.dataPath(f.rec.Key), os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	f.data = d
	return d, nil
}

func (f *File) closeData() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.data != nil {
		f.data.Close()
		f.data = nil
	}
}

package writeback

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// CommitOptions says what a Commit promises.
type CommitOptions struct {
	// Exclusive: no other handle will write, so the live copy itself may
	// become the snapshot (a rename instead of a copy).
	Exclusive bool
	// Confirmed: the caller reports success to the user once Commit
	// returns, so after a crash the snapshot is uploaded under the file's
	// name; otherwise it comes back as a recovered file.
	Confirmed bool
	// Wait: return only once the service has the content (or with the
	// error that prevented it); otherwise return once the snapshot is
	// durable and queue the upload.
	Wait bool
}

// Commit freezes the current content into a snapshot and uploads it. A
// commit of content that the service already has, or that is being
// uploaded right now, uploads nothing more: it waits for that upload.
func (f *File) Commit(ctx context.Context, o CommitOptions) error {
	f.mu.Lock()
	if f.discarded || f.rec.State == Recovered {
		f.mu.Unlock()
		return nil
	}
	gen := f.gen
	if gen <= f.doneGen {
		f.mu.Unlock()
		return nil
	}
	needSnap := gen > f.snapGen
	f.mu.Unlock()
	// An existing snapshot keeps the confirmation it was taken with: a
	// later commit of the same content (the last release after a close
	// whose upload failed) must not confirm what that close did not.
	if needSnap {
		if err := f.snapshot(o); err != nil {
			return err
		}
	}
	if !o.Wait {
		f.m.kick()
		return nil
	}
	return f.uploadWait(ctx, gen)
}

// snapshot freezes the live copy as snapshot generation gen.
func (f *File) snapshot(o CommitOptions) error {
	f.ioMu.Lock()
	defer f.ioMu.Unlock()
	f.mu.Lock()
	gen, key, live, old := f.gen, f.rec.Key, f.live, f.snapGen
	f.mu.Unlock()
	if gen <= old {
		return nil // taken by a concurrent commit
	}
	snap := f.m.snapPath(key, gen)
	data := f.m.dataPath(key)
	var err error
	switch {
	case fileSize(data) < 0:
		// Never written (a created, untouched file): an empty snapshot.
		err = os.WriteFile(snap, nil, 0o600)
	case o.Exclusive:
		f.closeLive()
		err = os.Rename(data, snap)
	default:
		if live != nil {
			live.Sync()
		}
		err = f.m.copyFile(data, snap)
	}
	if err == nil {
		err = syncFile(snap)
	}
	if err != nil {
		os.Remove(snap)
		return localErr("writeback.snapshot", err)
	}
	f.mu.Lock()
	f.snapGen = gen
	f.rec.Snapshot = gen
	f.rec.Confirmed = o.Confirmed
	f.rec.Dirty = f.gen > gen
	if f.rec.State != Uploading {
		f.rec.State = Pending
	}
	uploadingOld := f.up != nil && f.up.gen == old
	f.mu.Unlock()
	if err := f.syncRecord(); err != nil {
		return err
	}
	if old != 0 && !uploadingOld {
		os.Remove(f.m.snapPath(key, old))
	}
	f.m.retryNow(key)
	return nil
}

func syncFile(path string) error {
	s, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Sync()
}

// uploadWait returns once generation gen (or a newer one) is at the
// service, uploading it itself unless an upload of it is in flight.
func (f *File) uploadWait(ctx context.Context, gen uint64) error {
	for {
		f.mu.Lock()
		switch {
		case f.discarded || f.doneGen >= gen:
			f.mu.Unlock()
			return nil
		case f.up != nil:
			up := f.up
			f.mu.Unlock()
			select {
			case <-up.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			if up.gen >= gen && up.err != nil && !errors.Is(up.err, errPaused) {
				return up.err
			}
			continue
		case f.paused > 0:
			ch := f.unpausedLocked()
			f.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		up := f.startLocked(ctx)
		f.mu.Unlock()
		f.runUpload(up)
		if up.err != nil && errors.Is(up.err, errPaused) {
			continue
		}
		return up.err
	}
}

// errPaused is the cause of an upload cancelled by Pause.
var errPaused = errors.New("upload paused")

// startLocked registers an upload of the newest snapshot. Called with
// f.mu held, no upload in flight and no pause.
func (f *File) startLocked(ctx context.Context) *upload {
	uctx, cancel := context.WithCancelCause(ctx)
	up := &upload{gen: f.snapGen, done: make(chan struct{}), cancel: func() { cancel(errPaused) }}
	up.ctx = uctx
	up.release = func() { cancel(nil) }
	f.up = up
	f.rec.State = Uploading
	return up
}

// progressSaveInterval is how often upload progress reaches the journal.
const progressSaveInterval = 2 * time.Second

// runUpload sends one snapshot and records the outcome.
func (f *File) runUpload(up *upload) {
	defer up.release()
	f.mu.Lock()
	rec := f.rec
	f.mu.Unlock()
	if err := f.syncRecord(); err != nil {
		f.finish(up, rec, remote.Entry{}, err)
		return
	}
	snap, err := os.Open(f.m.snapPath(rec.Key, up.gen))
	if err != nil {
		f.finish(up, rec, remote.Entry{}, localErr("writeback.upload", err))
		return
	}
	defer snap.Close()
	size := fileSize(snap.Name())
	// Progress reaches the journal (read by `bimfs status` in another
	// process) every few seconds; progressMu orders those saves before
	// the final state change so a late one cannot revive the record.
	var progressMu sync.Mutex
	lastSaved, inFlight := time.Now(), true
	e, err := f.m.opts.Upload(up.ctx, rec.Account, remote.UploadRequest{
		Parent: rec.Parent, Name: rec.Name, Existing: rec.Item, Size: size, Content: snap,
		Progress: func(done int64) {
			f.mu.Lock()
			f.rec.Uploaded = done
			f.mu.Unlock()
			progressMu.Lock()
			defer progressMu.Unlock()
			if inFlight && time.Since(lastSaved) >= progressSaveInterval {
				lastSaved = time.Now()
				f.syncRecord()
			}
		},
	})
	progressMu.Lock()
	inFlight = false
	progressMu.Unlock()
	if err == nil && f.m.opts.OnCommit != nil {
		rec.Size = size
		f.m.opts.OnCommit(rec, e, snap)
	}
	if err != nil && context.Cause(up.ctx) == errPaused {
		err = errPaused
	}
	f.finish(up, rec, e, err)
}

// finish records the outcome of upload up of rec.
func (f *File) finish(up *upload, rec Record, e remote.Entry, err error) {
	m := f.m
	if err != nil {
		f.mu.Lock()
		up.err = err
		f.up = nil
		// A pause, the shutdown of the manager or a caller who gave up is
		// no failure of the upload: it stays pending, and counts no attempt.
		interrupted := errors.Is(err, errPaused) || remote.KindOf(err) == remote.Canceled || errors.Is(err, context.Canceled)
		if interrupted {
			f.rec.State = Pending
		} else {
			f.rec.State = Failed
			f.rec.Attempts++
			f.rec.LastError = err.Error()
			f.lastKind = remote.KindOf(err)
		}
		r, kind := f.rec, f.lastKind
		discarded := f.discarded
		close(up.done)
		f.mu.Unlock()
		if discarded || errors.Is(err, errPaused) {
			return
		}
		if interrupted {
			if serr := f.syncRecord(); serr != nil {
				m.log.Error("cannot update staging record", "name", r.Name, "err", serr)
			}
			return
		}
		next := "it will be retried"
		if !retriable(kind) {
			next = "rename, move or delete it to resolve"
		}
		m.log.Error("upload failed; the file stays staged in "+m.dir+": "+next, "account", r.Account, "name", r.Name,
			"attempt", r.Attempts, "err", err)
		if serr := f.syncRecord(); serr != nil {
			m.log.Error("cannot update staging record", "name", r.Name, "err", serr)
		}
		m.retryLater(r.Key, r.Attempts)
		return
	}
	m.mu.Lock()
	f.mu.Lock()
	oldItem := f.rec.Item
	f.doneGen = max(f.doneGen, up.gen)
	f.entry = e
	f.rec.Item = e.ID
	f.rec.BaseVersion = e.Version.ID
	f.rec.LastError, f.rec.Attempts, f.rec.Uploaded = "", 0, rec.Size
	f.up = nil
	latest := up.gen == f.snapGen
	if latest {
		f.rec.Snapshot, f.rec.Confirmed = 0, false
		f.rec.State = ""
	} else {
		f.rec.State = Pending
	}
	if oldItem == "" && !f.discarded {
		m.reindexLocked(f, oldItem)
	}
	clean := f.gen <= f.doneGen
	retire := f.refs == 0 && clean && latest
	if retire {
		f.retired = true
	}
	close(up.done)
	f.mu.Unlock()
	m.mu.Unlock()
	key := rec.Key
	switch {
	case retire:
		f.closeLive()
		m.removeFiles(key)
		m.forget(f)
	case latest:
		// Handles remain: keep the bytes as the live copy for them (the
		// snapshot took its place at an exclusive commit).
		snap := m.snapPath(key, up.gen)
		if fileSize(m.dataPath(key)) < 0 {
			os.Rename(snap, m.dataPath(key))
		} else {
			os.Remove(snap)
		}
		f.syncRecord() // removed if clean, kept if written meanwhile
		syncDir(m.dir)
	default:
		// A newer snapshot waits; this one is done.
		os.Remove(m.snapPath(key, up.gen))
		f.syncRecord()
		m.kick()
	}
	m.retryNow(key)
	m.log.Info("uploaded", "account", rec.Account, "name", rec.Name, "size", rec.Size, "version", e.Version.Number)
}

// Pause cancels an upload in flight and holds back new ones until the
// returned resume function is called, so the caller can change the file's
// target (rename) or delete it without racing an upload. An upload that
// reached the service before the cancellation counts: check Record().Item.
func (f *File) Pause() (resume func()) {
	f.mu.Lock()
	f.paused++
	if f.paused == 1 {
		f.unpaused = make(chan struct{})
	}
	up := f.up
	f.mu.Unlock()
	if up != nil {
		up.cancel()
		<-up.done
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			f.paused--
			if f.paused == 0 {
				close(f.unpaused)
			}
			f.mu.Unlock()
			f.m.kick()
		})
	}
}

// unpausedLocked is closed when the current pause ends.
func (f *File) unpausedLocked() chan struct{} { return f.unpaused }

// Retarget records a new folder, name and item for the content (a rename
// or move). The caller holds a Pause. A failure a rename may cure (an
// invalid name) no longer holds the upload back.
func (f *File) Retarget(parent remote.ID, name string, item remote.ID) error {
	m := f.m
	m.mu.Lock()
	f.mu.Lock()
	oldItem := f.rec.Item
	m.unindexLocked(f, f.rec, oldItem)
	f.rec.Parent, f.rec.Name, f.rec.Item = parent, name, item
	f.lastKind = remote.KindUnknown
	if f.rec.State == Failed {
		f.rec.State = Pending
	}
	if !f.discarded && !f.retired {
		m.indexLocked(f)
	}
	key := f.rec.Key
	f.mu.Unlock()
	delete(m.next, key)
	m.mu.Unlock()
	return f.syncRecord()
}

// Publish turns a recovered file into an ordinary new file whose content
// the user confirmed (by renaming it) and queues its upload.
func (f *File) Publish(ctx context.Context) error {
	f.mu.Lock()
	if f.rec.State != Recovered {
		f.mu.Unlock()
		return nil
	}
	f.rec.State, f.rec.From = "", ""
	f.gen = max(f.gen, 1)
	f.mu.Unlock()
	return f.Commit(ctx, CommitOptions{Confirmed: true, Exclusive: !f.Busy()})
}

// Discard drops the staged content (the file was deleted). The caller
// holds a Pause, so no upload is running. Handles that still have the file
// open keep their bytes, which go nowhere.
func (f *File) Discard() {
	m := f.m
	m.mu.Lock()
	f.mu.Lock()
	f.discarded = true
	refs := f.refs
	if refs == 0 {
		f.retired = true
	}
	m.unindexLocked(f, f.rec, f.rec.Item)
	key := f.rec.Key
	f.mu.Unlock()
	delete(m.next, key)
	m.mu.Unlock()
	os.Remove(m.recordPath(key))
	m.removeSnapshots(key, 0)
	if refs == 0 {
		f.closeLive()
		os.Remove(m.dataPath(key))
		m.forget(f)
	}
	syncDir(m.dir)
}

// Release drops one handle. The last release of a file whose content the
// service has (or that was discarded) removes its staged data; any other
// file stays staged for the uploader.
func (f *File) Release() {
	f.mu.Lock()
	f.refs--
	last := f.refs == 0
	clean := f.gen <= f.doneGen && f.rec.Item != "" && f.up == nil && f.rec.Snapshot == 0
	discarded := f.discarded
	if last && (discarded || clean) {
		f.retired = true
	}
	key := f.rec.Key
	f.mu.Unlock()
	if !last {
		return
	}
	if discarded || clean {
		f.closeLive()
		f.m.removeFiles(key)
		f.m.forget(f)
		return
	}
	f.m.kick()
}

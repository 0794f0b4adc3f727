package fs

import (
	"context"
	"time"

	"github.com/bimfs/bimfs/cache"
	"github.com/bimfs/bimfs/cache/writeback"
	"github.com/bimfs/bimfs/remote"
)

// Staged files.
//
// Every open for writing works on a staged copy (writeback.File) shared by
// all handles of the file: a new file starts empty, an open with O_TRUNC
// starts empty, any other write open starts as a copy of the current
// remote version, fetched through the cache on first use, so random
// writes, appends, rsync --inplace and SQLite work as on a local disk.
// While a staged copy exists, reads, stat and listings show it.

// writable reports why the file may not be written, or nil.
func (f *File) writable() error {
	if f.acct.writer == nil {
		return ErrReadOnlyFS
	}
	if _, e := f.location(); e.ReadOnly {
		return remote.Errorf(remote.Permission, "fs.write", "the service marks %s read-only", f.Path())
	}
	return nil
}

// openWrite opens the file for writing (or truncation).
func (f *File) openWrite(ctx context.Context, flags OpenFlags) (*Handle, error) {
	if err := f.writable(); err != nil {
		return nil, err
	}
	sf, err := f.stage(ctx, "open", flags.Trunc)
	if err != nil {
		return nil, err
	}
	h := &Handle{file: f, sf: sf, write: flags.Write, append: flags.Append}
	if flags.Trunc {
		h.wrote = flags.Write
	}
	if h.write {
		f.mu.Lock()
		f.writers++
		f.mu.Unlock()
	}
	return h, nil
}

// stage returns the file's staged copy, acquired for the caller, creating
// it from the current remote version if there is none. With trunc the
// copy is emptied (a change). No lock is held while the folder is listed:
// two openers racing to create the copy find each other through the
// staging index and share one.
func (f *File) stage(ctx context.Context, op string, trunc bool) (*writeback.File, error) {
	for attempt := 0; ; attempt++ {
		if sf := f.staged(); sf != nil && sf.TryAcquire() {
			if trunc {
				f.dropFill(sf)
				if err := sf.Truncate(0); err != nil {
					sf.Release()
					return nil, f.acct.fail(ctx, op, f.Path(), err)
				}
			}
			return sf, nil
		}
		sf, err := f.newStaged(ctx, op)
		if remote.IsKind(err, remote.Conflict) && attempt < 3 {
			continue // another opener staged it first: share theirs
		}
		if err != nil {
			return nil, err
		}
		switch {
		case trunc:
			if err := sf.Truncate(0); err != nil {
				sf.Pause()
				sf.Discard()
				sf.Release()
				return nil, f.acct.fail(ctx, op, f.Path(), err)
			}
		case f.entrySize() > 0:
			// Filled on first use: the kernel sends O_TRUNC as a truncate
			// after the open, and an open that changes nothing should not
			// download anything.
			f.mu.Lock()
			f.fillFor, f.fillEntry = sf, f.entry
			f.mu.Unlock()
		}
		return sf, nil
	}
}

// newStaged revalidates the file through its folder's listing and stages
// an edit of the version it finds.
func (f *File) newStaged(ctx context.Context, op string) (*writeback.File, error) {
	id := f.remoteID()
	if isStagedID(id) {
		return nil, f.acct.fail(ctx, op, f.Path(), errStagedGone)
	}
	d, _ := f.location()
	parent := f.parentID()
	t, err := f.acct.listing(ctx, parent)
	if err != nil {
		return nil, f.acct.fail(ctx, op, f.Path(), err)
	}
	e, name, ok := t.find(id)
	if !ok {
		return nil, f.acct.fail(ctx, op, f.Path(), &remote.Error{Kind: remote.NotFound, Op: "fs.open", Message: "the file was deleted remotely"})
	}
	f.update(d, name, e)
	if e.ReadOnly {
		return nil, remote.Errorf(remote.Permission, "fs.write", "the service marks %s read-only", f.Path())
	}
	sf, err := f.acct.fsys.wb.Create(f.acct.name, parent, e.Name, e.ID, e.Version.ID)
	if remote.IsKind(err, remote.Conflict) {
		return nil, err
	}
	if err != nil {
		return nil, f.acct.fail(ctx, op, f.Path(), err)
	}
	return sf, nil
}

// entrySize is the size the newest listing shows.
func (f *File) entrySize() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.entry.Size
}

// ensureFilled copies the remote content into staged copy sf if that is
// still owed (see stage). One caller fills; the others wait for it or for
// their own context, holding no lock meanwhile.
func (f *File) ensureFilled(ctx context.Context, sf *writeback.File) error {
	for {
		f.mu.Lock()
		if f.fillFor != sf {
			f.mu.Unlock()
			return nil
		}
		if ch := f.filling; ch != nil {
			f.mu.Unlock()
			select {
			case <-ch:
				continue // done, or failed: look again
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		ch := make(chan struct{})
		f.filling = ch
		e := f.fillEntry
		f.mu.Unlock()

		r := f.acct.fsys.cache.Open(f.acct.source, f.acct.rangeReads, e.ID, f.acct.cacheVersion(e.Version), e.Size)
		err := sf.Fill(ctx, readerAt{ctx, r}, e.Size)
		r.Close()
		f.mu.Lock()
		f.filling = nil
		if err == nil && f.fillFor == sf {
			f.fillFor = nil
		}
		close(ch)
		f.mu.Unlock()
		return err
	}
}

// dropFill forgets a fill owed to sf: done, or truncated away.
func (f *File) dropFill(sf *writeback.File) {
	f.mu.Lock()
	if f.fillFor == sf {
		f.fillFor = nil
	}
	f.mu.Unlock()
}

// readerAt adapts a cache.Reader to io.ReaderAt for one request.
type readerAt struct {
	ctx context.Context
	r   *cache.Reader
}

func (r readerAt) ReadAt(p []byte, off int64) (int, error) { return r.r.ReadAt(r.ctx, p, off) }

// SetAttr changes what a file's attributes can change here: the size
// (through a staged copy) and the modification time, which is kept for
// the content the file has now. Mode and owner changes are accepted and
// ignored by front ends: cp -a, rsync -a and tar -x set them on every
// file, the services have no place for them, and failing would make those
// tools report an error per file.
func (f *File) SetAttr(ctx context.Context, h *Handle, size *int64, mtime *time.Time) (Attr, error) {
	if f.acct.writer == nil {
		return Attr{}, ErrReadOnlyFS
	}
	if size != nil {
		if err := f.truncate(ctx, h, *size); err != nil {
			return Attr{}, err
		}
	}
	if mtime != nil {
		if err := f.setMtime(*mtime); err != nil {
			return Attr{}, f.acct.fail(ctx, "utimes", f.Path(), err)
		}
		if sf := f.staged(); sf != nil && sf.Changed() {
			// Setting times on a file open for writing (touch, cp -p,
			// cp -a; the kernel sends futimens without the handle)
			// finishes it: the closing writer commits, even with no byte
			// written, so that close keeps the sync promise.
			f.mu.Lock()
			if h != nil && h.write {
				h.wrote = true
			} else if f.writers > 0 {
				f.flushOwed = true
			}
			f.mu.Unlock()
		}
	}
	return f.Attr(), nil
}

// setMtime keeps a modification time set by utimes for the content the
// file has now: on the staged copy (journaled, and kept for the version it
// becomes), or on the current version (in the state store, so it holds
// across restarts and a second rsync -a finds the file unchanged).
func (f *File) setMtime(t time.Time) error {
	if sf := f.staged(); sf != nil && sf.Changed() {
		return sf.SetMTime(t)
	}
	f.mu.Lock()
	v := f.entry.Version.ID
	f.mu.Unlock()
	if v == "" {
		return nil
	}
	return f.acct.fsys.state.SetMTime(f.acct.ident, v, t)
}

// committedAs carries a time set on version from over to version to (a
// rename that the service made as a new version).
func (f *File) committedAs(from, to string) {
	st, ident := f.acct.fsys.state, f.acct.ident
	if t, ok := st.MTime(ident, from); ok && from != "" && to != "" && from != to {
		st.SetMTime(ident, to, t)
	}
}

// truncate sets the size through the handle's staged copy or, for
// truncate(2) by path, stages the file, truncates and commits it at once.
func (f *File) truncate(ctx context.Context, h *Handle, size int64) error {
	if size < 0 {
		return remote.Errorf(remote.Invalid, "fs.truncate", "negative size %d", size)
	}
	if h != nil && h.write {
		if err := f.truncateStaged(ctx, h.sf, size); err != nil {
			return err
		}
		f.mu.Lock()
		h.wrote = true
		f.mu.Unlock()
		return nil
	}
	if err := f.writable(); err != nil {
		return err
	}
	sf, err := f.stage(ctx, "truncate", size == 0)
	if err != nil {
		return err
	}
	defer sf.Release()
	if err := f.truncateStaged(ctx, sf, size); err != nil {
		return err
	}
	f.mu.Lock()
	writers := f.writers
	f.mu.Unlock()
	if writers > 0 {
		// Most likely the open(O_TRUNC) of a writer, which the kernel
		// sends as a truncate by path after the open: the writer's close
		// commits, or the last release does.
		return nil
	}
	async := f.acct.fsys.opts.AsyncWriteback
	if err := sf.Commit(ctx, writeback.CommitOptions{Confirmed: async, Wait: !async}); err != nil {
		return f.acct.fail(ctx, "truncate", f.Path(), err)
	}
	return nil
}

// truncateStaged truncates staged copy sf, filling it first unless
// nothing of the old content stays.
func (f *File) truncateStaged(ctx context.Context, sf *writeback.File, size int64) error {
	if size == 0 {
		f.dropFill(sf)
	} else if err := f.ensureFilled(ctx, sf); err != nil {
		return f.acct.fail(ctx, "truncate", f.Path(), err)
	}
	if err := sf.Truncate(size); err != nil {
		return f.acct.fail(ctx, "truncate", f.Path(), err)
	}
	return nil
}

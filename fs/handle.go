package fs

import (
	"context"
	"errors"
	"io"

	"github.com/bimfs/bimfs/cache"
	"github.com/bimfs/bimfs/cache/writeback"
	"github.com/bimfs/bimfs/remote"
)

// Handle is an open file: either one remote version read through the
// cache for the handle's whole life, or the file's staged copy.
type Handle struct {
	file *File
	// Reading one version:
	entry remote.Entry
	r     *cache.Reader
	// Using the staged copy:
	sf     *writeback.File
	write  bool // opened with write access
	append bool // O_APPEND: every write goes to the end
	// wrote is set when this handle wrote or truncated since its last
	// flush; flushed while the handle counts as closed (see Flush). Both
	// are guarded by file.mu.
	wrote   bool
	flushed bool
}

// File is the file the handle is open on.
func (h *Handle) File() *File { return h.file }

// Version is the version the handle reads, or "" for the staged copy.
func (h *Handle) Version() string {
	if h.sf != nil {
		return ""
	}
	return h.entry.Version.ID
}

// Size is the size of what the handle reads.
func (h *Handle) Size() int64 {
	if h.sf != nil {
		return h.sf.Size()
	}
	return h.entry.Size
}

// ReadAt reads at off. A short count means end of file.
func (h *Handle) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	f := h.file
	if h.sf == nil {
		if off >= h.entry.Size {
			return 0, nil
		}
		n, err := h.r.ReadAt(ctx, p, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return n, f.acct.fail(ctx, "read", f.Path(), err)
		}
		return n, nil
	}
	if err := f.ensureFilled(ctx, h.sf); err != nil {
		return 0, f.acct.fail(ctx, "read", f.Path(), err)
	}
	n, err := h.sf.ReadAt(p, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, f.acct.fail(ctx, "read", f.Path(), err)
	}
	return n, nil
}

// WriteAt writes into the staged copy. With O_APPEND the staged size
// decides where the bytes go.
func (h *Handle) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	if !h.write {
		return 0, ErrBadHandle
	}
	f := h.file
	if err := f.ensureFilled(ctx, h.sf); err != nil {
		return 0, f.acct.fail(ctx, "write", f.Path(), err)
	}
	f.mu.Lock()
	h.wrote = true
	if h.flushed {
		// A duplicate descriptor outlived the close: still writing.
		h.flushed = false
		f.idleWriters--
	}
	f.mu.Unlock()
	if h.append {
		off = h.sf.Size()
	}
	n, err := h.sf.WriteAt(p, off)
	if err != nil {
		return n, f.acct.fail(ctx, "write", f.Path(), err)
	}
	return n, nil
}

// Allocate reserves [off, off+length) (fallocate(2) mode 0): the staged
// copy grows to cover it unless keepSize; the service only ever sees the
// content's size. Other fallocate modes (punching holes) are not offered.
func (h *Handle) Allocate(ctx context.Context, off, length int64, keepSize bool) error {
	if !h.write {
		return ErrBadHandle
	}
	f := h.file
	if end := off + length; !keepSize && end > h.sf.Size() {
		if err := f.truncateStaged(ctx, h.sf, end); err != nil {
			return err
		}
		f.mu.Lock()
		h.wrote = true
		f.mu.Unlock()
	}
	return nil
}

// Flush is called at every close(2) of a descriptor, also of duplicates
// (a shell redirection closes one before the command writes). A handle
// counts as closed from its flush until it writes again. Flush commits
// (uploads, or journals in async mode) when no other writer is still
// active and something was written through this handle or through a
// writer that closed before: a close that follows no write commits
// nothing, so `echo hi > new.txt` makes one version, not two.
func (h *Handle) Flush(ctx context.Context) error {
	if !h.write {
		return nil
	}
	f := h.file
	f.mu.Lock()
	if !h.flushed {
		h.flushed = true
		f.idleWriters++
	}
	if f.writers-f.idleWriters > 0 {
		f.flushOwed = f.flushOwed || h.wrote
		h.wrote = false
		f.mu.Unlock()
		return nil
	}
	commit := h.wrote || f.flushOwed
	h.wrote, f.flushOwed = false, false
	f.mu.Unlock()
	if !commit {
		return nil
	}
	return h.commit(ctx, "close", true)
}

// Fsync commits now (uploads, or journals in async mode).
func (h *Handle) Fsync(ctx context.Context) error {
	if !h.write {
		return nil
	}
	return h.commit(ctx, "fsync", false)
}

// commit makes the staged content durable as the user's confirmed save:
// at the service (default), or in the journal (async mode).
func (h *Handle) commit(ctx context.Context, op string, closing bool) error {
	f := h.file
	if err := f.ensureFilled(ctx, h.sf); err != nil {
		return f.acct.fail(ctx, op, f.Path(), err)
	}
	async := f.acct.fsys.opts.AsyncWriteback
	f.mu.Lock()
	exclusive := closing && f.writers-f.idleWriters == 0
	f.mu.Unlock()
	err := h.sf.Commit(ctx, writeback.CommitOptions{Exclusive: exclusive, Confirmed: async, Wait: !async})
	if err != nil {
		return f.acct.fail(ctx, op, f.Path(), err)
	}
	return nil
}

// Release closes the handle. The last release of a staged file whose
// changes were never committed (a created file closed without a write,
// a truncate by path) commits them in the background: their close
// succeeded, so they are confirmed.
func (h *Handle) Release(ctx context.Context) {
	f := h.file
	if h.sf == nil {
		if err := h.r.Close(); err != nil {
			f.acct.fsys.log.Warn("closing reader", "account", f.acct.name, "path", f.Path(), "err", err)
		}
		return
	}
	last := false
	if h.write {
		f.mu.Lock()
		f.writers--
		if h.flushed {
			f.idleWriters--
		}
		last = f.writers == 0
		f.flushOwed = false
		f.mu.Unlock()
	}
	if last && h.sf.Changed() {
		f.mu.Lock()
		unfilled := f.fillFor == h.sf
		f.mu.Unlock()
		if !unfilled {
			err := h.sf.Commit(context.WithoutCancel(ctx), writeback.CommitOptions{Exclusive: true, Confirmed: true})
			if err != nil {
				f.acct.fail(ctx, "release", f.Path(), err)
			}
		}
	}
	h.sf.Release()
}

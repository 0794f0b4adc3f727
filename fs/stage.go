package fs

import (
	"context"
	"errors"
	"io"
	"sort"
	"strings"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/bimfs/bimfs/cache"
	"github.com/bimfs/bimfs/cache/writeback"
	"github.com/bimfs/bimfs/remote"
)

// Staged files.
//
// Every open for writing works on a staged copy on local disk
// (writeback.File), shared by all handles of the file: a new file starts
// empty, an open with O_TRUNC starts empty and is marked changed, any
// other write open starts as a copy of the current remote version fetched
// through the cache, so random writes, appends, rsync --inplace and SQLite
// work as on a local disk. While a staged copy exists (open, waiting for
// upload, failed) reads, stat and listings show the staged content, so
// nothing written seems to vanish before the service has it.
//
// A new file has no remote ID until its first upload; it is known by a
// staged ID derived from its staging key, which a restart keeps. Once
// uploaded its node takes the remote ID but keeps its inode number.

// stagedPrefix starts the IDs of files that exist only in the staging
// area. Services' IDs never contain NUL.
const stagedPrefix = "\x00staged:"

// stagedID is the ID of the never-uploaded file with staging key key.
func stagedID(key string) remote.ID { return remote.ID(stagedPrefix + key) }

// isStagedID reports whether id names a never-uploaded file.
func isStagedID(id remote.ID) bool { return strings.HasPrefix(string(id), stagedPrefix) }

// stagedEntries returns entries for the new files staged for folder dir
// that are not uploaded yet, and a signature that changes when that set
// or their names change.
func (a *account) stagedEntries(dir remote.ID) ([]remote.Entry, string) {
	if a.writer == nil || a.fsys.wb == nil {
		return nil, ""
	}
	files := a.fsys.wb.Staged(a.name, dir)
	if len(files) == 0 {
		return nil, ""
	}
	var out []remote.Entry
	for _, f := range files {
		r := f.Record()
		if r.Existing != "" {
			continue // the remote file's own entry shows it
		}
		out = append(out, remote.Entry{ID: stagedID(r.Key), Name: r.Name, Size: r.Size, ModTime: r.Updated})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	var sig strings.Builder
	for _, e := range out {
		sig.WriteString(string(e.ID))
		sig.WriteByte(0)
		sig.WriteString(e.Name)
		sig.WriteByte(0)
	}
	return out, sig.String()
}

// staged returns the file's staged copy, if it has one.
func (f *fileNode) staged() *writeback.File {
	wb := f.acct.fsys.wb
	if wb == nil || f.acct.writer == nil {
		return nil
	}
	parent, e := f.location()
	return wb.Find(f.acct.name, parent, e.Name)
}

// writable reports why the file may not be written, as an errno, or 0.
func (f *fileNode) writable() syscall.Errno {
	if f.acct.writer == nil {
		return syscall.EROFS
	}
	if _, e := f.location(); e.ReadOnly {
		return syscall.EACCES
	}
	return 0
}

// openStagedRead opens a read-only handle on the file's staged copy, if it
// has one.
func (f *fileNode) openStagedRead() *stagedHandle {
	sf := f.staged()
	if sf == nil || !sf.TryAcquire() {
		return nil
	}
	return &stagedHandle{node: f, sf: sf}
}

// openWrite opens the file for writing (flags has a write access mode or
// O_TRUNC).
func (f *fileNode) openWrite(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	if errno := f.writable(); errno != 0 {
		return nil, 0, errno
	}
	sf, errno := f.stage(ctx, "open", flags&syscall.O_TRUNC != 0)
	if errno != 0 {
		return nil, 0, errno
	}
	h := &stagedHandle{
		node:   f,
		sf:     sf,
		write:  flags&syscall.O_ACCMODE != syscall.O_RDONLY,
		append: flags&syscall.O_APPEND != 0,
	}
	if h.write {
		f.mu.Lock()
		f.writers++
		f.mu.Unlock()
	}
	// The kernel may still hold the size of the version it was shown last;
	// make it ask again. (Reads and writes bypass its page cache.)
	f.invalidate()
	return h, fuse.FOPEN_DIRECT_IO, 0
}

// stage returns the file's staged copy, acquired for the caller, creating
// it from the current remote version if there is none. With trunc the
// copy is emptied and marked changed instead.
func (f *fileNode) stage(ctx context.Context, op string, trunc bool) (*writeback.File, syscall.Errno) {
	f.stageMu.Lock()
	defer f.stageMu.Unlock()
	if sf := f.staged(); sf != nil && sf.TryAcquire() {
		if trunc {
			if err := sf.Truncate(0); err != nil {
				sf.Release()
				return nil, f.acct.errno(ctx, op, f.Path(nil), err)
			}
		}
		return sf, 0
	}
	id := f.remoteID()
	if isStagedID(id) {
		// Staged, never uploaded, and its staged copy is gone: deleted.
		return nil, syscall.ENOENT
	}
	parent, _ := f.location()
	t, err := f.acct.listing(ctx, parent)
	if err != nil {
		return nil, f.acct.errno(ctx, op, f.Path(nil), err)
	}
	e, _, ok := t.find(id)
	if !ok {
		f.acct.fsys.log.Info("file was deleted remotely", "account", f.acct.name, "path", f.Path(nil))
		return nil, syscall.ENOENT
	}
	f.update(parent, e)
	if e.ReadOnly {
		return nil, syscall.EACCES
	}
	sf, err := f.acct.fsys.wb.Create(f.acct.name, parent, e.Name, e.ID, e.Version.ID)
	if err != nil {
		return nil, f.acct.errno(ctx, op, f.Path(nil), err)
	}
	switch {
	case trunc:
		if err := sf.Truncate(0); err != nil {
			sf.Discard()
			sf.Release()
			return nil, f.acct.errno(ctx, op, f.Path(nil), err)
		}
	case e.Size > 0:
		// Filled on first use: the kernel sends O_TRUNC as a truncate
		// after the open, and an open that changes nothing should not
		// download anything.
		f.mu.Lock()
		f.fillFor, f.fillEntry = sf, e
		f.mu.Unlock()
	}
	return sf, 0
}

// ensureFilled copies the remote content into staged copy sf if that is
// still owed (see stage).
func (f *fileNode) ensureFilled(ctx context.Context, sf *writeback.File) error {
	f.mu.Lock()
	owed := f.fillFor == sf
	f.mu.Unlock()
	if !owed {
		return nil
	}
	f.stageMu.Lock()
	defer f.stageMu.Unlock()
	f.mu.Lock()
	owed, e := f.fillFor == sf, f.fillEntry
	f.mu.Unlock()
	if !owed {
		return nil
	}
	r := f.acct.fsys.cache.Open(f.acct.backend, f.acct.rangeReads, e.ID, e.Version, e.Size)
	err := sf.Fill(ctx, readerAt{ctx, r}, e.Size)
	r.Close()
	if err != nil {
		return err
	}
	f.mu.Lock()
	if f.fillFor == sf {
		f.fillFor = nil
	}
	f.mu.Unlock()
	return nil
}

// dropFill forgets a fill owed to sf: the content is being truncated away.
func (f *fileNode) dropFill(sf *writeback.File) {
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

// Setattr truncates through a staged copy and accepts and ignores chmod,
// chown and utimes on writable accounts: cp -a, rsync -a and tar -x set
// them on every file, the service has no place for them, and failing
// would make those tools report an error for each file.
func (f *fileNode) Setattr(ctx context.Context, fh fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if f.acct.writer == nil {
		return syscall.EROFS
	}
	if size, ok := in.GetSize(); ok {
		if errno := f.truncate(ctx, fh, int64(size)); errno != 0 {
			return errno
		}
	}
	if mtime, ok := in.GetMTime(); ok {
		f.setMtime(mtime)
	}
	f.report(&out.Attr)
	return 0
}

// mtimeStaged marks an mtime set on the staged copy rather than a version.
const mtimeStaged = "\x00staged"

// setMtime remembers a modification time set by utimes for the content
// the file has now.
func (f *fileNode) setMtime(t time.Time) {
	sf := f.staged()
	forStaged := sf != nil && sf.Record().State != ""
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mtime = t
	if forStaged {
		f.mtimeFor = mtimeStaged
	} else {
		f.mtimeFor = f.entry.Version.ID
	}
}

// contentChanged drops an mtime set by utimes: the content changed since.
func (f *fileNode) contentChanged() {
	f.mu.Lock()
	f.mtime = time.Time{}
	f.mu.Unlock()
}

// committedAs moves an mtime set on the staged copy to the version it was
// uploaded as, and one set on version from to version to (a rename that
// made the content a new version of the file it replaced).
func (f *fileNode) committedAs(from, to string) {
	f.mu.Lock()
	if f.mtimeFor == mtimeStaged || (from != "" && f.mtimeFor == from) {
		f.mtimeFor = to
	}
	f.mu.Unlock()
}

// truncate sets the size through the handle's staged copy or, for
// truncate(2) by path, stages the file, truncates and uploads it at once.
func (f *fileNode) truncate(ctx context.Context, fh fusefs.FileHandle, size int64) syscall.Errno {
	if h, ok := fh.(*stagedHandle); ok && h.write {
		if errno := f.truncateStaged(ctx, h.sf, size); errno != 0 {
			return errno
		}
		f.mu.Lock()
		h.changed = true
		f.mu.Unlock()
		return 0
	}
	if errno := f.writable(); errno != 0 {
		return errno
	}
	sf, errno := f.stage(ctx, "truncate", size == 0)
	if errno != 0 {
		return errno
	}
	defer sf.Release()
	if errno := f.truncateStaged(ctx, sf, size); errno != 0 {
		return errno
	}
	if f.writerCount() > 0 {
		// Most likely the open(O_TRUNC) of a writer, which the kernel
		// sends as a truncate by path after the open. The writer's
		// close uploads if it writes; if not, the upload starts when
		// the last handle is released.
		return 0
	}
	if err := sf.Flush(ctx); err != nil {
		return f.acct.errno(ctx, "truncate", f.Path(nil), err)
	}
	return 0
}

// truncateStaged truncates staged copy sf, filling it first unless
// nothing of the old content stays.
func (f *fileNode) truncateStaged(ctx context.Context, sf *writeback.File, size int64) syscall.Errno {
	if size == 0 {
		f.dropFill(sf)
	} else if err := f.ensureFilled(ctx, sf); err != nil {
		return f.acct.errno(ctx, "truncate", f.Path(nil), err)
	}
	if err := sf.Truncate(size); err != nil {
		return f.acct.errno(ctx, "truncate", f.Path(nil), err)
	}
	f.contentChanged()
	return 0
}

func (f *fileNode) writerCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writers
}

// stagedHandle is an open file served from its staged copy.
type stagedHandle struct {
	node   *fileNode
	sf     *writeback.File
	write  bool // opened with write access
	append bool // O_APPEND: every write goes to the end
	// changed is set when this handle created, wrote or truncated the
	// file since its last flush; flushed while the handle counts as
	// closed (see Flush). Both are guarded by node.mu.
	changed bool
	flushed bool
}

var (
	_ fusefs.FileReader   = (*stagedHandle)(nil)
	_ fusefs.FileWriter   = (*stagedHandle)(nil)
	_ fusefs.FileFlusher  = (*stagedHandle)(nil)
	_ fusefs.FileFsyncer  = (*stagedHandle)(nil)
	_ fusefs.FileReleaser = (*stagedHandle)(nil)
)

// Read reads staged bytes. A short result means end of file.
func (h *stagedHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if err := h.node.ensureFilled(ctx, h.sf); err != nil {
		return nil, h.node.acct.errno(ctx, "read", h.node.Path(nil), err)
	}
	n, err := h.sf.ReadAt(dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, h.node.acct.errno(ctx, "read", h.node.Path(nil), err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// Write writes into the staged copy. With O_APPEND the staged size, not
// the kernel's idea of it, decides where the bytes go.
func (h *stagedHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if !h.write {
		return 0, syscall.EBADF
	}
	if err := h.node.ensureFilled(ctx, h.sf); err != nil {
		return 0, h.node.acct.errno(ctx, "write", h.node.Path(nil), err)
	}
	h.node.mu.Lock()
	h.changed = true
	if h.flushed {
		// A duplicate descriptor outlived the close: still writing.
		h.flushed = false
		h.node.idleWriters--
	}
	h.node.mu.Unlock()
	if h.append {
		off = h.sf.Size()
	}
	n, err := h.sf.WriteAt(data, off)
	h.node.contentChanged()
	if err != nil {
		return uint32(n), h.node.acct.errno(ctx, "write", h.node.Path(nil), err)
	}
	return uint32(n), 0
}

// Flush is called at every close(2) of a descriptor, also of duplicates
// (a shell redirection closes one before the command writes), and the
// release of a closed handle comes later, asynchronously. A handle counts
// as closed from its flush until it writes again. Flush uploads when no
// other writer is still active and something changed through this handle
// or through a writer that closed before; other changes (a truncate by
// path) reach the service when the last handle is released.
func (h *stagedHandle) Flush(ctx context.Context) syscall.Errno {
	if !h.write {
		return 0
	}
	n := h.node
	n.mu.Lock()
	if !h.flushed {
		h.flushed = true
		n.idleWriters++
	}
	if n.writers-n.idleWriters > 0 {
		n.flushOwed = n.flushOwed || h.changed
		h.changed = false
		n.mu.Unlock()
		return 0
	}
	upload := h.changed || n.flushOwed
	h.changed, n.flushOwed = false, false
	n.mu.Unlock()
	if !upload {
		return 0
	}
	return h.upload(ctx, "close")
}

// Fsync uploads (or, in async mode, makes durable in the journal) now.
func (h *stagedHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	if !h.write {
		return 0
	}
	return h.upload(ctx, "fsync")
}

func (h *stagedHandle) upload(ctx context.Context, op string) syscall.Errno {
	if err := h.sf.Flush(ctx); err != nil {
		return h.node.acct.errno(ctx, op, h.node.Path(nil), err)
	}
	return 0
}

// Release drops the handle's hold on the staged copy; a copy that is not
// uploaded yet stays for the background uploader.
func (h *stagedHandle) Release(ctx context.Context) syscall.Errno {
	if h.write {
		h.node.mu.Lock()
		h.node.writers--
		if h.flushed {
			h.node.idleWriters--
		}
		h.node.mu.Unlock()
	}
	h.sf.Release()
	return 0
}

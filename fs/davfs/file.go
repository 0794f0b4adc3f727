package davfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/webdav"

	"github.com/bimfs/bimfs/fs"
)

// file is an open file: a core handle plus the offset that Seek, Read and
// Write share. Reads go straight to Handle.ReadAt, so a range request
// fetches only the blocks it covers, through the block cache.
//
// A file opened only for its properties (PROPFIND opens every file it
// lists, PROPPATCH opens files read-write) has no handle: nothing is
// pinned or staged for it, and one is opened for reading if it is read.
type file struct {
	ctx   context.Context // the request's: cancelled when the client goes
	name  string
	f     *fs.File
	h     *fs.Handle // nil until needed for a properties-only open
	write bool
	// created is set when the open created or truncated the file; wrote
	// once anything was written, writeFailed once a write failed.
	created, wrote, writeFailed bool
	off                         int64
	done                        bool
	// repl is set when the file's content replaces another's (PUT, the
	// target of COPY): it is written under a temporary name first.
	repl *replacement
}

var _ webdav.File = (*file)(nil)

func newFile(ctx context.Context, name string, f *fs.File, h *fs.Handle, write, created bool) *file {
	return &file{ctx: ctx, name: name, f: f, h: h, write: write, created: created}
}

// handle returns the core handle, opening one for reading if the file
// was opened for its properties only.
func (f *file) handle() (*fs.Handle, error) {
	if f.h == nil {
		h, err := f.f.Open(f.ctx, fs.OpenFlags{})
		if err != nil {
			return nil, fail(f.ctx, "open", f.name, err)
		}
		f.h = h
	}
	return f.h, nil
}

// Read reads at the offset; io.EOF at the end of what the handle shows.
func (f *file) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	h, err := f.handle()
	if err != nil {
		return 0, err
	}
	n, err := h.ReadAt(f.ctx, p, f.off)
	f.off += int64(n)
	if err != nil {
		if st := stateOf(f.ctx); st != nil {
			st.readFailure()
		}
		return n, fail(f.ctx, "read", f.name, err)
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// Write writes at the offset into the staged copy.
func (f *file) Write(p []byte) (int, error) {
	if !f.write {
		return 0, fail(f.ctx, "write", f.name, fs.ErrBadHandle)
	}
	f.wrote = true
	n, err := f.h.WriteAt(f.ctx, p, f.off)
	f.off += int64(n)
	if err != nil {
		f.writeFailed = true
		return n, fail(f.ctx, "write", f.name, err)
	}
	return n, nil
}

// Seek implements io.Seeker; io.SeekEnd counts from the size of what the
// handle reads (its pinned version, or the staged copy).
func (f *file) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.off
	case io.SeekEnd:
		h, err := f.handle()
		if err != nil {
			return f.off, err
		}
		offset += h.Size()
	default:
		return f.off, &os.PathError{Op: "seek", Path: f.name, Err: errors.New("invalid whence")}
	}
	if offset < 0 {
		return f.off, &os.PathError{Op: "seek", Path: f.name, Err: errors.New("negative position")}
	}
	f.off = offset
	return offset, nil
}

// Close ends the handle. For a handle that wrote it is the close(2) of the
// mount: the content is committed (uploaded as a new version in sync mode,
// journaled in async mode) before Close returns, and a failed commit is
// its error, so a PUT is answered only once the service has the file.
func (f *file) Close() error {
	if f.done || f.h == nil {
		f.done = true
		return nil
	}
	f.done = true
	if f.repl != nil {
		return f.closeReplacement()
	}
	return f.commitAndRelease()
}

// commitAndRelease commits what the handle wrote and releases it.
func (f *file) commitAndRelease() error {
	var err error
	switch {
	case f.write && !f.wrote && f.created:
		// A PUT of an empty body, or a truncation: no write made it a
		// change to commit at close, yet the answer promises the
		// service has it.
		err = f.h.Fsync(f.ctx)
	case f.write:
		err = f.h.Flush(f.ctx)
	}
	f.h.Release(f.ctx)
	if err != nil {
		return fail(f.ctx, "close", f.name, err)
	}
	return nil
}

// Readdir implements http.File: a file has no entries.
func (f *file) Readdir(int) ([]os.FileInfo, error) {
	return nil, fail(f.ctx, "readdir", f.name, fs.ErrNotDir)
}

// Stat shows the open handle: the size and version it reads. The ETag of
// a handle that writes is taken when it is asked for: a PUT asks after
// Close, when the content has become a version.
func (f *file) Stat() (os.FileInfo, error) {
	if f.h == nil {
		f.f.Refresh()
		return newFileInfo(baseName(f.name), f.f.Attr()), nil
	}
	at := f.f.Attr()
	at.Size = f.h.Size()
	if v := f.h.Version(); v != "" || f.write {
		at.Version = v
	}
	fi := newFileInfo(baseName(f.name), at)
	if f.write {
		fi.live = f.f
	}
	return fi, nil
}

// dirFile is an open folder: Readdir lists it, everything else fails.
type dirFile struct {
	ctx    context.Context
	name   string
	d      *fs.Dir
	listed []os.FileInfo
	read   bool // listed holds the listing
	pos    int
}

var _ webdav.File = (*dirFile)(nil)

func (d *dirFile) Read([]byte) (int, error) {
	return 0, fail(d.ctx, "read", d.name, fs.ErrIsDir)
}

func (d *dirFile) Write([]byte) (int, error) {
	return 0, fail(d.ctx, "write", d.name, fs.ErrIsDir)
}

func (d *dirFile) Seek(offset int64, whence int) (int64, error) {
	if offset == 0 && whence == io.SeekStart {
		d.pos = 0
		return 0, nil
	}
	return 0, fail(d.ctx, "seek", d.name, fs.ErrIsDir)
}

func (d *dirFile) Close() error { return nil }

func (d *dirFile) Stat() (os.FileInfo, error) {
	return newFileInfo(baseName(d.name), d.d.Attr()), nil
}

// Readdir lists the folder from its listing: one List per folder (when
// the listing is older than the metadata TTL), never one call per file.
// count <= 0 returns everything left; otherwise at most count, and io.EOF
// once nothing is left.
func (d *dirFile) Readdir(count int) ([]os.FileInfo, error) {
	if !d.read {
		entries, err := d.d.ReadDir(d.ctx)
		if err != nil {
			return nil, fail(d.ctx, "readdir", d.name, err)
		}
		for _, e := range entries {
			n, err := d.d.Lookup(d.ctx, e.Name)
			if err != nil {
				continue // gone since the listing: not an error of this folder
			}
			d.listed = append(d.listed, newFileInfo(e.Name, n.Attr()))
		}
		d.read = true
	}
	rest := d.listed[d.pos:]
	if count <= 0 {
		d.pos = len(d.listed)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	rest = rest[:min(count, len(rest))]
	d.pos += len(rest)
	return rest, nil
}

// fileInfo is what PROPFIND and GET show of a node. It implements
// webdav.ETager (from the version ID) and webdav.ContentTyper (from the
// extension), so the protocol layer never opens a file to compute either:
// sniffing would download it.
type fileInfo struct {
	name string
	at   fs.Attr
	live *fs.File // if set, ETag shows the file's state when asked
}

var (
	_ webdav.ETager       = fileInfo{}
	_ webdav.ContentTyper = fileInfo{}
)

func newFileInfo(name string, at fs.Attr) fileInfo { return fileInfo{name: name, at: at} }

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.at.Size }
func (i fileInfo) ModTime() time.Time { return i.at.ModTime }
func (i fileInfo) IsDir() bool        { return i.at.Dir }
func (i fileInfo) Sys() any           { return i.at }

func (i fileInfo) Mode() os.FileMode {
	mode := os.FileMode(0o444)
	if i.at.Writable {
		mode |= 0o200
	}
	if i.at.Dir {
		mode |= os.ModeDir | 0o111
	}
	return mode
}

// ETag is the version ID, quoted: it changes exactly when the content
// does. Content staged here and not uploaded yet has no version; its ETag
// is derived from its time and size, like a disk file's.
func (i fileInfo) ETag(context.Context) (string, error) {
	if i.at.Dir {
		return "", webdav.ErrNotImplemented
	}
	if i.live != nil {
		return ETag(i.live.Attr()), nil
	}
	return ETag(i.at), nil
}

// ETag is the entity tag a node with attributes at is served with.
func ETag(at fs.Attr) string {
	if v := at.Version; v != "" && etagSafe(v) {
		return `"` + v + `"`
	} else if v != "" {
		sum := sha256.Sum256([]byte(v))
		return `"v-` + hex.EncodeToString(sum[:16]) + `"`
	}
	return `"staged-` + strconv.FormatInt(at.ModTime.UnixNano(), 16) + "-" + strconv.FormatInt(at.Size, 16) + `"`
}

// etagSafe reports whether s may stand between an ETag's quotes as it is
// (RFC 9110 etagc: visible ASCII but '"', and no backslash to be safe).
func etagSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// ContentType is the type of the name's extension, or
// application/octet-stream.
func (i fileInfo) ContentType(context.Context) (string, error) {
	return ContentType(i.name), nil
}

// ContentType is the media type a file called name is served with: from
// its extension only.
func ContentType(name string) string {
	if t := mime.TypeByExtension(strings.ToLower(path.Ext(name))); t != "" {
		return t
	}
	return "application/octet-stream"
}

package davfs

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/remote"
)

// Content a PUT or COPY sends is written under a temporary name in the
// target's folder and renamed over the target once it is complete: a
// client that goes away in the middle of a PUT, or a COPY whose source
// fails to read, never makes a version of partial content. Until then the
// temporary file is local only (the service never sees it) and shows in
// listings as ".bimfs-put-<random>.tmp"; an incomplete one is discarded.
// The rename is the core's "write a temporary file, rename it over the
// original" save: the target keeps its identity and history and gets the
// content as its next version, or is created under its name.

// tempPrefix starts the names of files a PUT is writing.
const tempPrefix = ".bimfs-put-"

// replacement is a file being written under a temporary name.
type replacement struct {
	dir         *fs.Dir
	temp, final string // names in dir
}

// openReplacement creates the temporary file for content that will
// replace (or create) final in d. What the rename would refuse is refused
// now, before the body is sent: a folder of that name (405), a read-only
// file (403).
func (s *FileSystem) openReplacement(ctx context.Context, d *fs.Dir, final, name string) (*file, error) {
	switch n, err := d.Lookup(ctx, final); {
	case err == nil:
		if n.Attr().Dir {
			return nil, fail(ctx, "create", name, fs.ErrIsDir)
		}
		if !n.Attr().Writable {
			return nil, fail(ctx, "create", name, remote.Errorf(remote.Permission, "davfs.put", "the service marks %s read-only", n.Path()))
		}
	case !remote.IsKind(err, remote.NotFound):
		return nil, fail(ctx, "create", name, err)
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	temp := tempPrefix + hex.EncodeToString(rnd[:]) + ".tmp"
	f, h, err := d.Create(ctx, temp, fs.OpenFlags{Write: true, Trunc: true}, true)
	if err != nil {
		return nil, fail(ctx, "create", name, err)
	}
	file := newFile(ctx, name, f, h, true, true)
	file.repl = &replacement{dir: d, temp: temp, final: final}
	return file, nil
}

// closeReplacement renames a complete temporary file over its target and
// commits it (the PUT's answer waits for the upload in sync mode), or
// discards an incomplete one.
func (f *file) closeReplacement() error {
	r := f.repl
	// The client may be gone: finishing or cleaning up still has to run.
	ctx := context.WithoutCancel(f.ctx)
	st := stateOf(f.ctx)
	if f.writeFailed || (st != nil && !st.complete()) {
		r.discard(ctx)
		f.h.Release(ctx)
		if st != nil && st.failure() != nil {
			return fail(f.ctx, "close", f.name, st.failure())
		}
		return fail(f.ctx, "close", f.name, &remote.Error{Kind: remote.Canceled, Op: "davfs.put", Message: "the request body ended early; nothing was saved"})
	}
	if err := r.dir.Rename(ctx, r.temp, r.dir, r.final, fs.RenameFlags{}); err != nil {
		r.discard(ctx)
		f.h.Release(ctx)
		return fail(f.ctx, "close", f.name, err)
	}
	return f.commitAndRelease()
}

// discard removes the temporary file; it was never uploaded, so only its
// staged copy goes.
func (r *replacement) discard(ctx context.Context) {
	r.dir.Unlink(ctx, r.temp)
}

package fs

import (
	"context"
	"errors"
	"io"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/bimfs/bimfs/cache"
	"github.com/bimfs/bimfs/remote"
)

// handle is an open file: one version, read through the cache.
type handle struct {
	node   *fileNode
	entry  remote.Entry // the version this handle reads, for its whole life
	r      *cache.Reader
	pinned bool // counted in node.pinned (uses the page cache)
}

var (
	_ fusefs.FileReader   = (*handle)(nil)
	_ fusefs.FileReleaser = (*handle)(nil)
	_ fusefs.FileWriter   = (*handle)(nil)
)

// Read reads from the handle's version. A short result means end of file.
func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off >= h.entry.Size {
		return fuse.ReadResultData(nil), 0
	}
	n, err := h.r.ReadAt(ctx, dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, h.node.acct.errno(ctx, "read", h.node.Path(nil), err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// Write is never reached (Open refuses write modes); it exists so a
// handle can never silently accept data.
func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	return 0, syscall.EROFS
}

// Release closes the reader when the last descriptor is closed.
func (h *handle) Release(ctx context.Context) syscall.Errno {
	h.node.release(h.pinned)
	if err := h.r.Close(); err != nil {
		h.node.acct.fsys.log.Warn("closing reader", "account", h.node.acct.name, "path", h.node.Path(nil), "err", err)
	}
	return 0
}

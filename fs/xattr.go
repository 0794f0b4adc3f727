package fs

import (
	"context"
	"fmt"
	"syscall"

	"github.com/bimfs/bimfs/cache/writeback"
)

// Extended attributes.
//
// Files have one, read-only attribute, user.bimfs.upload, telling where
// their content is on its way to the service: "committed" (the service has
// it), "open" (being written), "pending" (closed, waiting for upload),
// "uploading 42%", or "failed: <reason>" (kept and retried). Every other
// name answers ENODATA and setting any attribute fails with ENOTSUP (EROFS
// on read-only accounts).
//
// All answers come from memory. The kernel asks for two attributes per
// file in ls -l; answering ENOSYS once would make it stop asking, but
// would also disable the attribute above for the whole mount. Options.NoXattrs
// makes that trade for users who list huge folders and do not need it.

// xattrUpload is the name of the upload-state attribute.
const xattrUpload = "user.bimfs.upload"

// uploadState describes the upload state of a staged copy (nil: none).
func uploadState(sf *writeback.File) string {
	if sf == nil {
		return "committed"
	}
	r := sf.Record()
	switch r.State {
	case "":
		return "committed"
	case writeback.Open:
		if !sf.Dirty() {
			return "committed" // open for writing, nothing changed yet
		}
		return "open"
	case writeback.Uploading:
		pct := int64(100)
		if r.Size > 0 {
			pct = min(100, r.Uploaded*100/r.Size)
		}
		return fmt.Sprintf("uploading %d%%", pct)
	case writeback.Failed:
		return "failed: " + r.LastError
	default:
		return string(r.State)
	}
}

// xattrReply copies value into dest following getxattr(2): an empty dest
// asks for the size.
func xattrReply(value string, dest []byte) (uint32, syscall.Errno) {
	if len(dest) == 0 {
		return uint32(len(value)), 0
	}
	if len(dest) < len(value) {
		return uint32(len(value)), syscall.ERANGE
	}
	return uint32(copy(dest, value)), 0
}

// Getxattr implements fusefs.NodeGetxattrer.
func (f *fileNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if f.acct.fsys.opts.NoXattrs {
		return 0, syscall.ENOSYS
	}
	if attr != xattrUpload {
		return 0, syscall.ENODATA
	}
	return xattrReply(uploadState(f.staged()), dest)
}

// Listxattr implements fusefs.NodeListxattrer.
func (f *fileNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	if f.acct.fsys.opts.NoXattrs {
		return 0, syscall.ENOSYS
	}
	return xattrReply(xattrUpload+"\x00", dest)
}

// Setxattr implements fusefs.NodeSetxattrer.
func (f *fileNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	if f.acct.writer == nil {
		return syscall.EROFS
	}
	return syscall.ENOTSUP
}

// Removexattr implements fusefs.NodeRemovexattrer.
func (f *fileNode) Removexattr(ctx context.Context, attr string) syscall.Errno {
	if f.acct.writer == nil {
		return syscall.EROFS
	}
	if attr == xattrUpload {
		return syscall.EPERM
	}
	return syscall.ENODATA
}

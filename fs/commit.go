package fs

import (
	"context"
	"fmt"
	"os"

	"github.com/bimfs/bimfs/cache/writeback"
	"github.com/bimfs/bimfs/remote"
)

// startWriteback makes writable the accounts whose backend can write, if
// the options give a staging directory, and starts the uploader, which
// applies the crash rules to what a previous run left and resumes
// confirmed uploads.
func (f *FS) startWriteback() error {
	writable := false
	for _, a := range f.accounts {
		w, ok := a.backend.(remote.Writer)
		if !a.backend.Features().Writable {
			continue
		}
		if !ok {
			f.log.Warn("backend reports writable but cannot write; the account is read-only", "account", a.name)
			continue
		}
		if f.opts.StagingDir == "" {
			f.log.Warn("no staging directory configured; the account is read-only", "account", a.name)
			continue
		}
		a.writer = w
		writable = true
	}
	if !writable {
		return nil
	}
	wb, err := writeback.New(writeback.Options{
		Dir:       f.opts.StagingDir,
		Upload:    f.upload,
		OnCommit:  f.committed,
		MakeRoom:  f.cache.FreeDisk,
		RetryBase: f.opts.UploadRetry,
		Logger:    f.log,
	})
	if err != nil {
		return fmt.Errorf("fs: staging directory: %w", err)
	}
	f.wb = wb
	return nil
}

// upload sends staged content to the backend of its account.
func (f *FS) upload(ctx context.Context, account string, req remote.UploadRequest) (remote.Entry, error) {
	a := f.account(account)
	if a == nil || a.writer == nil {
		// A record from a run with other accounts: keep it until the
		// account is writable again.
		return remote.Entry{}, remote.Errorf(remote.Unavailable, "fs.upload", "account %q is not mounted writable", account)
	}
	return a.writer.Upload(ctx, req)
}

// committed runs after each successful upload, while the uploaded bytes
// are still at hand: it puts the new version into the block cache so
// nobody downloads what was just uploaded, shows the new state in the
// folder's cached listing at once, and tells the front end.
func (f *FS) committed(rec writeback.Record, e remote.Entry, data *os.File) {
	a := f.account(rec.Account)
	if a == nil {
		return
	}
	if rec.Item != "" && rec.BaseVersion != "" {
		// The cached listing shows the newest version anyone has seen; if
		// it is neither ours nor the one the edit started from, someone
		// else changed the file meanwhile. Ours is now the newer version
		// and theirs stays in the service's history.
		if entries, _, ok := a.meta.Cached(rec.Parent); ok {
			for _, x := range entries {
				if x.ID == rec.Item && x.Version.ID != rec.BaseVersion && x.Version.ID != e.Version.ID {
					f.log.Warn("file was changed remotely while edited here; uploaded as a new version on top of it",
						"account", a.name, "name", rec.Name, "edited_from", rec.BaseVersion, "remote_version", x.Version.ID,
						"remote_number", x.Version.Number, "new_version", e.Version.ID, "new_number", e.Version.Number)
				}
			}
		}
	}
	if !rec.MTime.IsZero() {
		// The time the user set on the staged content belongs to the
		// version it became.
		if err := f.state.SetMTime(a.ident, e.Version.ID, rec.MTime); err != nil {
			f.log.Warn("cannot keep a file's modification time", "account", a.name, "name", rec.Name, "err", err)
		}
	}
	f.seedCache(a, e, rec.Size, data)
	a.meta.Upsert(rec.Parent, e)
	var n *File
	if rec.Item == "" {
		// A new file: its node, known so far by the staged ID, now is the
		// remote file, with the same inode number.
		if old, ok := a.node(stagedID(rec.Key)).(*File); ok {
			a.rekey(old, e.ID)
			n = old
		}
	}
	if n == nil {
		n, _ = a.node(e.ID).(*File)
	}
	if n != nil {
		n.mu.Lock()
		n.entry = e
		n.mu.Unlock()
		f.notifyFile(n)
	}
}

// seedCache copies the committed bytes into the block cache, block by
// block, keyed by the new immutable version.
func (f *FS) seedCache(a *account, e remote.Entry, size int64, data *os.File) {
	if e.Version.ID == "" || size <= 0 {
		return
	}
	v := a.cacheVersion(e.Version)
	bs := f.cache.BlockSize()
	buf := make([]byte, bs)
	for off := int64(0); off < size; off += bs {
		n, err := data.ReadAt(buf[:min(bs, size-off)], off)
		if n > 0 {
			f.cache.Put(v, off, buf[:n])
		}
		if err != nil {
			return
		}
	}
}

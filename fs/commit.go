package fs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"golang.org/x/sys/unix"

	"github.com/bimfs/bimfs/cache/writeback"
	"github.com/bimfs/bimfs/remote"
)

// notifyQueue bounds kernel notifications waiting to be sent. When it is
// full a notification is dropped: the kernel's own attribute and entry
// timeouts then bound how long it shows the old state.
const notifyQueue = 1024

// startWriteback makes writable the accounts whose backend can write, if
// the options give a staging directory, and starts the uploader, which at
// once resumes uploads a previous run left in the journal.
func (f *filesystem) startWriteback() error {
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
		Async:     f.opts.AsyncWriteback,
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
func (f *filesystem) upload(ctx context.Context, account string, req remote.UploadRequest) (remote.Entry, error) {
	a := f.account(account)
	if a == nil || a.writer == nil {
		// A record from a run with other accounts: keep it until the
		// account is mounted (writable) again.
		return remote.Entry{}, remote.Errorf(remote.Unavailable, "fs.upload", "account %q is not mounted writable", account)
	}
	return a.writer.Upload(ctx, req)
}

// committed runs after each successful upload, while the staged bytes are
// still at hand: it puts the new version into the block cache so nobody
// downloads what was just uploaded, shows the new state in the folder's
// cached listing at once, and tells the kernel to drop what it cached
// about the file. It must not touch the staged file's own locks.
func (f *filesystem) committed(rec writeback.Record, e remote.Entry, data *os.File) {
	a := f.account(rec.Account)
	if a == nil {
		return
	}
	if rec.Existing != "" && rec.BaseVersion != "" {
		// The cached listing shows the newest version anyone has seen; if
		// it is neither ours nor the one the edit started from, someone
		// else changed the file meanwhile. Ours is now the newer version
		// and theirs stays in the service's history.
		if entries, _, ok := a.meta.Cached(rec.Parent); ok {
			for _, x := range entries {
				if x.ID == rec.Existing && x.Version.ID != rec.BaseVersion && x.Version.ID != e.Version.ID {
					f.log.Warn("file was changed remotely while edited here; uploaded as a new version on top of it",
						"account", a.name, "name", rec.Name, "edited_from", rec.BaseVersion, "remote_version", x.Version.ID,
						"remote_number", x.Version.Number, "new_version", e.Version.ID, "new_number", e.Version.Number)
				}
			}
		}
	}
	f.seedCache(e, rec.Size, data)
	a.meta.Upsert(rec.Parent, e)
	var n *fileNode
	if rec.Existing == "" {
		// A new file: its node, known so far by the staged ID, now is the
		// remote file.
		if old, ok := a.node(stagedID(rec.Key)).(*fileNode); ok {
			a.rekey(old, e.ID)
			n = old
		}
	}
	if n == nil {
		n, _ = a.node(e.ID).(*fileNode)
	}
	if n != nil {
		n.committedAs("", e.Version.ID)
		n.update(rec.Parent, e)
		n.invalidate()
	}
}

// seedCache copies the committed bytes into the block cache, block by
// block, keyed by the new immutable version.
func (f *filesystem) seedCache(e remote.Entry, size int64, data *os.File) {
	if e.Version.ID == "" || size <= 0 {
		return
	}
	bs := f.cache.BlockSize()
	buf := make([]byte, bs)
	for off := int64(0); off < size; off += bs {
		n, err := data.ReadAt(buf[:min(bs, size-off)], off)
		if n > 0 {
			f.cache.Put(e.Version, off, buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// startNotifier starts the goroutine that sends kernel notifications.
func (f *filesystem) startNotifier() {
	ctx, cancel := context.WithCancel(context.Background())
	f.notifyq = make(chan func(), notifyQueue)
	f.stopNotify = cancel
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case fn := <-f.notifyq:
				fn()
			}
		}
	}()
}

// notify queues fn, which sends kernel notifications. Request handlers
// call this instead of notifying themselves: the kernel may hold locks a
// notification sent from inside a request would wait for.
func (f *filesystem) notify(fn func()) {
	select {
	case f.notifyq <- fn:
	default:
		f.log.Debug("kernel notification queue full; relying on cache timeouts")
	}
}

// known reports whether the kernel has been given node n: a node in the
// account registry may not have its Inode yet, and notifying through it
// then would dereference nothing.
func (f *filesystem) known(n fusefs.InodeEmbedder) bool {
	f.inodeMu.Lock()
	defer f.inodeMu.Unlock()
	return n.EmbeddedInode().StableAttr().Ino != 0
}

// invalidate queues a notification that makes the kernel drop the file's
// attributes and cached pages.
func (f *fileNode) invalidate() {
	fsys := f.acct.fsys
	fsys.notify(func() {
		if fsys.known(f) {
			f.NotifyContent(0, 0)
		}
	})
}

// close stops background work: the notifier and the uploader. Staged
// files stay in the staging directory for the next mount.
func (f *filesystem) close() {
	if f.stopNotify != nil {
		f.stopNotify()
	}
	if f.wb != nil {
		f.wb.Close()
	}
}

// raiseReadAhead sets the kernel read-ahead of the mount's backing device
// (the FUSE connection's bdi, named by the mount's device number). Only
// root may; failure only costs speed.
func (f *filesystem) raiseReadAhead(mountpoint string) {
	kb := f.opts.KernelReadAheadKB
	if kb < 0 {
		return
	}
	var st syscall.Stat_t
	if err := syscall.Stat(mountpoint, &st); err != nil {
		f.log.Debug("kernel read-ahead unchanged", "err", err)
		return
	}
	p := filepath.Join("/sys/class/bdi", fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev)), "read_ahead_kb")
	if err := os.WriteFile(p, []byte(fmt.Sprintf("%d\n", kb)), 0); err != nil {
		f.log.Debug("kernel read-ahead unchanged", "path", p, "err", err)
		return
	}
	f.log.Debug("kernel read-ahead set", "path", p, "kb", kb)
}

package writeback

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// UploadFunc sends staged content to the account's service.
type UploadFunc func(ctx context.Context, account string, req remote.UploadRequest) (remote.Entry, error)

// CommitFunc is told about every committed upload while the uploaded
// snapshot is still on disk, so callers can seed caches and listings
// without downloading the bytes again.
type CommitFunc func(rec Record, e remote.Entry, data *os.File)

// Defaults for Options left zero.
const (
	DefaultRetryBase = 2 * time.Second
	DefaultRetryMax  = 5 * time.Minute
	// DefaultUploadTimeout bounds one upload attempt made in the background.
	DefaultUploadTimeout = 6 * time.Hour
)

// Options configure a Manager.
type Options struct {
	// Dir is the staging directory; it is created with mode 0700.
	Dir    string
	Upload UploadFunc
	// OnCommit, if set, runs after each successful upload.
	OnCommit CommitFunc
	// MakeRoom, if set, is asked to free at least n bytes on the staging
	// disk (by evicting cached blocks) when a write finds it full; it
	// returns how many it freed. Staged data has priority over caches.
	MakeRoom func(n int64) int64
	// RetryBase and RetryMax shape the backoff of background retries.
	RetryBase, RetryMax time.Duration
	Logger              *slog.Logger
}

// Manager owns the staging directory and the background uploader.
//
// Lock order: File.ioMu, then Manager.mu, then File.mu. No lock is held
// while an upload runs.
type Manager struct {
	dir  string
	opts Options
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}
	wg     sync.WaitGroup

	mu sync.Mutex // protects the fields below
	// files holds every staged file by key.
	files map[string]*File
	// byItem indexes files that belong to a remote item.
	byItem map[itemKey]*File
	// newFiles indexes never-uploaded (and recovered) files by folder.
	newFiles map[folderKey]map[*File]bool
	// next is when a failed file may be tried again.
	next map[string]time.Time
}

type itemKey struct {
	account string
	item    remote.ID
}

type folderKey struct {
	account string
	parent  remote.ID
}

// New opens (or creates) the staging directory, applies the crash rules
// to what a previous run left (see the package doc) and starts the
// background uploader.
func New(opts Options) (*Manager, error) {
	if opts.Dir == "" || opts.Upload == nil {
		return nil, errors.New("writeback: Dir and Upload are required")
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = DefaultRetryBase
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = DefaultRetryMax
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("staging directory: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{
		dir: opts.Dir, opts: opts, log: log, ctx: ctx, cancel: cancel,
		wake: make(chan struct{}, 1), files: map[string]*File{}, next: map[string]time.Time{},
		byItem: map[itemKey]*File{}, newFiles: map[folderKey]map[*File]bool{},
	}
	recs, errs := m.loadRecords()
	for _, err := range errs {
		log.Error("staged upload cannot be read; its data is kept in the staging directory", "dir", m.dir, "err", err)
	}
	for _, r := range recs {
		m.recover(r)
	}
	m.removeOrphans()
	m.wg.Add(1)
	go m.retryLoop()
	m.kick()
	return m, nil
}

// recover applies the crash rules to record r of a previous run.
func (m *Manager) recover(r Record) {
	live := fileSize(m.dataPath(r.Key))
	snap := int64(-1)
	if r.Snapshot != 0 {
		snap = fileSize(m.snapPath(r.Key, r.Snapshot))
	}
	if r.State == Recovered {
		if live < 0 {
			m.removeFiles(r.Key)
			return
		}
		r.Size = live
		m.add(&File{m: m, rec: r, gen: 1})
		return
	}
	var orphan string // user changes without confirmation, if any
	switch {
	case r.Dirty && live >= 0:
		orphan = m.dataPath(r.Key)
	case r.Dirty:
		// The live copy was being turned into a snapshot (renamed) when
		// the process died, before the record could name it: the newest
		// snapshot file holds the changes.
		if g := m.newestSnapshot(r.Key); g > r.Snapshot {
			orphan = m.snapPath(r.Key, g)
		}
	}
	if snap >= 0 && r.Confirmed {
		// Confirmed content: upload it under its name, with the size the
		// snapshot really has.
		r.Size, r.State, r.Dirty, r.Uploaded = snap, Pending, false, 0
		f := &File{m: m, rec: r, gen: r.Snapshot, snapGen: r.Snapshot}
		if orphan != "" {
			m.recoverAs(r, orphan)
		} else {
			os.Remove(m.dataPath(r.Key))
		}
		m.add(f)
		m.saveRecord(r)
		m.log.Info("resuming confirmed upload", "account", r.Account, "name", r.Name, "size", r.Size)
		return
	}
	if orphan == "" && snap >= 0 {
		orphan = m.snapPath(r.Key, r.Snapshot)
	}
	if orphan != "" {
		m.recoverAs(r, orphan)
	}
	m.removeFiles(r.Key)
}

// newestSnapshot is the highest generation among the snapshot files of
// key on disk, 0 if none.
func (m *Manager) newestSnapshot(key string) uint64 {
	matches, _ := filepath.Glob(filepath.Join(m.dir, key+".*"+snapSuffix))
	var newest uint64
	for _, p := range matches {
		gen, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), key+"."), snapSuffix), 10, 64)
		if err == nil && gen > newest {
			newest = gen
		}
	}
	return newest
}

// recoverAs keeps the unconfirmed content in file src of record r as a
// new, local-only recovered file beside the original.
func (m *Manager) recoverAs(r Record, src string) {
	key, err := newKey()
	if err != nil {
		m.log.Error("cannot recover unconfirmed content; it stays in the staging directory", "file", src, "err", err)
		return
	}
	when := r.Modified
	if when.IsZero() {
		when = time.Now()
	}
	nr := Record{
		Key: key, Account: r.Account, Parent: r.Parent, Name: RecoveredName(r.Name, when.Local()),
		State: Recovered, From: r.Name, Modified: r.Modified,
	}
	if err := os.Rename(src, m.dataPath(key)); err != nil {
		m.log.Error("cannot recover unconfirmed content; it stays in the staging directory", "file", src, "err", err)
		return
	}
	nr.Size = fileSize(m.dataPath(key))
	if err := m.saveRecord(nr); err != nil {
		m.log.Error("cannot journal recovered content", "file", m.dataPath(key), "err", err)
	}
	m.add(&File{m: m, rec: nr, gen: 1})
	m.log.Warn("content that was never confirmed (file open or close failed at a crash) is kept as a recovered file; rename it to publish it, delete it to discard it",
		"account", r.Account, "name", r.Name, "recovered_as", nr.Name, "size", nr.Size)
}

// RecoveredName is the name of a file recovered from name, whose content
// was last changed at when: "<stem> (recovered YYYY-MM-DD HHMMSS)<ext>".
func RecoveredName(name string, when time.Time) string {
	ext := path.Ext(name)
	if ext == name || len(ext) > 16 {
		ext = ""
	}
	return strings.TrimSuffix(name, ext) + " (recovered " + when.Format("2006-01-02 150405") + ")" + ext
}

// add registers f. Only for files built outside the index.
func (m *Manager) add(f *File) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[f.rec.Key] = f
	m.indexLocked(f)
}

// Close stops background uploads. Staged files stay on disk and are
// handled by the next New.
func (m *Manager) Close() error {
	m.cancel()
	m.wg.Wait()
	m.mu.Lock()
	files := make([]*File, 0, len(m.files))
	for _, f := range m.files {
		files = append(files, f)
	}
	m.mu.Unlock()
	for _, f := range files {
		f.closeLive()
	}
	return nil
}

// Create stages a file named name in parent: a new file when item is
// empty (it then counts as changed: even an empty new file must reach the
// service), otherwise an edit of item starting from version base. Nothing
// is journaled until the first change. The caller holds the one reference.
func (m *Manager) Create(account string, parent remote.ID, name string, item remote.ID, base string) (*File, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	f := &File{m: m, refs: 1, rec: Record{
		Key: key, Account: account, Parent: parent, Name: name, Item: item, BaseVersion: base,
	}}
	if item == "" {
		f.gen = 1
		f.rec.Modified = time.Now().UTC()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.byItem[itemKey{account, item}]; item != "" && old != nil {
		old.mu.Lock()
		leaving := old.retired || old.discarded
		old.mu.Unlock()
		// A file on its way out (committed and released, or deleted) is
		// replaced; a live one is shared, so the caller must use it.
		if !leaving {
			return nil, remote.Errorf(remote.Conflict, "writeback.Create", "item %s is already staged", item)
		}
	}
	m.files[key] = f
	m.indexLocked(f)
	return f, nil
}

// ByItem returns the staged file of remote item, if any. The caller must
// TryAcquire it to use it.
func (m *Manager) ByItem(account string, item remote.ID) *File {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byItem[itemKey{account, item}]
}

// ByKey returns the staged file with key, if any.
func (m *Manager) ByKey(key string) *File {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.files[key]
}

// NewFiles returns the never-uploaded and recovered files in folder
// parent, which listings show beside the remote entries.
func (m *Manager) NewFiles(account string, parent remote.ID) []*File {
	m.mu.Lock()
	defer m.mu.Unlock()
	set := m.newFiles[folderKey{account, parent}]
	out := make([]*File, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	return out
}

// indexLocked adds f to the index its record calls for. Called with m.mu
// held (f.mu may be held too).
func (m *Manager) indexLocked(f *File) {
	if f.rec.Item != "" {
		m.byItem[itemKey{f.rec.Account, f.rec.Item}] = f
		return
	}
	k := folderKey{f.rec.Account, f.rec.Parent}
	if m.newFiles[k] == nil {
		m.newFiles[k] = map[*File]bool{}
	}
	m.newFiles[k][f] = true
}

// unindexLocked removes f, indexed under rec and item, from the indexes.
func (m *Manager) unindexLocked(f *File, rec Record, item remote.ID) {
	if item != "" {
		if m.byItem[itemKey{rec.Account, item}] == f {
			delete(m.byItem, itemKey{rec.Account, item})
		}
		return
	}
	k := folderKey{rec.Account, rec.Parent}
	delete(m.newFiles[k], f)
	if len(m.newFiles[k]) == 0 {
		delete(m.newFiles, k)
	}
}

// reindexLocked moves a new file to the item index once it has an item.
// Called with m.mu and f.mu held.
func (m *Manager) reindexLocked(f *File, oldItem remote.ID) {
	r := f.rec
	r.Item = oldItem
	m.unindexLocked(f, r, oldItem)
	m.indexLocked(f)
}

// Records returns a snapshot of every staged file, sorted by name, for
// `bimfs status`.
func (m *Manager) Records() []Record {
	m.mu.Lock()
	files := make([]*File, 0, len(m.files))
	for _, f := range m.files {
		files = append(files, f)
	}
	m.mu.Unlock()
	recs := make([]Record, 0, len(files))
	for _, f := range files {
		recs = append(recs, f.Record())
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Name < recs[j].Name })
	return recs
}

// removeOrphans deletes data files that have no record: files opened for
// writing but never changed before the process died, or filled from the
// service. They hold no user changes.
func (m *Manager) removeOrphans() {
	entries, err := os.ReadDir(m.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		key, _, _ := strings.Cut(name, ".")
		if strings.HasSuffix(name, recordSuffix) || key == "" {
			continue
		}
		if _, err := os.Stat(m.recordPath(key)); os.IsNotExist(err) {
			os.Remove(filepath.Join(m.dir, name))
		}
	}
}

// kick wakes the background uploader.
func (m *Manager) kick() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// retryLoop uploads snapshots that no caller is waiting for.
func (m *Manager) retryLoop() {
	defer m.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-m.wake:
		case <-t.C:
		}
		for _, f := range m.due() {
			ctx, cancel := context.WithTimeout(m.ctx, DefaultUploadTimeout)
			f.mu.Lock()
			ok := f.up == nil && f.paused == 0 && !f.discarded && f.rec.Snapshot != 0 && f.rec.State != Recovered
			var up *upload
			if ok {
				up = f.startLocked(ctx)
			}
			f.mu.Unlock()
			if ok {
				f.runUpload(up)
			}
			cancel()
			if m.ctx.Err() != nil {
				return
			}
		}
	}
}

// retryLater holds back the background upload of key after its attempts-th
// failure, doubling the wait each time up to RetryMax.
func (m *Manager) retryLater(key string, attempts int) {
	delay := m.opts.RetryBase << min(attempts, 16)
	if delay > m.opts.RetryMax || delay <= 0 {
		delay = m.opts.RetryMax
	}
	m.mu.Lock()
	m.next[key] = time.Now().Add(delay)
	m.mu.Unlock()
}

// retryNow clears the hold on key.
func (m *Manager) retryNow(key string) {
	m.mu.Lock()
	delete(m.next, key)
	m.mu.Unlock()
}

// due lists files whose snapshot should be uploaded now.
func (m *Manager) due() []*File {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	var out []*File
	for key, f := range m.files {
		if now.Before(m.next[key]) {
			continue
		}
		f.mu.Lock()
		ready := f.up == nil && f.paused == 0 && !f.discarded && f.rec.Snapshot != 0 &&
			(f.rec.State == Pending || f.rec.State == Failed) && retriable(f.lastKind)
		f.mu.Unlock()
		if ready {
			out = append(out, f)
		}
	}
	return out
}

// retriable reports whether an upload that failed with kind may succeed
// if simply tried again. Others wait for the user (rename, permissions).
func retriable(k remote.Kind) bool {
	switch k {
	case remote.Invalid, remote.Permission, remote.Exists, remote.Unsupported, remote.NameTooLong:
		return false
	}
	return true
}

// forget drops f, which has been retired, from the manager.
func (m *Manager) forget(f *File) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f.mu.Lock()
	rec := f.rec
	f.mu.Unlock()
	if m.files[rec.Key] == f {
		delete(m.files, rec.Key)
		delete(m.next, rec.Key)
	}
	m.unindexLocked(f, rec, rec.Item)
}

// writeRoom runs write, a write to the staging disk; if the disk is full it
// asks the block cache to give room back and tries once more.
func (m *Manager) writeRoom(write func() error) error {
	err := write()
	if err == nil {
		return nil
	}
	if e := localErr("writeback.write", err); remote.KindOf(e) == remote.NoSpace && m.opts.MakeRoom != nil {
		if m.opts.MakeRoom(minRoom) > 0 {
			err = write()
		}
	}
	return localErr("writeback.write", err)
}

// minRoom is how much the block cache is asked to free when staging finds
// the disk full: more than one write, so a long copy does not ask per write.
const minRoom = 64 << 20

// copyFile copies src to dst (a snapshot, or a live copy made from one) in
// the kernel where it can (copy_file_range, reflinks on filesystems that
// have them), through a temporary file so a crash never leaves half a copy
// under dst's name.
func (m *Manager) copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return localErr("writeback.copy", err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(m.dir, ".copy-*")
	if err != nil {
		return localErr("writeback.copy", err)
	}
	err = m.writeRoom(func() error {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if err := tmp.Truncate(0); err != nil {
			return err
		}
		if _, err := in.Seek(0, io.SeekStart); err != nil {
			return err
		}
		_, err := io.Copy(tmp, in) // uses copy_file_range between files
		return err
	})
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return localErr("writeback.copy", err)
	}
	return nil
}

func newKey() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

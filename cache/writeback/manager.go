package writeback

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// UploadFunc sends staged content to the account's service.
type UploadFunc func(ctx context.Context, account string, req remote.UploadRequest) (remote.Entry, error)

// CommitFunc is told about every committed upload while the staged data
// is still on disk, so callers can seed caches and listings without
// downloading the bytes again.
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
	// Async makes Flush return once the content is durable on local disk;
	// the upload then runs in the background. The default is synchronous:
	// Flush returns only after the service committed the content.
	Async bool
	// RetryBase and RetryMax shape the backoff of background retries.
	RetryBase, RetryMax time.Duration
	Logger              *slog.Logger
}

// Manager owns the staging directory and the background uploader.
//
// Lock order: File.upMu, then File.ioMu, then Manager.mu, then File.mu.
// No lock is held while calling Upload except upMu and ioMu (shared).
type Manager struct {
	dir  string
	opts Options
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}
	wg     sync.WaitGroup

	mu sync.Mutex // protects the fields below
	// files holds every staged file by key, live or waiting for upload.
	files map[string]*File
	// byFolder indexes the files that are not discarded by account and
	// parent folder, then remote name, for Find and Staged.
	byFolder map[folderKey]map[string]*File
	// next is when a failed record may be tried again.
	next map[string]time.Time
}

// New opens (or creates) the staging directory and starts the background
// uploader, which at once retries every record a previous run left behind.
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
		byFolder: map[folderKey]map[string]*File{},
	}
	recs, errs := m.loadRecords()
	for _, err := range errs {
		log.Error("staged upload cannot be read; its data is kept in the staging directory", "dir", m.dir, "err", err)
	}
	for _, r := range recs {
		// Whatever state the last run died in, the bytes on disk are all we
		// have: upload them again.
		r.State = Pending
		f := &File{m: m, rec: r}
		m.files[r.Key] = f
		m.indexLocked(f, r)
		log.Info("resuming staged upload", "account", r.Account, "name", r.Name, "size", r.Size, "attempts", r.Attempts)
	}
	m.removeOrphans()
	m.wg.Add(1)
	go m.retryLoop()
	m.kick()
	return m, nil
}

// Close stops background uploads. Staged files stay on disk and are
// resumed by the next New.
func (m *Manager) Close() error {
	m.cancel()
	m.wg.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range m.files {
		f.closeData()
	}
	return nil
}

// Create stages a new, empty, clean file named name in parent. existing is the
// remote file it will replace (empty for a new file) and base the version
// the content starts from, if any. The caller holds the one reference;
// MarkDirty makes even an empty file reach the service.
func (m *Manager) Create(account string, parent remote.ID, name string, existing remote.ID, base string) (*File, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	data, err := os.OpenFile(m.dataPath(key), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, noSpace(err)
	}
	// No record yet: one is written with the first change, so a file
	// opened for writing and closed untouched leaves nothing to upload.
	f := &File{m: m, data: data, refs: 1, rec: Record{
		Key: key, Account: account, Parent: parent, Name: name, Existing: existing, BaseVersion: base, State: Open,
	}}
	m.mu.Lock()
	m.files[key] = f
	m.indexLocked(f, f.rec)
	m.mu.Unlock()
	return f, nil
}

// Find returns the staged file currently named name in parent, so a
// second open of the same path shares the first one's staged copy.
// The caller must TryAcquire it.
func (m *Manager) Find(account string, parent remote.ID, name string) *File {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byFolder[folderKey{account, parent}][name]
}

// Staged returns the staged files whose content is destined for folder
// parent, so listings can show files that are not uploaded yet.
func (m *Manager) Staged(account string, parent remote.ID) []*File {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := m.byFolder[folderKey{account, parent}]
	out := make([]*File, 0, len(names))
	for _, f := range names {
		out = append(out, f)
	}
	return out
}

// folderKey names a remote folder of an account.
type folderKey struct {
	account string
	parent  remote.ID
}

// indexLocked adds f, whose record is r, to byFolder. Called with m.mu held.
func (m *Manager) indexLocked(f *File, r Record) {
	k := folderKey{r.Account, r.Parent}
	if m.byFolder[k] == nil {
		m.byFolder[k] = map[string]*File{}
	}
	m.byFolder[k][r.Name] = f
}

// unindexLocked removes f, whose record is r, from byFolder. Called with
// m.mu held.
func (m *Manager) unindexLocked(f *File, r Record) {
	k := folderKey{r.Account, r.Parent}
	if names := m.byFolder[k]; names[r.Name] == f {
		delete(names, r.Name)
		if len(names) == 0 {
			delete(m.byFolder, k)
		}
	}
}

// Records returns a snapshot of every staged file, sorted by name, for
// `bimfs status` and for showing not-yet-uploaded files in listings.
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

// removeOrphans deletes data files that never got a record: they were
// opened for writing but not changed before the process died.
func (m *Manager) removeOrphans() {
	entries, err := os.ReadDir(m.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		key, ok := strings.CutSuffix(e.Name(), dataSuffix)
		if !ok {
			continue
		}
		if _, err := os.Stat(m.recordPath(key)); os.IsNotExist(err) {
			os.Remove(filepath.Join(m.dir, e.Name()))
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

// retryLoop uploads pending and failed files that no handle holds open.
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
			f.upload(ctx) // schedules its own retry on failure
			cancel()
			if m.ctx.Err() != nil {
				return
			}
		}
	}
}

// retryLater holds back the background upload of key after its attempts-th
// failure, doubling the wait each time up to RetryMax, whether the failed
// attempt was a close, an fsync or the uploader itself.
func (m *Manager) retryLater(key string, attempts int) {
	delay := m.opts.RetryBase << min(attempts, 16)
	if delay > m.opts.RetryMax || delay <= 0 {
		delay = m.opts.RetryMax
	}
	m.mu.Lock()
	m.next[key] = time.Now().Add(delay)
	m.mu.Unlock()
}

// retryNow clears the hold on key after a successful upload.
func (m *Manager) retryNow(key string) {
	m.mu.Lock()
	delete(m.next, key)
	m.mu.Unlock()
}

// due lists files whose background upload should run now.
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
		ready := f.refs == 0 && !f.discarded && (f.rec.State == Pending || f.rec.State == Failed) && retriable(f.lastKind)
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
	case remote.Invalid, remote.Permission, remote.Exists, remote.Unsupported:
		return false
	}
	return true
}

// forget drops f, which has been retired, from the manager.
func (m *Manager) forget(f *File) {
	rec := f.Record()
	m.mu.Lock()
	if m.files[rec.Key] == f {
		delete(m.files, rec.Key)
		delete(m.next, rec.Key)
	}
	m.unindexLocked(f, rec)
	m.mu.Unlock()
}

func newKey() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// noSpace turns a full disk into the remote.NoSpace kind (ENOSPC).
func noSpace(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return &remote.Error{Kind: remote.NoSpace, Op: "writeback.stage", Message: "staging disk is full", Err: err}
	}
	return err
}

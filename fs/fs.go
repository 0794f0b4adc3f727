package fs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/bimfs/bimfs/cache"
	"github.com/bimfs/bimfs/cache/state"
	"github.com/bimfs/bimfs/cache/writeback"
	"github.com/bimfs/bimfs/remote"
)

// Account is one backend shown as a directory of the root.
type Account struct {
	// Name is the directory name; it must be a valid, unique file name.
	Name    string
	Backend remote.Backend
	// Identity names the account's service, server and tenant (for example
	// "bim360 https://developer.api.autodesk.com client-id"). Cached bytes
	// are keyed by it as well as by version ID, so two servers or accounts
	// whose IDs coincide never share cache entries. Empty means the name.
	Identity string
}

// DefaultMetadataTTL is how long a folder listing is reused before a
// lookup or open lists the folder again. Thirty seconds bounds how stale a
// file can be when opened while a shell loop over a folder costs one List
// per folder per half minute.
const DefaultMetadataTTL = 30 * time.Second

// Options configures the filesystem core. The zero value of every field
// means its default.
type Options struct {
	// MetadataTTL is how old a folder listing may be before a lookup or an
	// open lists the folder again. Zero means DefaultMetadataTTL; a
	// negative value revalidates on every lookup and open.
	MetadataTTL time.Duration
	// Cache holds file contents. Required.
	Cache *cache.Cache
	// Logger receives failures (once each). Nil discards.
	Logger *slog.Logger
	// StagingDir holds written files until the service has them and the
	// journal that resumes their upload after a restart. Required for
	// writing: without it every account is read-only.
	StagingDir string
	// AsyncWriteback makes close and fsync return once written data is
	// durable in the staging directory; the upload then runs in the
	// background. By default they wait for the service.
	AsyncWriteback bool
	// StatePath is the file that keeps, across restarts, the modification
	// times users set and the inode numbers of files created here (see
	// cache/state). Empty keeps them in memory for the life of the FS.
	StatePath string
	// UploadRetry is the delay before the first background retry of a
	// failed upload; later retries back off exponentially. Zero means
	// writeback.DefaultRetryBase.
	UploadRetry time.Duration
}

// FS is the filesystem core: accounts, folders, files, handles and staged
// files, free of any kernel or network protocol. Front ends (FUSE, WebDAV)
// translate their calls into its methods and its errors into theirs.
type FS struct {
	opts     Options
	log      *slog.Logger
	cache    *cache.Cache
	started  time.Time // shown as the time of objects without one
	accounts []*account
	root     *Dir
	// wb stages written files; nil when no account is writable.
	wb *writeback.Manager
	// state keeps user-set times and created files' inode numbers.
	state *state.Store

	// mu protects the following.
	mu       sync.Mutex
	notifier Notifier
	cancel   context.CancelFunc // stops change watchers
	closed   bool
}

// Notifier is told when something a front end may have cached changed:
// the name name in dir, or a file's attributes and content. Calls come
// from background goroutines and from request handlers; implementations
// must not block (FUSE queues kernel notifications).
type Notifier interface {
	EntryChanged(dir *Dir, name string)
	FileChanged(f *File)
}

// New builds the core for accounts, resumes staged uploads a previous run
// left, and starts watching backends that report changes.
func New(accounts []Account, opts Options) (*FS, error) {
	if opts.Cache == nil {
		return nil, errors.New("fs: Options.Cache is required")
	}
	if opts.MetadataTTL == 0 {
		opts.MetadataTTL = DefaultMetadataTTL
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	f := &FS{opts: opts, log: opts.Logger, cache: opts.Cache, started: time.Now(), state: state.Memory()}
	if opts.StatePath != "" {
		st, err := state.Open(opts.StatePath)
		if err != nil {
			return nil, err
		}
		f.state = st
	}
	f.root = &Dir{fsys: f, kind: rootDir}
	seen := map[string]bool{}
	for _, a := range accounts {
		if a.Name == "" || a.Name == "." || a.Name == ".." || strings.ContainsAny(a.Name, "/\x00") || len(a.Name) > maxNameLen {
			return nil, fmt.Errorf("fs: account name %q is not a valid file name", a.Name)
		}
		if seen[a.Name] {
			return nil, fmt.Errorf("fs: two accounts are called %q", a.Name)
		}
		if a.Backend == nil {
			return nil, fmt.Errorf("fs: account %q has no backend", a.Name)
		}
		seen[a.Name] = true
		f.accounts = append(f.accounts, newAccount(f, a))
	}
	if err := f.startWriteback(); err != nil {
		f.state.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	for _, a := range f.accounts {
		a.startWatching(ctx)
	}
	return f, nil
}

// Root is the directory that lists the accounts.
func (f *FS) Root() *Dir { return f.root }

// SetNotifier installs the front end's notifier.
func (f *FS) SetNotifier(n Notifier) {
	f.mu.Lock()
	f.notifier = n
	f.mu.Unlock()
}

func (f *FS) notifyEntry(d *Dir, name string) {
	f.mu.Lock()
	n := f.notifier
	f.mu.Unlock()
	if n != nil && d != nil {
		n.EntryChanged(d, name)
	}
}

func (f *FS) notifyFile(file *File) {
	f.mu.Lock()
	n := f.notifier
	f.mu.Unlock()
	if n != nil && file != nil {
		n.FileChanged(file)
	}
}

// Uploads lists every staged file (waiting, uploading, failed, recovered).
func (f *FS) Uploads() []writeback.Record {
	if f.wb == nil {
		return nil
	}
	return f.wb.Records()
}

// Close stops background work. Staged files stay in the staging
// directory for the next start. It is idempotent.
func (f *FS) Close() {
	f.mu.Lock()
	closed := f.closed
	f.closed = true
	f.mu.Unlock()
	if closed {
		return
	}
	f.cancel()
	if f.wb != nil {
		f.wb.Close()
	}
	if err := f.state.Close(); err != nil {
		f.log.Warn("closing the state store", "err", err)
	}
}

// account returns the account called name, or nil.
func (f *FS) account(name string) *account {
	for _, a := range f.accounts {
		if a.name == name {
			return a
		}
	}
	return nil
}

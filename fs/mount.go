// Package fs presents remote accounts as one FUSE filesystem.
//
// The tree is /<account>/<entries of the account's top folder>/…: the mount
// root lists the accounts, each account directory shows the backend's
// Root(), and every directory below is a remote.Backend listing, fetched
// through cache.Meta. Names are made valid and unique as described in
// names.go; inode numbers are hashes of (account, remote ID), see inode.go.
//
// Consistency: listings are reused for Options.MetadataTTL; a lookup or an
// open after that revalidates through one List of the parent folder, never a
// per-file call. An open file handle reads exactly one version for its whole
// life (see file.go for how the kernel page cache is kept honest).
//
// Writing. Accounts whose backend reports Features.Writable are writable
// when Options.StagingDir is set; every other account (and the mount root)
// answers calls that would change it with EROFS. Written bytes are staged
// on local disk by cache/writeback and uploaded when the file is closed
// (or fsynced), as a new version of the remote file; see write.go and
// stage.go for the details and for where the semantics differ from a local
// filesystem. In short:
//
//   - close(2) returns only after the service committed the content, or
//     with the error that prevented it (EIO for an unavailable service);
//     with Options.AsyncWriteback it returns once the content is durable
//     in the local journal. Either way the staged file is kept and retried
//     until it is uploaded, also across restarts, and it shows in listings
//     of its folder meanwhile. The extended attribute user.bimfs.upload
//     tells a file's upload state.
//   - Several handles of one file share one staged copy; a close while
//     another handle still has the file open for writing uploads nothing
//     (the last close does), fsync always uploads.
//   - A file edited here while someone changes it remotely is uploaded as
//     a new version on top of theirs (the service keeps both in its
//     history); a warning names both versions. Nothing is merged or lost.
//   - chmod, chown and utimes are accepted and ignored: files show 0644
//     (0444 when the service marks them read-only), folders 0755 (0555),
//     and the service's own modification time. Extended attributes other
//     than user.bimfs.upload do not exist (ENODATA; setting one: ENOTSUP).
//   - Entries the service marks ReadOnly (hubs, project roots, read-only
//     folders) refuse changes to themselves and to their direct children
//     with EACCES: the filesystem is writable, the user lacks permission.
//   - rename across accounts or between services' namespaces (two BIM 360
//     projects) fails with EXDEV, so mv copies and deletes instead;
//     RENAME_EXCHANGE is refused with EINVAL; hard links, symlinks and
//     special files are not supported (EPERM/ENOTSUP as the kernel maps).
//
// Lock order: fileNode.stageMu, then the writeback package's locks, then
// the leaf locks fileNode.mu, dirNode.mu and account.mu; no code holds a
// leaf lock while taking another or calling a backend.
package fs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/bimfs/bimfs/cache"
	"github.com/bimfs/bimfs/cache/writeback"
	"github.com/bimfs/bimfs/remote"
)

// Account is one backend shown as a directory of the mount root.
type Account struct {
	// Name is the directory name; it must be a valid, unique file name.
	Name    string
	Backend remote.Backend
}

// Defaults for zero Options fields.
const (
	// DefaultEntryTimeout, DefaultAttrTimeout and DefaultNegativeTimeout
	// are how long the kernel may reuse a name, attributes, or a failed
	// lookup without asking; one second is what libfuse uses and keeps
	// stat-heavy tools fast while a change becomes visible within a second
	// of the listing being refreshed.
	DefaultEntryTimeout    = time.Second
	DefaultAttrTimeout     = time.Second
	DefaultNegativeTimeout = time.Second
	// DefaultMetadataTTL is how long a folder listing is reused before a
	// lookup or open lists the folder again. Thirty seconds bounds how
	// stale a file can be when opened while a shell loop over a folder
	// costs one List per folder per half minute.
	DefaultMetadataTTL = 30 * time.Second
	// DefaultMaxWrite is the largest read or write request the kernel
	// sends; 1 MiB (the kernel's maximum) halves per-request overhead on
	// large sequential reads compared with 128 KiB.
	DefaultMaxWrite = 1 << 20
	// DefaultKernelReadAheadKB is the kernel read-ahead set on the mount's
	// backing device. A FUSE mount starts at 128 KiB; with 4 MiB several
	// 1 MiB reads are in flight, and warm sequential reads served from the
	// cache went from 1.1 to 1.65 GB/s (16 MiB was slower again; see
	// BenchmarkKernelReadAhead).
	DefaultKernelReadAheadKB = 4096
)

// Options configures the filesystem. The zero value of every field means
// its default.
type Options struct {
	// EntryTimeout, AttrTimeout and NegativeTimeout control kernel caching
	// of names, attributes and failed lookups. Zero means the default; a
	// negative value disables that cache.
	EntryTimeout, AttrTimeout, NegativeTimeout time.Duration
	// MetadataTTL is how old a folder listing may be before a lookup or an
	// open lists the folder again. Zero means DefaultMetadataTTL; a
	// negative value revalidates on every lookup and open.
	MetadataTTL time.Duration
	// Cache holds file contents. Required.
	Cache *cache.Cache
	// Logger receives failures (once each) and, with Debug, the FUSE
	// protocol trace at debug level. Nil discards.
	Logger *slog.Logger
	// Debug logs every FUSE request and reply.
	Debug bool
	// AllowOther lets users other than the mounting one use the mount.
	AllowOther bool
	// FSName is the source shown in mount tables; default "bimfs".
	FSName string
	// MaxWrite is the largest read/write request size. Zero means
	// DefaultMaxWrite.
	MaxWrite int
	// StagingDir holds written files until the service has them and the
	// journal that resumes their upload after a restart (the CLI uses
	// <cache dir>/staging). Required for writing: without it every
	// account is read-only.
	StagingDir string
	// AsyncWriteback makes close(2) return once written data is durable
	// in the staging directory; the upload then runs in the background.
	// By default close waits for the upload and reports its failure.
	AsyncWriteback bool
	// NoXattrs answers ENOSYS to extended-attribute requests, which makes
	// the kernel stop sending them: `ls -l` then costs no GETXATTR round
	// trip per file, at the price of the user.bimfs.upload attribute.
	NoXattrs bool
	// UploadRetry is the delay before the first background retry of a
	// failed upload; later retries back off exponentially. Zero means
	// writeback.DefaultRetryBase.
	UploadRetry time.Duration
	// KernelReadAheadKB is the kernel read-ahead window set on the mount
	// (root only). Zero means DefaultKernelReadAheadKB; negative leaves
	// the kernel's default.
	KernelReadAheadKB int
}

func (o Options) withDefaults() Options {
	dflt := func(d *time.Duration, v time.Duration) {
		switch {
		case *d == 0:
			*d = v
		case *d < 0:
			*d = 0
		}
	}
	dflt(&o.EntryTimeout, DefaultEntryTimeout)
	dflt(&o.AttrTimeout, DefaultAttrTimeout)
	dflt(&o.NegativeTimeout, DefaultNegativeTimeout)
	if o.MetadataTTL == 0 {
		o.MetadataTTL = DefaultMetadataTTL
	}
	// A negative MetadataTTL is passed on: cache.Meta then lists on
	// every call.
	if o.Logger == nil {
		o.Logger = discardLogger
	}
	if o.FSName == "" {
		o.FSName = "bimfs"
	}
	if o.MaxWrite <= 0 {
		o.MaxWrite = DefaultMaxWrite
	}
	if o.KernelReadAheadKB == 0 {
		o.KernelReadAheadKB = DefaultKernelReadAheadKB
	}
	return o
}

// FuseOptions returns the go-fuse options Mount uses for opts, for callers
// that mount the node from NewRoot themselves. The timeouts are always set
// explicitly: nil timeouts in non-nil go-fuse options would mean zero.
func FuseOptions(opts Options) *fusefs.Options {
	o := opts.withDefaults()
	entry, attr, negative := o.EntryTimeout, o.AttrTimeout, o.NegativeTimeout
	logger := slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug)
	return &fusefs.Options{
		EntryTimeout:    &entry,
		AttrTimeout:     &attr,
		NegativeTimeout: &negative,
		UID:             uint32(os.Getuid()),
		GID:             uint32(os.Getgid()),
		Logger:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
		MountOptions: fuse.MountOptions{
			AllowOther:   o.AllowOther,
			FsName:       o.FSName,
			Name:         "bimfs",
			MaxWrite:     o.MaxWrite,
			MaxReadAhead: o.MaxWrite,
			DirectMount:  true,
			// Reads are served from memory; splicing them through a
			// pipe only adds copies.
			DisableSplice: true,
			Debug:         o.Debug,
			Logger:        logger,
		},
	}
}

// filesystem is what every node shares.
type filesystem struct {
	opts     Options // with defaults applied
	log      *slog.Logger
	cache    *cache.Cache
	uid, gid uint32
	started  time.Time // shown as the time of objects without one
	accounts []*account
	// inodeMu serializes NewInode calls (see dirNode.newInode).
	inodeMu sync.Mutex
	// wb stages written files; nil when no account is writable.
	wb *writeback.Manager
	// notifyq feeds kernel notifications to the goroutine that sends
	// them, so no request handler ever waits for the kernel.
	notifyq    chan func()
	stopNotify context.CancelFunc
}

// account returns the account called name, or nil.
func (f *filesystem) account(name string) *account {
	for _, a := range f.accounts {
		if a.name == name {
			return a
		}
	}
	return nil
}

// NewRoot returns the mount root for accounts, to mount with go-fuse
// directly (see FuseOptions). Mount is the usual entry point.
func NewRoot(accounts []Account, opts Options) (fusefs.InodeEmbedder, error) {
	return newRoot(accounts, opts)
}

func newRoot(accounts []Account, opts Options) (*rootNode, error) {
	if opts.Cache == nil {
		return nil, errors.New("fs: Options.Cache is required")
	}
	o := opts.withDefaults()
	fsys := &filesystem{
		opts:    o,
		log:     o.Logger,
		cache:   o.Cache,
		uid:     uint32(os.Getuid()),
		gid:     uint32(os.Getgid()),
		started: time.Now(),
	}
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
		fsys.accounts = append(fsys.accounts, newAccount(fsys, a))
	}
	if err := fsys.startWriteback(); err != nil {
		return nil, err
	}
	fsys.startNotifier()
	return &rootNode{fsys: fsys}, nil
}

// Mounted is a mounted filesystem.
type Mounted struct {
	server *fuse.Server
	root   *rootNode
	once   sync.Once
}

// Mount mounts accounts on mountpoint and returns once the kernel serves
// requests. It mounts directly (mount(2)) when running as root and falls
// back to fusermount otherwise.
func Mount(mountpoint string, accounts []Account, opts Options) (*Mounted, error) {
	root, err := newRoot(accounts, opts)
	if err != nil {
		return nil, err
	}
	server, err := fusefs.Mount(mountpoint, root, FuseOptions(opts))
	if err != nil {
		root.stop()
		return nil, fmt.Errorf("fs: mount %s: %w", mountpoint, err)
	}
	root.fsys.raiseReadAhead(mountpoint)
	return &Mounted{server: server, root: root}, nil
}

// Unmount unmounts the filesystem and stops background work. It fails
// (and leaves the mount alone) while files on it are in use.
func (m *Mounted) Unmount() error {
	if err := m.server.Unmount(); err != nil {
		return err
	}
	m.once.Do(m.root.stop)
	return nil
}

// Wait blocks until the filesystem is unmounted, by Unmount or from outside
// (umount, fusermount -u).
func (m *Mounted) Wait() {
	m.server.Wait()
	m.once.Do(m.root.stop)
}

// Package fusefs serves the filesystem core (package fs) through FUSE with
// go-fuse. Its nodes only translate kernel calls into core calls and core
// errors into errnos (errno.go, one table); the one thing it decides itself
// is how the kernel's page cache and attribute caches are used (file.go).
package fusefs

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/bimfs/bimfs/fs"
)

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
	// DefaultMaxWrite is the largest read or write request the kernel
	// sends; 1 MiB (the kernel's maximum) halves per-request overhead on
	// large sequential reads compared with 128 KiB.
	DefaultMaxWrite = 1 << 20
	// DefaultKernelReadAheadKB is the kernel read-ahead set on the mount's
	// backing device. A FUSE mount starts at 128 KiB; with 4 MiB several
	// 1 MiB reads are in flight, and warm sequential reads served from the
	// cache went from 1.1 to 1.65 GB/s (16 MiB was slower again).
	DefaultKernelReadAheadKB = 4096
)

// Options configures a mount: the core's options plus the kernel's.
type Options struct {
	fs.Options
	// EntryTimeout, AttrTimeout and NegativeTimeout control kernel caching
	// of names, attributes and failed lookups. Zero means the default; a
	// negative value disables that cache.
	EntryTimeout, AttrTimeout, NegativeTimeout time.Duration
	// Debug logs every FUSE request and reply at debug level.
	Debug bool
	// AllowOther lets users other than the mounting one use the mount.
	AllowOther bool
	// FSName is the source shown in mount tables; default "bimfs".
	FSName string
	// MaxWrite is the largest read/write request size. Zero means
	// DefaultMaxWrite.
	MaxWrite int
	// NoXattrs answers ENOSYS to extended-attribute requests, which makes
	// the kernel stop sending them: `ls -l` then costs no GETXATTR round
	// trip per file, at the price of the user.bimfs.upload attribute.
	NoXattrs bool
	// KernelReadAheadKB is the kernel read-ahead window set on the mount
	// (root only). Zero means DefaultKernelReadAheadKB; negative leaves
	// the kernel's default.
	KernelReadAheadKB int
	// UID and GID own every file and folder shown; nil means the mounting
	// user's and group.
	UID, GID *uint32
	// Umask clears permission bits from the modes shown: files start from
	// 0666, folders from 0777. Nil keeps 0644 and 0755. Entries that cannot
	// be written lose their write bits either way.
	Umask *uint32
	// DefaultPermissions makes the kernel check the shown owner and modes
	// for every access. With AllowOther it is what keeps other local users
	// out of what the modes do not grant them.
	DefaultPermissions bool
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
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
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

// goFuseOptions returns the go-fuse options for o (with defaults). The
// timeouts are always set explicitly: nil timeouts in non-nil go-fuse
// options would mean zero.
func goFuseOptions(o Options) *gofs.Options {
	entry, attr, negative := o.EntryTimeout, o.AttrTimeout, o.NegativeTimeout
	return &gofs.Options{
		EntryTimeout:    &entry,
		AttrTimeout:     &attr,
		NegativeTimeout: &negative,
		UID:             uint32(os.Getuid()),
		GID:             uint32(os.Getgid()),
		Logger:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
		MountOptions: fuse.MountOptions{
			Options:      kernelOptions(o),
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
			Logger:        slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
		},
	}
}

// kernelOptions are the mount options passed to the kernel as they are.
func kernelOptions(o Options) []string {
	if o.DefaultPermissions {
		return []string{"default_permissions"}
	}
	return nil
}

// Mounted is a mounted filesystem.
type Mounted struct {
	server *fuse.Server
	core   *fs.FS
	bridge *bridge
	owned  bool // the core was made by Mount and is closed with it
	once   sync.Once
}

// Mount builds the core for accounts and mounts it on mountpoint. It
// returns once the kernel serves requests; it mounts directly (mount(2))
// when running as root and falls back to fusermount otherwise.
func Mount(mountpoint string, accounts []fs.Account, opts Options) (*Mounted, error) {
	o := opts.withDefaults()
	core, err := fs.New(accounts, o.Options)
	if err != nil {
		return nil, err
	}
	m, err := MountFS(mountpoint, core, opts)
	if err != nil {
		core.Close()
		return nil, err
	}
	m.owned = true
	return m, nil
}

// MountFS mounts an existing core (which another front end may serve as
// well) on mountpoint. The core stays open when the mount ends.
func MountFS(mountpoint string, core *fs.FS, opts Options) (*Mounted, error) {
	o := opts.withDefaults()
	b := newBridge(core, o)
	server, err := gofs.Mount(mountpoint, b.root, goFuseOptions(o))
	if err != nil {
		b.stop()
		return nil, fmt.Errorf("mount %s: %w", mountpoint, err)
	}
	raiseReadAhead(o, mountpoint)
	return &Mounted{server: server, core: core, bridge: b}, nil
}

// FS is the core the mount serves.
func (m *Mounted) FS() *fs.FS { return m.core }

// Unmount unmounts the filesystem and stops background work. It fails
// (and leaves the mount alone) while files on it are in use.
func (m *Mounted) Unmount() error {
	if err := m.server.Unmount(); err != nil {
		return err
	}
	m.once.Do(m.stop)
	return nil
}

// Wait blocks until the filesystem is unmounted, by Unmount or from outside
// (umount, fusermount -u).
func (m *Mounted) Wait() {
	m.server.Wait()
	m.once.Do(m.stop)
}

func (m *Mounted) stop() {
	m.bridge.stop()
	if m.owned {
		m.core.Close()
	}
}

// raiseReadAhead sets the kernel read-ahead of the mount's backing device
// (the FUSE connection's bdi, named by the mount's device number). Only
// root may; failure only costs speed.
func raiseReadAhead(o Options, mountpoint string) {
	kb := o.KernelReadAheadKB
	if kb < 0 {
		return
	}
	var st syscall.Stat_t
	if err := syscall.Stat(mountpoint, &st); err != nil {
		o.Logger.Debug("kernel read-ahead unchanged", "err", err)
		return
	}
	p := filepath.Join("/sys/class/bdi", fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev)), "read_ahead_kb")
	if err := os.WriteFile(p, []byte(fmt.Sprintf("%d\n", kb)), 0); err != nil {
		o.Logger.Debug("kernel read-ahead unchanged", "path", p, "err", err)
		return
	}
	o.Logger.Debug("kernel read-ahead set", "path", p, "kb", kb)
}

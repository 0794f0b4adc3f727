package fusefs

import (
	"context"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/bimfs/bimfs/fs"
)

// notifyQueue bounds kernel notifications waiting to be sent. When it is
// full a notification is dropped: the kernel's own attribute and entry
// timeouts then bound how long it shows the old state.
const notifyQueue = 1024

// bridge joins the core and go-fuse: one go-fuse node per core node, and
// the goroutine that sends kernel notifications.
type bridge struct {
	core *fs.FS
	opts Options
	root *dirNode

	// inodeMu serializes NewInode calls: go-fuse initialises a node's
	// Inode without a lock, and two lookups (a READDIRPLUS and a LOOKUP)
	// may return the same node at once.
	inodeMu sync.Mutex

	// mu protects nodes: the go-fuse node of each core node the kernel
	// knows. Nodes leave it when the kernel forgets them.
	mu    sync.Mutex
	nodes map[fs.Node]gofs.InodeEmbedder

	notifyq    chan func()
	stopNotify context.CancelFunc
	// uid and gid own everything shown.
	uid, gid uint32
}

func newBridge(core *fs.FS, o Options) *bridge {
	b := &bridge{core: core, opts: o, nodes: map[fs.Node]gofs.InodeEmbedder{}, notifyq: make(chan func(), notifyQueue),
		uid: uint32(syscall.Getuid()), gid: uint32(syscall.Getgid())}
	if o.UID != nil {
		b.uid = *o.UID
	}
	if o.GID != nil {
		b.gid = *o.GID
	}
	b.root = &dirNode{b: b, d: core.Root()}
	b.nodes[core.Root()] = b.root
	ctx, cancel := context.WithCancel(context.Background())
	b.stopNotify = cancel
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case fn := <-b.notifyq:
				fn()
			}
		}
	}()
	core.SetNotifier(b)
	return b
}

func (b *bridge) stop() {
	b.core.SetNotifier(nil)
	b.stopNotify()
}

// node returns the go-fuse node of core node n, making one if the kernel
// does not know n yet.
func (b *bridge) node(n fs.Node) gofs.InodeEmbedder {
	b.mu.Lock()
	defer b.mu.Unlock()
	if g, ok := b.nodes[n]; ok {
		return g
	}
	var g gofs.InodeEmbedder
	switch n := n.(type) {
	case *fs.Dir:
		g = &dirNode{b: b, d: n}
	case *fs.File:
		g = &fileNode{b: b, f: n}
	default:
		g = b.historyNode(n)
	}
	b.nodes[n] = g
	return g
}

// known returns the go-fuse node of n if the kernel has been given it.
func (b *bridge) known(n fs.Node) gofs.InodeEmbedder {
	b.mu.Lock()
	g := b.nodes[n]
	b.mu.Unlock()
	if g == nil {
		return nil
	}
	b.inodeMu.Lock()
	defer b.inodeMu.Unlock()
	if g.EmbeddedInode().StableAttr().Ino == 0 {
		return nil
	}
	return g
}

// forget drops the go-fuse node of n once the kernel forgot it.
func (b *bridge) forget(n fs.Node, g gofs.InodeEmbedder) {
	b.mu.Lock()
	if b.nodes[n] == g {
		delete(b.nodes, n)
	}
	b.mu.Unlock()
	if n, ok := n.(interface{ Forget() }); ok {
		n.Forget()
	}
}

// inode returns the kernel inode for core node n, child of parent, and
// fills out with its attributes.
func (b *bridge) inode(ctx context.Context, parent *gofs.Inode, n fs.Node, out *fuse.EntryOut) *gofs.Inode {
	g := b.node(n)
	mode := uint32(syscall.S_IFREG)
	switch g := g.(type) {
	case *dirNode:
		mode = syscall.S_IFDIR
		b.fillAttr(&out.Attr, g.d.Attr())
	case *fileNode:
		g.report(&out.Attr)
	default:
		a := n.Attr()
		if a.Dir {
			mode = syscall.S_IFDIR
		}
		b.fillAttr(&out.Attr, a)
	}
	b.inodeMu.Lock()
	defer b.inodeMu.Unlock()
	return parent.NewInode(ctx, g, gofs.StableAttr{Mode: mode, Ino: n.Attr().Ino, Gen: 1})
}

// notify queues fn, which sends kernel notifications: the kernel may hold
// locks a notification sent from inside a request would wait for.
func (b *bridge) notify(fn func()) {
	select {
	case b.notifyq <- fn:
	default:
		b.opts.Logger.Debug("kernel notification queue full; relying on cache timeouts")
	}
}

// EntryChanged implements fs.Notifier: the kernel forgets name in dir.
func (b *bridge) EntryChanged(dir *fs.Dir, name string) {
	b.notify(func() {
		if g := b.known(dir); g != nil {
			g.EmbeddedInode().NotifyEntry(name)
		}
	})
}

// FileChanged implements fs.Notifier: the kernel drops the file's
// attributes and cached pages.
func (b *bridge) FileChanged(f *fs.File) {
	b.notify(func() {
		if g := b.known(f); g != nil {
			g.EmbeddedInode().NotifyContent(0, 0)
		}
	})
}

// Permission bits. They only inform: the core itself refuses what the
// service would (EROFS for read-only accounts, EACCES for entries the
// service marks read-only).
const (
	dirMode    = syscall.S_IFDIR | 0o755
	roDirMode  = syscall.S_IFDIR | 0o555
	fileMode   = syscall.S_IFREG | 0o644
	roFileMode = syscall.S_IFREG | 0o444
	// blockSize is the I/O size reported in st_blksize; tools such as cp
	// size their buffers from it.
	blockSize = 1 << 20
)

// fillAttr turns core attributes into kernel ones.
func (b *bridge) fillAttr(out *fuse.Attr, a fs.Attr) {
	size := uint64(max(a.Size, 0))
	mode := uint32(roFileMode)
	switch {
	case a.Dir && a.Protected:
		mode = roDirMode
	case a.Dir:
		mode = dirMode
	case a.Writable:
		mode = fileMode
	}
	if a.Dir {
		size = 4096
	}
	if m := b.opts.Umask; m != nil {
		perm := uint32(0o666)
		if a.Dir {
			perm = 0o777
		}
		if mode&0o200 == 0 { // not writable: keep it so
			perm &^= 0o222
		}
		mode = mode&syscall.S_IFMT | perm&^*m
	}
	*out = fuse.Attr{Ino: a.Ino, Mode: mode, Nlink: a.Nlink, Size: size, Blocks: (size + 511) / 512, Blksize: blockSize}
	out.SetTimes(&a.ModTime, &a.ModTime, &a.ModTime)
	out.Uid, out.Gid = b.uid, b.gid
}

package fs

import (
	"context"
	"sort"
	"sync"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// rootNode is the mount root: one directory per account.
type rootNode struct {
	fusefs.Inode
	readOnlyDir
	fsys *filesystem

	// mu protects the following.
	mu      sync.Mutex
	cancel  context.CancelFunc // stops change watchers; nil before OnAdd
	stopped bool
}

var (
	_ fusefs.NodeOnAdder     = (*rootNode)(nil)
	_ fusefs.NodeOnForgetter = (*rootNode)(nil)
	_ fusefs.NodeGetattrer   = (*rootNode)(nil)
	_ fusefs.NodeReaddirer   = (*rootNode)(nil)
	_ fusefs.NodeStatfser    = (*rootNode)(nil)
	_ fusefs.NodeGetxattrer  = (*rootNode)(nil)
	_ fusefs.NodeListxattrer = (*rootNode)(nil)
)

// OnAdd builds the account directories, which live as long as the mount,
// and starts watching backends that report changes.
func (r *rootNode) OnAdd(ctx context.Context) {
	for _, a := range r.fsys.accounts {
		ch := r.NewPersistentInode(ctx, a.top, fusefs.StableAttr{Mode: syscall.S_IFDIR, Ino: accountIno(a.name), Gen: inoGen})
		r.AddChild(a.name, ch, false)
	}
	wctx, cancel := context.WithCancel(context.Background())
	r.mu.Lock()
	r.cancel = cancel
	r.mu.Unlock()
	for _, a := range r.fsys.accounts {
		a.startWatching(wctx)
	}
}

// OnForget is called for the root at unmount.
func (r *rootNode) OnForget() { r.stop() }

// stop ends background work. It is idempotent.
func (r *rootNode) stop() {
	r.mu.Lock()
	if r.cancel != nil {
		r.cancel()
	}
	stopped := r.stopped
	r.stopped = true
	r.mu.Unlock()
	if !stopped {
		r.fsys.close()
	}
}

// Getattr implements fusefs.NodeGetattrer.
func (r *rootNode) Getattr(ctx context.Context, f fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	r.fsys.fillDir(&out.Attr, rootIno, r.fsys.started, false)
	out.Nlink = uint32(2 + len(r.fsys.accounts))
	return 0
}

// Readdir lists the accounts sorted by name.
func (r *rootNode) Readdir(ctx context.Context) (fusefs.DirStream, syscall.Errno) {
	var accounts []fuse.DirEntry
	for _, a := range r.fsys.accounts {
		accounts = append(accounts, fuse.DirEntry{Name: a.name, Ino: accountIno(a.name), Mode: syscall.S_IFDIR})
	}
	sort.Slice(accounts, func(i, j int) bool { return accounts[i].Name < accounts[j].Name })
	return fusefs.NewListDirStream(append(dotEntries(&r.Inode, len(accounts)), accounts...)), 0
}

// Statfs implements fusefs.NodeStatfser.
func (r *rootNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	fillStatfs(out)
	return 0
}

// Getxattr implements fusefs.NodeGetxattrer: the root has none.
func (r *rootNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return 0, syscall.ENODATA
}

// Listxattr implements fusefs.NodeListxattrer: the root has none.
func (r *rootNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return 0, 0
}

// Capacity reported by statfs. Services do not report a quota cheaply, so
// the mount shows a large, constant, mostly free volume (as other cloud
// filesystems do): df stays readable and tools that check free space
// before copying do not refuse.
const (
	statfsBlockSize = 4096
	statfsBlocks    = 1 << 38 // 1 PiB in 4 KiB blocks
	statfsFiles     = 1 << 32
)

func fillStatfs(out *fuse.StatfsOut) {
	*out = fuse.StatfsOut{
		Blocks:  statfsBlocks,
		Bfree:   statfsBlocks,
		Bavail:  statfsBlocks,
		Files:   statfsFiles,
		Ffree:   statfsFiles,
		Bsize:   statfsBlockSize,
		NameLen: maxNameLen,
		Frsize:  statfsBlockSize,
	}
}

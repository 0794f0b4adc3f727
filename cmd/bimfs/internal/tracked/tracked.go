// Package tracked wraps a remote.Backend for the command line: it can hide
// the backend's write methods (a read-only mount), and it remembers the
// folders it has seen listed so upload records, which name only a parent
// folder ID, can be shown with their folder path.
package tracked

import (
	"context"
	"io"
	"strings"
	"sync"

	"github.com/bimfs/bimfs/remote"
)

// Paths maps folder IDs to paths below an account's root, learnt from the
// listings that pass through the wrapped backends. Only folders are kept,
// so its size follows the number of folders visited, not of files.
type Paths struct {
	mu     sync.Mutex
	folder map[string]node // key: account + "\x00" + ID
}

type node struct {
	parent remote.ID
	name   string
}

// NewPaths returns an empty index.
func NewPaths() *Paths { return &Paths{folder: map[string]node{}} }

func key(account string, id remote.ID) string { return account + "\x00" + string(id) }

func (p *Paths) remember(account string, parent remote.ID, e remote.Entry) {
	if !e.Dir {
		return
	}
	p.mu.Lock()
	p.folder[key(account, e.ID)] = node{parent: parent, name: e.Name}
	p.mu.Unlock()
}

func (p *Paths) root(account string, id remote.ID) {
	p.mu.Lock()
	p.folder[key(account, id)] = node{}
	p.mu.Unlock()
}

// Folder returns the path of folder id of account, "/" separated and
// starting with the account name, or "" when the folder was never listed.
func (p *Paths) Folder(account string, id remote.ID) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var parts []string
	for i := 0; i < 256; i++ { // bounded: a cycle would be a service bug
		n, ok := p.folder[key(account, id)]
		if !ok {
			return ""
		}
		if n.parent == "" && n.name == "" {
			parts = append(parts, account)
			for l, r := 0, len(parts)-1; l < r; l, r = l+1, r-1 {
				parts[l], parts[r] = parts[r], parts[l]
			}
			return strings.Join(parts, "/")
		}
		parts = append(parts, strings.ReplaceAll(n.name, "/", "%2F"))
		id = n.parent
	}
	return ""
}

// Wrap returns b as the filesystem should see it: without remote.Writer
// when readOnly (Features.Writable false, so every write answers EROFS),
// with remote.Watcher kept when b has it, and recording folders in paths
// (nil: not recorded).
func Wrap(account string, b remote.Backend, paths *Paths, readOnly bool) remote.Backend {
	base := &backend{b: b, account: account, paths: paths, readOnly: readOnly}
	w, writable := b.(remote.Writer)
	writable = writable && !readOnly
	watcher, watches := b.(remote.Watcher)
	switch {
	case writable && watches:
		return &writerWatcher{writer{base, w}, watcher}
	case writable:
		return &writer{base, w}
	case watches:
		return &watching{base, watcher}
	}
	return base
}

// backend is the read side of the wrapper.
type backend struct {
	b        remote.Backend
	account  string
	paths    *Paths
	readOnly bool
}

func (b *backend) Root(ctx context.Context) (remote.Entry, error) {
	e, err := b.b.Root(ctx)
	if err == nil && b.paths != nil {
		b.paths.root(b.account, e.ID)
	}
	return e, err
}

func (b *backend) List(ctx context.Context, dir remote.ID) ([]remote.Entry, error) {
	es, err := b.b.List(ctx, dir)
	if err == nil && b.paths != nil {
		for _, e := range es {
			b.paths.remember(b.account, dir, e)
		}
	}
	return es, err
}

func (b *backend) Stat(ctx context.Context, id remote.ID) (remote.Entry, error) {
	return b.b.Stat(ctx, id)
}

func (b *backend) ReadRange(ctx context.Context, id remote.ID, v remote.Version, off, length int64) (io.ReadCloser, error) {
	return b.b.ReadRange(ctx, id, v, off, length)
}

func (b *backend) Features() remote.Features {
	f := b.b.Features()
	if b.readOnly {
		f.Writable = false
	}
	return f
}

func (b *backend) Close() error { return b.b.Close() }

// writer adds the write methods, recording new and moved folders.
type writer struct {
	*backend
	w remote.Writer
}

func (w *writer) Mkdir(ctx context.Context, parent remote.ID, name string) (remote.Entry, error) {
	e, err := w.w.Mkdir(ctx, parent, name)
	if err == nil && w.paths != nil {
		w.paths.remember(w.account, parent, e)
	}
	return e, err
}

func (w *writer) Upload(ctx context.Context, req remote.UploadRequest) (remote.Entry, error) {
	return w.w.Upload(ctx, req)
}

func (w *writer) Rename(ctx context.Context, id, newParent remote.ID, newName string, replace remote.ID) (remote.Entry, error) {
	e, err := w.w.Rename(ctx, id, newParent, newName, replace)
	if err == nil && w.paths != nil {
		w.paths.remember(w.account, newParent, e)
	}
	return e, err
}

func (w *writer) Remove(ctx context.Context, id remote.ID) error { return w.w.Remove(ctx, id) }

func (w *writer) SameSpace(a, b remote.ID) bool { return w.w.SameSpace(a, b) }

// Stamp passes folder stamps through (remote.Stamper), so unchanged
// folders are revalidated with one call.
func (b *backend) Stamp(ctx context.Context, dir remote.ID) (string, error) {
	if s, ok := b.b.(remote.Stamper); ok {
		return s.Stamp(ctx, dir)
	}
	return "", remote.Errorf(remote.Unsupported, "tracked.Stamp", "the service cannot stamp folders")
}

var _ remote.Stamper = (*backend)(nil)

// History passes a file's version history through (remote.Historian); a
// service without one lists the current version only.
func (b *backend) History(ctx context.Context, id remote.ID) ([]remote.VersionInfo, error) {
	if h, ok := b.b.(remote.Historian); ok {
		return h.History(ctx, id)
	}
	return nil, remote.Errorf(remote.Unsupported, "tracked.History", "the service keeps no history")
}

// Locate passes the service's own IDs through (remote.Locator).
func (b *backend) Locate(id remote.ID) (remote.Location, bool) {
	if l, ok := b.b.(remote.Locator); ok {
		return l.Locate(id)
	}
	return remote.Location{}, false
}

var (
	_ remote.Historian = (*backend)(nil)
	_ remote.Locator   = (*backend)(nil)
)

// CheckName passes the service's name rules through (remote.NameChecker),
// so names are still refused when they are given, not at close.
func (w *writer) CheckName(name string) error {
	if c, ok := w.w.(remote.NameChecker); ok {
		return c.CheckName(name)
	}
	return nil
}

var _ remote.NameChecker = (*writer)(nil)

type watching struct {
	*backend
	remote.Watcher
}

type writerWatcher struct {
	writer
	remote.Watcher
}

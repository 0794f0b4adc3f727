package fs

import (
	"context"
	"sort"

	"github.com/bimfs/bimfs/remote"
)

// Node is a *Dir or a *File.
type Node interface {
	Attr() Attr
	// Path is the node's path from the root, for log lines and errors.
	Path() string
}

type dirKind int

const (
	rootDir   dirKind = iota // lists the accounts
	topDir                   // an account's top folder (resolved on first use)
	folderDir                // any remote folder below
)

// Dir is a directory: the root, an account's top folder, or a folder.
type Dir struct {
	fsys *FS
	acct *account // nil for the root
	kind dirKind
	id   remote.ID // folderDir only; a top folder's ID is acct.topEntry.ID

	// Guarded by acct.mu (fixed for the root and top folders):
	entry  remote.Entry // as the parent's listing last showed it
	parent *Dir
	name   string
}

var (
	_ Node = (*Dir)(nil)
	_ Node = (*File)(nil)
)

// DirEntry is one name of a listing.
type DirEntry struct {
	Name string
	Ino  uint64
	Dir  bool
}

// IsRoot reports whether d is the root (which lists accounts).
func (d *Dir) IsRoot() bool { return d.kind == rootDir }

// Path is the directory's path from the root ("" for the root).
func (d *Dir) Path() string {
	if d.kind == rootDir {
		return ""
	}
	d.acct.mu.Lock()
	parent, name := d.parent, d.name
	d.acct.mu.Unlock()
	if parent == nil || parent.kind == rootDir {
		return name
	}
	return parent.Path() + "/" + name
}

// childPath is the path of child name, for log lines.
func (d *Dir) childPath(name string) string {
	if p := d.Path(); p != "" {
		return p + "/" + name
	}
	return name
}

// Ino is the directory's inode number.
func (d *Dir) Ino() uint64 {
	switch d.kind {
	case rootDir:
		return RootIno
	case topDir:
		return accountIno(d.acct.name)
	}
	return objectIno(d.acct.name, d.id)
}

// folder returns the remote ID of the folder and its entry.
func (d *Dir) folder(ctx context.Context) (remote.ID, remote.Entry, error) {
	if d.kind == topDir {
		e, err := d.acct.topFolder(ctx)
		return e.ID, e, err
	}
	d.acct.mu.Lock()
	defer d.acct.mu.Unlock()
	return d.id, d.entry, nil
}

// Attr answers from the entry the parent's listing gave; the link count
// counts subfolders when the folder's listing is at hand.
func (d *Dir) Attr() Attr {
	at := Attr{Ino: d.Ino(), Dir: true, Nlink: 2}
	switch d.kind {
	case rootDir:
		at.ModTime = d.fsys.started
		at.Nlink += uint32(len(d.fsys.accounts))
		return at
	case topDir:
		d.acct.mu.Lock()
		e := d.acct.topEntry
		d.acct.mu.Unlock()
		at.ModTime, at.Writable, at.Protected = e.ModTime, d.acct.writer != nil && !e.ReadOnly, d.acct.writer != nil && e.ReadOnly
		if t := d.acct.cachedListing(e.ID); e.ID != "" && t != nil {
			at.Nlink += uint32(t.dirs)
		}
	default:
		d.acct.mu.Lock()
		e := d.entry
		d.acct.mu.Unlock()
		at.ModTime, at.Writable, at.Protected = e.ModTime, d.acct.writer != nil && !e.ReadOnly, d.acct.writer != nil && e.ReadOnly
		if t := d.acct.cachedListing(d.id); t != nil {
			at.Nlink += uint32(t.dirs)
		}
	}
	if at.ModTime.IsZero() {
		at.ModTime = d.fsys.started
	}
	return at
}

// listing returns the folder's current table, revalidated per MetadataTTL.
func (d *Dir) listing(ctx context.Context, op string) (remote.ID, *dirTable, error) {
	id, _, err := d.folder(ctx)
	if err != nil {
		return "", nil, d.acct.fail(ctx, op, d.Path(), err)
	}
	t, err := d.acct.listing(ctx, id)
	if err != nil {
		return "", nil, d.acct.fail(ctx, op, d.Path(), err)
	}
	return id, t, nil
}

// Lookup finds child name, answering from the folder's listing: no
// per-file remote call.
func (d *Dir) Lookup(ctx context.Context, name string) (Node, error) {
	if len(name) > maxNameLen {
		return nil, nameTooLong("fs.lookup", name)
	}
	if d.kind == rootDir {
		if a := d.fsys.account(name); a != nil {
			return a.top, nil
		}
		return nil, errNotFound
	}
	_, t, err := d.listing(ctx, "lookup")
	if err != nil {
		return nil, err
	}
	e, ok := t.lookup(name)
	if !ok {
		if name == VersionsDirName {
			return d.versionsDir(), nil
		}
		return nil, errNotFound
	}
	return d.child(name, e), nil
}

// child returns the node of entry e, shown as name in the folder.
func (d *Dir) child(name string, e remote.Entry) Node {
	if e.Dir {
		return d.acct.dirNode(d, name, e)
	}
	return d.acct.fileNode(d, name, e)
}

// ReadDir lists the folder sorted by shown name (without "." and "..").
func (d *Dir) ReadDir(ctx context.Context) ([]DirEntry, error) {
	if d.kind == rootDir {
		out := make([]DirEntry, 0, len(d.fsys.accounts))
		for _, a := range d.fsys.accounts {
			out = append(out, DirEntry{Name: a.name, Ino: accountIno(a.name), Dir: true})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out, nil
	}
	_, t, err := d.listing(ctx, "readdir")
	if err != nil {
		return nil, err
	}
	out := make([]DirEntry, len(t.entries))
	d.acct.mu.Lock()
	for i, e := range t.entries {
		out[i] = DirEntry{Name: t.names[i], Ino: d.acct.inoLocked(e.ID), Dir: e.Dir}
	}
	d.acct.mu.Unlock()
	return out, nil
}

// Forget tells the core that the front end no longer holds the node.
func (d *Dir) Forget() {
	if d.kind == folderDir {
		d.acct.forget(d.id, d)
	}
}

// Parent is the directory holding d (nil for the root).
func (d *Dir) Parent() *Dir {
	if d.kind == rootDir {
		return nil
	}
	d.acct.mu.Lock()
	defer d.acct.mu.Unlock()
	return d.parent
}

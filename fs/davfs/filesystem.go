// Package davfs serves the filesystem core (package fs) over WebDAV with
// golang.org/x/net/webdav. Like fs/fusefs it only translates: WebDAV
// requests become core calls (FileSystem, File), core errors become HTTP
// statuses through one table (status.go), and the Handler adds what the
// protocol layer leaves open (handler.go): depth limits, content types
// without sniffing, and statuses that say why a request failed.
//
// golang.org/x/net/webdav is the Go project's own WebDAV server (RFC 4918
// class 1 and 2: multistatus XML, If headers, locks); the protocol is a
// solved problem, and this package only adapts the core to it.
package davfs

import (
	"context"
	"os"
	"path"
	"strings"

	"golang.org/x/net/webdav"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/remote"
)

// FileSystem is a webdav.FileSystem over the core. Names are slash-separated
// paths from the root, as the webdav package hands them over (cleaned,
// starting with "/").
//
// Errors. The webdav package chooses statuses from os errors alone
// (os.IsNotExist → 404 or 409, everything else a fixed status per method,
// often 405 or 500). FileSystem therefore returns *os.PathError values
// whose Err is os.ErrNotExist, os.ErrExist or os.ErrPermission where the
// core's error means that, so the protocol layer decides as it would for a
// disk; and it records the core's own error in the request (when the
// request went through Handler), which then answers with the status of
// the one table and a body that says why.
type FileSystem struct {
	core *fs.FS
}

var _ webdav.FileSystem = (*FileSystem)(nil)

// NewFileSystem returns the webdav.FileSystem of core.
func NewFileSystem(core *fs.FS) *FileSystem { return &FileSystem{core: core} }

// fail records err in the request and returns it as the os error the
// webdav package understands.
func fail(ctx context.Context, op, name string, err error) error {
	if st := stateOf(ctx); st != nil {
		st.record(err)
	}
	return &os.PathError{Op: op, Path: name, Err: osError(err)}
}

// osError is err as the os package would say it, where it says the same.
func osError(err error) error {
	switch {
	case remote.IsKind(err, remote.NotFound):
		return os.ErrNotExist
	case remote.IsKind(err, remote.Exists):
		return os.ErrExist
	case remote.IsKind(err, remote.Permission), remote.IsKind(err, remote.Unauthenticated):
		return os.ErrPermission
	}
	return err
}

// resolve finds the node at name.
func (s *FileSystem) resolve(ctx context.Context, op, name string) (fs.Node, error) {
	n, err := s.core.Resolve(ctx, name)
	if err != nil {
		return nil, fail(ctx, op, name, err)
	}
	return n, nil
}

// parent returns the folder that holds name and name's last element.
func (s *FileSystem) parent(ctx context.Context, op, name string) (*fs.Dir, string, error) {
	clean := path.Clean("/" + name)
	if clean == "/" {
		return nil, "", fail(ctx, op, name, fs.ErrReadOnlyFS) // the root has no parent to change
	}
	dir, base := path.Split(clean)
	n, err := s.resolve(ctx, op, dir)
	if err != nil {
		return nil, "", err
	}
	d, ok := n.(*fs.Dir)
	if !ok {
		return nil, "", fail(ctx, op, name, fs.ErrNotDir)
	}
	return d, base, nil
}

// Stat implements webdav.FileSystem.
func (s *FileSystem) Stat(ctx context.Context, name string) (os.FileInfo, error) {
	n, err := s.resolve(ctx, "stat", name)
	if err != nil {
		return nil, err
	}
	if f, ok := n.(*fs.File); ok {
		f.Refresh()
	}
	return newFileInfo(baseName(name), n.Attr()), nil
}

// Mkdir implements webdav.FileSystem (MKCOL).
func (s *FileSystem) Mkdir(ctx context.Context, name string, _ os.FileMode) error {
	d, base, err := s.parent(ctx, "mkdir", name)
	if err != nil {
		return err
	}
	if _, err := d.Mkdir(ctx, base); err != nil {
		return fail(ctx, "mkdir", name, err)
	}
	return nil
}

// OpenFile implements webdav.FileSystem. Only the access mode, O_CREATE,
// O_EXCL, O_TRUNC and O_APPEND matter; perm is ignored like chmod.
func (s *FileSystem) OpenFile(ctx context.Context, name string, flag int, _ os.FileMode) (webdav.File, error) {
	of := fs.OpenFlags{
		Write:  flag&(os.O_WRONLY|os.O_RDWR) != 0,
		Trunc:  flag&os.O_TRUNC != 0,
		Append: flag&os.O_APPEND != 0,
	}
	if flag&os.O_CREATE != 0 {
		d, base, err := s.parent(ctx, "create", name)
		if err != nil {
			return nil, err
		}
		if st := stateOf(ctx); st != nil && (st.method == "PUT" || st.method == "COPY") && of.Trunc {
			return s.openReplacement(ctx, d, base, name)
		}
		f, h, err := d.Create(ctx, base, of, flag&os.O_EXCL != 0)
		if err != nil {
			return nil, fail(ctx, "create", name, err)
		}
		return newFile(ctx, name, f, h, of.Write, true), nil
	}
	n, err := s.resolve(ctx, "open", name)
	if err != nil {
		return nil, err
	}
	// PROPFIND opens every file it lists and PROPPATCH opens files
	// read-write, only to reach their properties: no handle is opened
	// (nothing pinned, nothing staged) and nothing is written.
	propsOnly := false
	if st := stateOf(ctx); st != nil && (st.method == "PROPFIND" || st.method == "PROPPATCH") {
		propsOnly, of = true, fs.OpenFlags{}
	}
	switch n := n.(type) {
	case *fs.Dir:
		if of.Write || of.Trunc {
			return nil, fail(ctx, "open", name, fs.ErrIsDir)
		}
		return &dirFile{ctx: ctx, name: name, d: n}, nil
	case *fs.File:
		if propsOnly {
			return newFile(ctx, name, n, nil, false, false), nil
		}
		h, err := n.Open(ctx, of)
		if err != nil {
			return nil, fail(ctx, "open", name, err)
		}
		return newFile(ctx, name, n, h, of.Write, of.Trunc), nil
	}
	return nil, fail(ctx, "open", name, fs.ErrNotSupported)
}

// RemoveAll implements webdav.FileSystem (DELETE, and the delete of an
// existing destination that COPY and MOVE with Overwrite do first). A
// folder is emptied depth first, then removed, as rm -r does on the
// mount; accounts, and folders the service marks read-only (hubs,
// projects), are refused before anything below them is touched.
//
// When a COPY or MOVE of a file replaces another file, the destination is
// not deleted here: the copy (replacement.go) and the move both rename
// over it, so the destination keeps its identity and history and the
// content becomes its new version, as with a rename over a file on the
// mount.
func (s *FileSystem) RemoveAll(ctx context.Context, name string) error {
	d, base, err := s.parent(ctx, "remove", name)
	if err != nil {
		return err
	}
	n, err := d.Lookup(ctx, base)
	if err != nil {
		return fail(ctx, "remove", name, err)
	}
	if st := stateOf(ctx); st != nil && st.replaces(name) {
		if _, isFile := n.(*fs.File); isFile {
			if src, err := s.core.Resolve(ctx, st.replaceSrc); err == nil {
				if _, srcFile := src.(*fs.File); srcFile {
					return nil
				}
			}
		}
	}
	if sub, ok := n.(*fs.Dir); ok {
		// Refuse at once what cannot be deleted itself, rather than
		// emptying it first: an account, a hub, a project.
		if d.IsRoot() || !sub.CanWrite() {
			return fail(ctx, "remove", name, fs.ErrReadOnlyFS)
		}
		if at := sub.Attr(); at.Protected || !at.Writable {
			return fail(ctx, "remove", name, remote.Errorf(remote.Permission, "davfs.delete",
				"the service does not let %s be deleted (a hub, a project or a read-only folder)", sub.Path()))
		}
		if err := s.emptyDir(ctx, sub, name); err != nil {
			return err
		}
		if err := d.Rmdir(ctx, base); err != nil {
			return fail(ctx, "remove", name, err)
		}
		return nil
	}
	if err := d.Unlink(ctx, base); err != nil {
		return fail(ctx, "remove", name, err)
	}
	return nil
}

// emptyDir removes everything below d (shown at name).
func (s *FileSystem) emptyDir(ctx context.Context, d *fs.Dir, name string) error {
	entries, err := d.ReadDir(ctx)
	if err != nil {
		return fail(ctx, "remove", name, err)
	}
	for _, e := range entries {
		child := path.Join(name, e.Name)
		if e.Dir {
			c, err := d.Lookup(ctx, e.Name)
			if err != nil {
				return fail(ctx, "remove", child, err)
			}
			if sub, ok := c.(*fs.Dir); ok {
				if err := s.emptyDir(ctx, sub, child); err != nil {
					return err
				}
			}
			if err := d.Rmdir(ctx, e.Name); err != nil {
				return fail(ctx, "remove", child, err)
			}
			continue
		}
		if err := d.Unlink(ctx, e.Name); err != nil {
			return fail(ctx, "remove", child, err)
		}
	}
	return nil
}

// Rename implements webdav.FileSystem (MOVE) with the core's rename
// semantics: a move the service cannot make fails with fs.ErrCrossDevice
// (502), replacing a file makes the content its new version.
func (s *FileSystem) Rename(ctx context.Context, oldName, newName string) error {
	from, oldBase, err := s.parent(ctx, "rename", oldName)
	if err != nil {
		return err
	}
	to, newBase, err := s.parent(ctx, "rename", newName)
	if err != nil {
		return err
	}
	if err := from.Rename(ctx, oldBase, to, newBase, fs.RenameFlags{}); err != nil {
		return fail(ctx, "rename", oldName, err)
	}
	return nil
}

// baseName is the last element of name ("/" for the root).
func baseName(name string) string {
	name = strings.TrimRight(name, "/")
	if name == "" {
		return "/"
	}
	return path.Base(name)
}

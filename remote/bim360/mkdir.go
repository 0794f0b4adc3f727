package bim360

import (
	"context"
	"sync"

	"github.com/bimfs/bimfs/remote"
)

// Mkdir implements remote.Writer.
func (b *Backend) Mkdir(ctx context.Context, parent remote.ID, name string) (remote.Entry, error) {
	const op = "bim360.Mkdir"
	if err := readOnlyExtra(op, parent); err != nil {
		return remote.Entry{}, err
	}
	p, err := b.writableFolder(op, parent, "create folders")
	if err != nil {
		return remote.Entry{}, err
	}
	if err := ValidateName(op, name); err != nil {
		return remote.Entry{}, err
	}
	level := b.tree.level(p.folder)
	if level >= MaxFolderDepth {
		return remote.Entry{}, remote.Errorf(remote.Invalid, op, "folders nest at most %d levels deep; %q would be level %d", MaxFolderDepth, name, level+1)
	}
	fs, err := b.createFolders(ctx, p.project, []NewFolder{{ParentID: p.folder, Name: name}})
	if err != nil {
		return remote.Entry{}, notFound(op, parent, writeError(err, remote.Exists))
	}
	f := &fs[0]
	if level > 0 {
		b.tree.setDepth(f.ID, level+1)
	}
	id, ok := folderID(p.project, f.ID)
	if !ok {
		return remote.Entry{}, remote.Errorf(remote.Unavailable, op, "the new folder has an unusable ID %q", f.ID)
	}
	ent := folderEntry(id, f)
	if ent.Name == "" {
		ent.Name = name
	}
	return ent, nil
}

// mkdirMode is how a project creates folders.
type mkdirMode int

const (
	mkdirUnknown     mkdirMode = iota
	mkdirCommand               // the CreateFolder command works
	mkdirPostFolders           // the project refused the command; POST folders works
)

// mkdirModes remembers, per project, whether the CreateFolder command
// works there.
type mkdirModes struct {
	mu sync.Mutex
	m  map[string]mkdirMode // by project ID; mu protects it
}

func newMkdirModes() *mkdirModes { return &mkdirModes{m: map[string]mkdirMode{}} }

func (m *mkdirModes) get(project string) mkdirMode {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[project]
}

func (m *mkdirModes) set(project string, mode mkdirMode) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[project] = mode
}

// createFolders creates folders in one project, several per call where
// the project takes the CreateFolder command.
//
// Two forms exist. The CreateFolder command (one call for many folders)
// was the only way to make BIM 360 Docs folders when it was announced; it
// is not in the current spec's command list, so a service may stop taking
// it. POST folders is the form the spec documents for BIM 360 today: one
// folder per call, and only 50 calls a minute where POST commands gets
// 300. The command is tried first because it batches and is limited less;
// a project that answers it with an error (400, as for an unknown command)
// gets POST folders, and once POST folders has worked there the command is
// not tried again in that project.
func (b *Backend) createFolders(ctx context.Context, project string, fs []NewFolder) ([]Folder, error) {
	if b.mkdir.get(project) != mkdirPostFolders {
		out, err := b.api.Commands.CreateFolders(ctx, project, fs)
		if err == nil {
			b.mkdir.set(project, mkdirCommand)
			return out, nil
		}
		if !commandRefused(err) || len(out) > 0 {
			return out, err
		}
		b.log.Info("CreateFolder command refused; creating folders with POST folders", "project", project, "err", err)
	}
	out := make([]Folder, 0, len(fs))
	for _, f := range fs {
		got, err := b.api.Folders.Create(ctx, &CreateFolderRequest{ProjectID: project, ParentID: f.ParentID, Name: f.Name, Extension: f.Extension})
		if err != nil {
			return out, err
		}
		b.mkdir.set(project, mkdirPostFolders)
		out = append(out, *got)
	}
	return out, nil
}

// commandRefused reports whether a command error may mean "this project
// does not know the command" rather than a problem POST folders would
// have too (a taken name, a lock, throttling, an outage).
func commandRefused(err error) bool {
	switch remote.KindOf(err) {
	case remote.Invalid, remote.NotFound, remote.Unsupported, remote.Permission:
		return true
	}
	return false
}

package asfm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bim360"
)

// Source is what a BIM 360 account offers the manifest commands
// (*bim360.Backend implements it).
type Source interface {
	// ItemTip is one GET item call.
	ItemTip(ctx context.Context, projectID, itemID string) (*bim360.ItemTip, error)
	// HasProject reports whether the account sees the project.
	HasProject(ctx context.Context, projectID string) (bool, error)
	ReadRange(ctx context.Context, id remote.ID, v remote.Version, off, length int64) (io.ReadCloser, error)
}

var _ Source = (*bim360.Backend)(nil)

// Account is one configured BIM 360 account, connected when first needed.
type Account struct {
	Name string
	Open func(ctx context.Context) (Source, error)
}

// Tool runs the manifest commands over a set of accounts. It is safe for
// use by one command at a time.
type Tool struct {
	Accounts []Account

	mu sync.Mutex
	// sources holds each account's connection (or why it failed).
	sources map[string]sourceOrErr
	// projects caches which account sees a project.
	projects map[string]int
}

type sourceOrErr struct {
	src Source
	err error
}

// States of a Result.
const (
	Current = "current" // the local version is the tip
	Stale   = "stale"   // the cloud has a newer version
	Updated = "updated" // update downloaded the tip
	Deleted = "deleted" // the item was deleted in the cloud
	Missing = "missing" // the item does not exist (or is not visible)
	Failed  = "error"   // anything else; Error says what
)

// Result is the outcome for one manifest.
type Result struct {
	Manifest string `json:"manifest"`
	Account  string `json:"account,omitempty"`
	Project  string `json:"project_id,omitempty"`
	Item     string `json:"item_id,omitempty"`
	Local    int    `json:"local_version"`
	Tip      int    `json:"tip_version,omitempty"`
	State    string `json:"state"`
	Error    string `json:"error,omitempty"`
}

// Failed reports whether the manifest could not be checked or updated.
func (r Result) Failed() bool { return r.State == Failed || r.State == Deleted || r.State == Missing }

func (r *Result) fail(state string, err error) {
	r.State, r.Error = state, err.Error()
}

// source returns the account that sees projectID.
func (t *Tool) source(ctx context.Context, projectID string) (string, Source, error) {
	t.mu.Lock()
	if t.sources == nil {
		t.sources, t.projects = map[string]sourceOrErr{}, map[string]int{}
	}
	i, known := t.projects[projectID]
	t.mu.Unlock()
	if known {
		a := t.Accounts[i]
		s, err := t.open(ctx, a)
		return a.Name, s, err
	}
	var why []string
	for i, a := range t.Accounts {
		s, err := t.open(ctx, a)
		if err != nil {
			why = append(why, a.Name+": "+err.Error())
			continue
		}
		ok, err := s.HasProject(ctx, projectID)
		if err != nil {
			why = append(why, a.Name+": "+err.Error())
			continue
		}
		if ok {
			t.mu.Lock()
			t.projects[projectID] = i
			t.mu.Unlock()
			return a.Name, s, nil
		}
		why = append(why, a.Name+": project not visible")
	}
	if len(t.Accounts) == 0 {
		return "", nil, errors.New("no BIM 360 account is configured")
	}
	return "", nil, fmt.Errorf("no BIM 360 account can see project %s (%s)", projectID, strings.Join(why, "; "))
}

func (t *Tool) open(ctx context.Context, a Account) (Source, error) {
	t.mu.Lock()
	c, ok := t.sources[a.Name]
	t.mu.Unlock()
	if ok {
		return c.src, c.err
	}
	s, err := a.Open(ctx)
	t.mu.Lock()
	t.sources[a.Name] = sourceOrErr{s, err}
	t.mu.Unlock()
	return s, err
}

// check reads the manifest at path and asks for its item's tip.
func (t *Tool) check(ctx context.Context, path string) (*Manifest, Source, *bim360.ItemTip, Result) {
	r := Result{Manifest: path}
	data, err := os.ReadFile(path)
	if err != nil {
		r.fail(Failed, err)
		return nil, nil, nil, r
	}
	m, err := Parse(data)
	if err != nil {
		r.fail(Failed, fmt.Errorf("%s: %w", path, err))
		return nil, nil, nil, r
	}
	r.Project, r.Item, r.Local = m.ProjectID, m.ItemID, m.Version
	name, src, err := t.source(ctx, m.ProjectID)
	if err != nil {
		r.fail(Failed, err)
		return nil, nil, nil, r
	}
	r.Account = name
	tip, err := src.ItemTip(ctx, m.ProjectID, m.ItemID)
	switch {
	case remote.IsKind(err, remote.NotFound):
		r.fail(Missing, fmt.Errorf("item %s does not exist in project %s (or this account may not see it)", m.ItemID, m.ProjectID))
		return nil, nil, nil, r
	case err != nil:
		r.fail(Failed, err)
		return nil, nil, nil, r
	}
	r.Tip = tip.Number
	if tip.Deleted {
		r.fail(Deleted, fmt.Errorf("item %s was deleted in the cloud (its tip, version %d, is a deletion)", m.ItemID, tip.Number))
		return nil, nil, nil, r
	}
	r.State = Current
	if tip.Number > m.Version {
		r.State = Stale
	}
	return m, src, tip, r
}

// Status checks each manifest with one GET item call.
func (t *Tool) Status(ctx context.Context, paths []string) []Result {
	out := make([]Result, 0, len(paths))
	for _, p := range paths {
		_, _, _, r := t.check(ctx, p)
		out = append(out, r)
	}
	return out
}

// Update brings each stale manifest's data to the tip: the bytes go to a
// temporary file beside the data, which replaces it only once complete;
// then the manifest gets the new Version the same way. A failure leaves
// both as they were. Data that is missing locally is downloaded even when
// the manifest is current.
func (t *Tool) Update(ctx context.Context, paths []string) []Result {
	out := make([]Result, 0, len(paths))
	for _, p := range paths {
		m, src, tip, r := t.check(ctx, p)
		if m != nil {
			if err := t.update(ctx, p, m, src, tip, &r); err != nil {
				r.fail(Failed, err)
			}
		}
		out = append(out, r)
	}
	return out
}

func (t *Tool) update(ctx context.Context, path string, m *Manifest, src Source, tip *bim360.ItemTip, r *Result) error {
	dir := filepath.Dir(path)
	target, err := m.SourcePath(dir)
	if err != nil {
		return err
	}
	if r.State == Current {
		if _, err := os.Stat(target); err == nil {
			return nil
		}
	}
	if err := download(ctx, src, tip, target); err != nil {
		return fmt.Errorf("downloading version %d to %s: %w", tip.Number, target, err)
	}
	if tip.Number != m.Version {
		if err := replaceFile(path, m.WithVersion(tip.Number)); err != nil {
			return fmt.Errorf("rewriting %s: %w", path, err)
		}
	}
	r.State = Updated
	return nil
}

// download writes the tip's bytes to target through a temporary file.
func download(ctx context.Context, src Source, tip *bim360.ItemTip, target string) error {
	rc, err := src.ReadRange(ctx, tip.Entry.ID, tip.Entry.Version, 0, tip.Size)
	if err != nil {
		return err
	}
	defer rc.Close()
	return writeAtomic(target, func(w io.Writer) error {
		n, err := io.Copy(w, rc)
		if err != nil {
			return err
		}
		if n != tip.Size {
			return fmt.Errorf("got %d of %d bytes", n, tip.Size)
		}
		return nil
	})
}

// replaceFile replaces path's content with data atomically.
func replaceFile(path string, data []byte) error {
	return writeAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeAtomic writes a temporary file in path's folder with fill, syncs
// it and renames it over path: readers see the old or the new content,
// never a part. The file keeps path's permissions if it existed.
func writeAtomic(path string, fill func(io.Writer) error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.part")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	if err := fill(f); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return nil
}

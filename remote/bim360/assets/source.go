package assets

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/bimfs/bimfs/remote"
)

// FolderName is the name of the read-only folder each project directory
// shows.
const FolderName = "Assets"

// DefaultTTL is how long a snapshot answers listings before the next
// listing of the folder fetches a new one.
const DefaultTTL = 30 * time.Second

// fetchTimeout bounds one snapshot fetch, which runs for all waiting
// callers at once and so cannot use any one caller's context.
const fetchTimeout = 5 * time.Minute

const readOnly = "read-only: Assets data"

// keepSnapshots is how many snapshots before the current one stay readable
// for files opened on them.
const keepSnapshots = 3

// Prefix starts the ID of every entry a Source issues:
//
//	Assets           "assets:<hubID>|<projectID>"
//	Assets/<file>    "assets:<hubID>|<projectID>|<name>"
const Prefix = "assets:"

// Owns reports whether id is an entry of a Source.
func Owns(id remote.ID) bool { return strings.HasPrefix(string(id), Prefix) }

// ReadOnlyError is the error of every write below the folder.
func ReadOnlyError(op string) error { return remote.Errorf(remote.Permission, op, readOnly) }

func remoteErrorf(format string, args ...any) error {
	return remote.Errorf(remote.Unavailable, "assets.Fetch", format, args...)
}

type node struct{ hub, project, name string }

func (n node) id() remote.ID {
	s := Prefix + n.hub + "|" + n.project
	if n.name != "" {
		s += "|" + n.name
	}
	return remote.ID(s)
}

func parseNode(id remote.ID) (node, bool) {
	s, ok := strings.CutPrefix(string(id), Prefix)
	if !ok {
		return node{}, false
	}
	f := strings.SplitN(s, "|", 3)
	if len(f) < 2 || f[0] == "" || f[1] == "" {
		return node{}, false
	}
	n := node{hub: f[0], project: f[1]}
	if len(f) == 3 {
		if f[2] == "" {
			return node{}, false
		}
		n.name = f[2]
	}
	return n, true
}

// Source presents each project's Assets data as a read-only folder of
// files rendered from one consistent fetch (see Fetch). The first listing
// of the folder fetches and renders everything, so sizes are exact; the
// snapshot then answers listings for TTL and reads for as long as it or one
// of the three before it is held, so an open file keeps reading the content
// it was opened with.
type Source struct {
	c   *Client
	ttl time.Duration
	log *slog.Logger
	now func() time.Time

	group singleflight.Group

	mu         sync.Mutex
	snaps      map[string]*held  // by hub|project; mu protects the maps
	containers map[string]string // locations container by project
	forbidden  map[string]time.Time
}

type held struct {
	cur *Snapshot
	// older are the snapshots before cur, newest first, at most
	// keepSnapshots of them: open files keep reading theirs.
	older []*Snapshot
	mod   map[string]time.Time // when each file's content last changed
}

// NewSource returns a Source over c; ttl 0 means DefaultTTL.
func NewSource(c *Client, ttl time.Duration, log *slog.Logger) *Source {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if log == nil {
		log = slog.Default()
	}
	return &Source{c: c, ttl: ttl, log: log, now: time.Now, snaps: map[string]*held{},
		containers: map[string]string{}, forbidden: map[string]time.Time{}}
}

// SetLocationsContainer records a project's locations container ID (the
// Data Management project's relationships.locations). Without one, the
// project ID is used, as ACC projects do.
func (s *Source) SetLocationsContainer(projectID, containerID string) {
	s.mu.Lock()
	s.containers[projectID] = containerID
	s.mu.Unlock()
}

// Folder returns the entry of a project's Assets folder.
func (s *Source) Folder(hubID, projectID string) remote.Entry {
	return remote.Entry{ID: node{hub: hubID, project: projectID}.id(), Name: FolderName, Dir: true, ReadOnly: true}
}

// List returns the files of an Assets folder, fetching a new snapshot when
// the held one is older than the TTL.
func (s *Source) List(ctx context.Context, id remote.ID) ([]remote.Entry, error) {
	const op = "assets.List"
	n, ok := parseNode(id)
	if !ok {
		return nil, remote.Errorf(remote.NotFound, op, "unknown entry %q", id)
	}
	if n.name != "" {
		return nil, remote.Errorf(remote.Invalid, op, "%q is not a folder", id)
	}
	h, err := s.snapshot(ctx, n, true)
	if err != nil || h == nil {
		return nil, err
	}
	out := make([]remote.Entry, 0, len(h.cur.Files))
	for _, name := range h.cur.sortedNames() {
		out = append(out, s.fileEntry(n, h, name))
	}
	return out, nil
}

// Stat returns the folder or one of its files as the held snapshot shows
// it (fetching one if none is held).
func (s *Source) Stat(ctx context.Context, id remote.ID) (remote.Entry, error) {
	const op = "assets.Stat"
	n, ok := parseNode(id)
	if !ok {
		return remote.Entry{}, remote.Errorf(remote.NotFound, op, "unknown entry %q", id)
	}
	if n.name == "" {
		return s.Folder(n.hub, n.project), nil
	}
	h, err := s.snapshot(ctx, n, false)
	if err != nil {
		return remote.Entry{}, err
	}
	if h == nil || h.cur.Files[n.name] == nil {
		return remote.Entry{}, remote.Errorf(remote.NotFound, op, "%s does not exist", id)
	}
	return s.fileEntry(n, h, n.name), nil
}

// ReadRange returns bytes of the snapshot version v names (the held
// snapshot or one of the keepSnapshots before it; an empty v means the
// current one).
func (s *Source) ReadRange(ctx context.Context, id remote.ID, v remote.Version, off, length int64) (io.ReadCloser, error) {
	const op = "assets.ReadRange"
	n, ok := parseNode(id)
	if !ok {
		return nil, remote.Errorf(remote.NotFound, op, "unknown entry %q", id)
	}
	if n.name == "" {
		return nil, remote.Errorf(remote.Invalid, op, "%q is not a file", id)
	}
	if off < 0 || length < 0 {
		return nil, remote.Errorf(remote.Invalid, op, "invalid range %d+%d", off, length)
	}
	h, err := s.snapshot(ctx, n, false)
	if err != nil {
		return nil, err
	}
	var data []byte
	if h != nil {
		s.mu.Lock()
		for _, snap := range append([]*Snapshot{h.cur}, h.older...) {
			if snap != nil && (v.ID == "" || snap.Versions[n.name] == v.ID) {
				data = snap.Files[n.name]
				break
			}
		}
		s.mu.Unlock()
	}
	if data == nil {
		return nil, remote.Errorf(remote.NotFound, op, "version %s of %s is no longer held; list the folder again", v.ID, n.name)
	}
	if off >= int64(len(data)) {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	end := int64(len(data))
	if length < end-off {
		end = off + length
	}
	return io.NopCloser(bytes.NewReader(data[off:end])), nil
}

func (s *Source) fileEntry(n node, h *held, name string) remote.Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return remote.Entry{ID: node{hub: n.hub, project: n.project, name: name}.id(), Name: name,
		Size: int64(len(h.cur.Files[name])), ModTime: h.mod[name], ReadOnly: true,
		Version: remote.Version{ID: h.cur.Versions[name]}}
}

// snapshot returns the held snapshot of n's project, fetching one when
// none is held or (refresh) the held one is older than the TTL. A project
// that answers 403 (no Assets entitlement) gives nil: an empty folder,
// logged once.
func (s *Source) snapshot(ctx context.Context, n node, refresh bool) (*held, error) {
	key := n.hub + "|" + n.project
	now := s.clock()
	s.mu.Lock()
	h := s.snaps[key]
	fresh := h != nil && (!refresh || now.Sub(h.cur.At) < s.ttl)
	at, isForbidden := s.forbidden[key]
	container := s.containers[n.project]
	s.mu.Unlock()
	if fresh {
		return h, nil
	}
	if isForbidden && now.Sub(at) < s.ttl {
		return nil, nil
	}
	if container == "" {
		container = ProjectID(n.project)
	}
	ch := s.group.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		defer cancel()
		snap, err := Fetch(fctx, s.c, n.project, container, s.clock())
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.forbidden, key)
		old := s.snaps[key]
		nh := &held{cur: snap, mod: map[string]time.Time{}}
		for name, ver := range snap.Versions {
			nh.mod[name] = snap.At
			if old != nil && old.cur.Versions[name] == ver {
				nh.mod[name] = old.mod[name]
			}
		}
		if old != nil {
			nh.older = append([]*Snapshot{old.cur}, old.older[:min(len(old.older), keepSnapshots-1)]...)
		}
		s.snaps[key] = nh
		return nh, nil
	})
	select {
	case <-ctx.Done():
		return nil, &remote.Error{Kind: remote.Canceled, Op: "assets.List", Err: ctx.Err()}
	case r := <-ch:
		if remote.IsKind(r.Err, remote.Permission) {
			s.mu.Lock()
			if !isForbidden {
				s.log.Warn("Assets folder is empty: the project refuses the Assets API (no entitlement or permission)", "project", n.project)
			}
			s.forbidden[key] = now
			s.mu.Unlock()
			return nil, nil
		}
		if r.Err != nil {
			if h != nil { // keep serving the held snapshot; say why it is stale
				s.log.Warn("Assets refresh failed; showing the previous snapshot", "project", n.project, "err", r.Err)
				return h, nil
			}
			return nil, r.Err
		}
		return r.Val.(*held), nil
	}
}

// SetClock replaces the clock that ages snapshots (tests).
func (s *Source) SetClock(now func() time.Time) {
	s.mu.Lock()
	s.now = now
	s.mu.Unlock()
}

func (s *Source) clock() time.Time {
	s.mu.Lock()
	now := s.now
	s.mu.Unlock()
	return now()
}

// Package remotetest holds test doubles and the conformance suite for
// remote.Backend implementations.
//
// Memory is an in-memory Backend with fault injection and call counters for
// filesystem tests; Run checks any Backend against the semantics documented
// in package remote.
package remotetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// Method names as counted by Memory.Calls and passed to fault hooks.
const (
	OpRoot      = "Root"
	OpList      = "List"
	OpStat      = "Stat"
	OpReadRange = "ReadRange"
	OpClose     = "Close"
)

// memoryEpoch is the modification time of the first change; every later
// change is one second younger, so listings are deterministic.
var memoryEpoch = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// Memory is an in-memory remote.Backend. Test code shapes the tree with
// MkdirAll, AddFile, SetFile and Delete; the filesystem sees it only through
// the Backend methods. Every version ever written stays readable, as
// remote.Version promises.
//
// Memory is safe for concurrent use.
type Memory struct {
	// mu protects the following fields.
	mu         sync.Mutex
	nodes      map[remote.ID]*memNode
	versions   map[string][]byte // version ID → bytes, never removed
	seq        int               // last ID/version sequence number handed out
	tick       int               // number of changes, drives ModTime
	rangeReads bool
	fault      func(ctx context.Context, op string, id remote.ID) error
	calls      map[string]int64
	listeners  map[int]func([]remote.Change)
	nextListen int
	// Writer state (memwrite.go).
	writable bool
	spaces   map[remote.ID]bool // folders that start a namespace of their own
	nameRule func(name string) string

	// versionTimes holds when each version was made (History).
	versionTimes map[string]time.Time
}

type memNode struct {
	entry    remote.Entry
	parent   remote.ID
	children []remote.ID      // insertion order; List does not sort
	history  []remote.Version // every version of a file, oldest first
}

// RootID is the ID of Memory's root folder.
const RootID remote.ID = "root"

// NewMemory returns an empty backend that supports range reads.
func NewMemory() *Memory {
	m := &Memory{
		nodes:      map[remote.ID]*memNode{},
		versions:   map[string][]byte{},
		rangeReads: true,
		calls:      map[string]int64{},
		listeners:  map[int]func([]remote.Change){},
		spaces:     map[remote.ID]bool{},
	}
	m.nodes[RootID] = &memNode{entry: remote.Entry{ID: RootID, Dir: true, ModTime: memoryEpoch}}
	return m
}

var _ remote.Backend = (*Memory)(nil)

// SetRangeReads sets what Features reports. Without range reads ReadRange
// rejects any offset but 0, as a streaming-only service would.
func (m *Memory) SetRangeReads(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rangeReads = on
}

// SetFault installs fn, which every Backend method calls first with its
// context, its method name (OpList, …) and the ID it was asked about; a
// non-nil result is returned instead of doing the work. nil removes the
// hook. fn runs without Memory's lock held, so it may block until ctx is
// done (to simulate a slow service) or change the tree.
func (m *Memory) SetFault(fn func(ctx context.Context, op string, id remote.ID) error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fault = fn
}

// Calls reports how many times Backend method op was called.
func (m *Memory) Calls(op string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[op]
}

// ResetCalls sets every call counter to zero.
func (m *Memory) ResetCalls() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.calls)
}

// enter counts a call and runs the fault hook and ctx check.
func (m *Memory) enter(ctx context.Context, op string, id remote.ID) error {
	m.mu.Lock()
	m.calls[op]++
	fault := m.fault
	m.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return &remote.Error{Kind: remote.Canceled, Op: "memory." + op, Err: err}
	}
	if fault != nil {
		if err := fault(ctx, op, id); err != nil {
			return err
		}
	}
	return nil
}

func notFound(op string, id remote.ID) error {
	return remote.Errorf(remote.NotFound, "memory."+op, "no object %q", id)
}

// Root implements remote.Backend.
func (m *Memory) Root(ctx context.Context) (remote.Entry, error) {
	if err := m.enter(ctx, OpRoot, RootID); err != nil {
		return remote.Entry{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.nodes[RootID].entry, nil
}

// List implements remote.Backend. Children come in insertion order.
func (m *Memory) List(ctx context.Context, dir remote.ID) ([]remote.Entry, error) {
	if err := m.enter(ctx, OpList, dir); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[dir]
	if !ok {
		return nil, notFound(OpList, dir)
	}
	if !n.entry.Dir {
		return nil, remote.Errorf(remote.Invalid, "memory.List", "%q is not a folder", dir)
	}
	out := make([]remote.Entry, 0, len(n.children))
	for _, c := range n.children {
		out = append(out, m.nodes[c].entry)
	}
	return out, nil
}

// Stat implements remote.Backend.
func (m *Memory) Stat(ctx context.Context, id remote.ID) (remote.Entry, error) {
	if err := m.enter(ctx, OpStat, id); err != nil {
		return remote.Entry{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[id]
	if !ok {
		return remote.Entry{}, notFound(OpStat, id)
	}
	return n.entry, nil
}

// ReadRange implements remote.Backend. Any version the file ever had can be
// read, even after the file was deleted; an offset at or past the end
// yields no bytes.
func (m *Memory) ReadRange(ctx context.Context, id remote.ID, v remote.Version, off, length int64) (io.ReadCloser, error) {
	if err := m.enter(ctx, OpReadRange, id); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// A version stays readable after its file is deleted, as services
	// that keep version history allow.
	if n, ok := m.nodes[id]; ok && n.entry.Dir {
		return nil, remote.Errorf(remote.Invalid, "memory.ReadRange", "%q is a folder", id)
	}
	data, ok := m.versions[v.ID]
	if !ok || !strings.HasPrefix(v.Ref, string(id)+"@") {
		return nil, remote.Errorf(remote.NotFound, "memory.ReadRange", "file %q has no version %q", id, v.ID)
	}
	if off < 0 || length < 0 {
		return nil, remote.Errorf(remote.Invalid, "memory.ReadRange", "bad range %d+%d", off, length)
	}
	if !m.rangeReads && off != 0 {
		return nil, remote.Errorf(remote.Unsupported, "memory.ReadRange", "offset %d without range reads", off)
	}
	end := min(off+length, int64(len(data)))
	off = min(off, end)
	return io.NopCloser(bytes.NewReader(data[off:end])), nil
}

// Features implements remote.Backend.
func (m *Memory) Features() remote.Features {
	m.mu.Lock()
	defer m.mu.Unlock()
	return remote.Features{RangeReads: m.rangeReads, Writable: m.writable}
}

// Close implements remote.Backend.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls[OpClose]++
	return nil
}

// Watching returns a view of m that also implements remote.Watcher: every
// later change made through m's helpers is reported to watchers.
func (m *Memory) Watching() *WatchingMemory { return &WatchingMemory{m} }

// WatchingMemory is a Memory that implements remote.Watcher.
type WatchingMemory struct{ *Memory }

var _ remote.Watcher = (*WatchingMemory)(nil)

// Watch implements remote.Watcher. fn is called from the goroutine that
// changed the tree, after the change is visible.
func (w *WatchingMemory) Watch(ctx context.Context, fn func([]remote.Change)) error {
	m := w.Memory
	m.mu.Lock()
	key := m.nextListen
	m.nextListen++
	m.listeners[key] = fn
	m.mu.Unlock()
	<-ctx.Done()
	m.mu.Lock()
	delete(m.listeners, key)
	m.mu.Unlock()
	return ctx.Err()
}

// Watchers returns the number of running Watch calls, so a test can wait
// until changes will be reported.
func (w *WatchingMemory) Watchers() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.listeners)
}

// publish reports a change to watchers. Called without m.mu held.
func (m *Memory) publish(c remote.Change) {
	m.mu.Lock()
	fns := make([]func([]remote.Change), 0, len(m.listeners))
	for _, fn := range m.listeners {
		fns = append(fns, fn)
	}
	m.mu.Unlock()
	for _, fn := range fns {
		fn([]remote.Change{c})
	}
}

// now advances the clock by one change. Called with m.mu held.
func (m *Memory) now() time.Time {
	m.tick++
	return memoryEpoch.Add(time.Duration(m.tick) * time.Second)
}

// newID hands out a fresh sequence number. Called with m.mu held.
func (m *Memory) newSeq() int {
	m.seq++
	return m.seq
}

// Add creates a child called name (verbatim: it may contain '/' or any other
// byte) in folder parent and returns its entry. Siblings may share a name.
// It panics if parent is not a folder, as that is a bug in the test.
func (m *Memory) Add(parent remote.ID, name string, dir bool, data []byte) remote.Entry {
	m.mu.Lock()
	p, ok := m.nodes[parent]
	if !ok || !p.entry.Dir {
		m.mu.Unlock()
		panic(fmt.Sprintf("remotetest: Add into %q, which is not a folder", parent))
	}
	// addLocked's check suffix makes IDs sparse, so a mistyped ID names nothing.
	e := m.addLocked(p, parent, name, dir)
	id := e.ID
	if !dir {
		e = m.setContentLocked(id, data)
	}
	m.mu.Unlock()
	m.publish(remote.Change{Dir: parent, ID: id})
	return e
}

// setContentLocked stores data as a new tip version of file id.
func (m *Memory) setContentLocked(id remote.ID, data []byte) remote.Entry {
	n := m.nodes[id]
	seq := m.newSeq()
	v := remote.Version{ID: fmt.Sprintf("ver-%d", seq), Ref: fmt.Sprintf("%s@%d", id, seq)}
	v.Number = n.entry.Version.Number + 1
	m.versions[v.ID] = slices.Clone(data)
	n.entry.Version = v
	n.history = append(n.history, v)
	n.entry.Size = int64(len(data))
	n.entry.ModTime = m.now()
	if m.versionTimes == nil {
		m.versionTimes = map[string]time.Time{}
	}
	m.versionTimes[v.ID] = n.entry.ModTime
	return n.entry
}

// SetContent stores data as a new version of file id and returns its entry.
func (m *Memory) SetContent(id remote.ID, data []byte) remote.Entry {
	m.mu.Lock()
	n, ok := m.nodes[id]
	if !ok || n.entry.Dir {
		m.mu.Unlock()
		panic(fmt.Sprintf("remotetest: SetContent of %q, which is not a file", id))
	}
	e := m.setContentLocked(id, data)
	parent := n.parent
	m.mu.Unlock()
	m.publish(remote.Change{Dir: parent, ID: id})
	return e
}

// SetModTime sets the modification time id's entry shows, for tests of
// services whose timestamps are coarse or missing.
func (m *Memory) SetModTime(id remote.ID, t time.Time) remote.Entry {
	m.mu.Lock()
	n, ok := m.nodes[id]
	if !ok {
		m.mu.Unlock()
		panic(fmt.Sprintf("remotetest: SetModTime of unknown %q", id))
	}
	n.entry.ModTime = t
	e, parent := n.entry, n.parent
	m.mu.Unlock()
	m.publish(remote.Change{Dir: parent, ID: id})
	return e
}

// SetName gives id a new name in its folder, as a change made by another
// client would.
func (m *Memory) SetName(id remote.ID, name string) remote.Entry {
	m.mu.Lock()
	n, ok := m.nodes[id]
	if !ok || id == RootID {
		m.mu.Unlock()
		panic(fmt.Sprintf("remotetest: SetName of unknown %q", id))
	}
	n.entry.Name = name
	n.entry.ModTime = m.now()
	e, parent := n.entry, n.parent
	m.mu.Unlock()
	m.publish(remote.Change{Dir: parent, ID: id})
	return e
}

// Drop deletes id and everything below it, as a change made by another
// client would (remote.Writer's Remove refuses folders with children).
func (m *Memory) Drop(id remote.ID) {
	m.mu.Lock()
	n, ok := m.nodes[id]
	if !ok || id == RootID {
		m.mu.Unlock()
		panic(fmt.Sprintf("remotetest: Drop of unknown %q", id))
	}
	m.unlinkLocked(id)
	parent := n.parent
	m.mu.Unlock()
	m.publish(remote.Change{Dir: parent, ID: id, Deleted: true})
}

// child finds the first child of dir called name. Called with m.mu held.
func (m *Memory) child(dir remote.ID, name string) (remote.ID, bool) {
	for _, c := range m.nodes[dir].children {
		if m.nodes[c].entry.Name == name {
			return c, true
		}
	}
	return "", false
}

func splitPath(p string) []string {
	var parts []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return parts
}

// MkdirAll creates the folders of the slash-separated path below the root
// that do not exist yet and returns the last one's ID.
func (m *Memory) MkdirAll(path string) remote.ID {
	dir := RootID
	for _, name := range splitPath(path) {
		m.mu.Lock()
		id, ok := m.child(dir, name)
		m.mu.Unlock()
		if !ok {
			id = m.Add(dir, name, true, nil).ID
		}
		dir = id
	}
	return dir
}

// AddFile creates a new file at path (creating its folders), even if a
// sibling of that name exists, and returns its entry.
func (m *Memory) AddFile(path string, data []byte) remote.Entry {
	parts := splitPath(path)
	if len(parts) == 0 {
		panic("remotetest: AddFile with empty path")
	}
	dir := m.MkdirAll(strings.Join(parts[:len(parts)-1], "/"))
	return m.Add(dir, parts[len(parts)-1], false, data)
}

// SetFile stores data as a new version of the file at path, creating the
// file if it does not exist, and returns its entry.
func (m *Memory) SetFile(path string, data []byte) remote.Entry {
	id, ok := m.Lookup(path)
	if !ok {
		return m.AddFile(path, data)
	}
	return m.SetContent(id, data)
}

// Lookup returns the ID of the object at the slash-separated path.
func (m *Memory) Lookup(path string) (remote.ID, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := RootID
	for _, name := range splitPath(path) {
		c, ok := m.child(id, name)
		if !ok {
			return "", false
		}
		id = c
	}
	return id, true
}

// Delete removes the object at path and everything below it.
func (m *Memory) Delete(path string) {
	id, ok := m.Lookup(path)
	if !ok {
		panic(fmt.Sprintf("remotetest: Delete of missing %q", path))
	}
	m.Drop(id)
}

package fusefs_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fstest"
	"github.com/bimfs/bimfs/fs/fusefs"
	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/remotetest"
)

// newWritableMemory is the project tree on a writable backend whose
// projects are separate namespaces, as in BIM 360.
func newWritableMemory() *remotetest.Memory {
	m := newProjectMemory()
	m.SetWritable(true)
	for _, p := range []string{"Hub A/Project 1", "Hub B/Empty Project"} {
		id, _ := m.Lookup(p)
		m.SetSpace(id)
	}
	return m
}

// mountWritable mounts m as account "acme" with a fresh staging directory
// (unless opts has one) and returns the account directory.
func mountWritable(t *testing.T, m *remotetest.Memory, opts fusefs.Options) string {
	t.Helper()
	if opts.StagingDir == "" {
		opts.StagingDir = t.TempDir()
	}
	return filepath.Join(fstest.Mount(t, []fs.Account{{Name: "acme", Backend: m}}, opts), "acme")
}

// waitUntil polls cond until it holds, failing the test after a generous
// bound; it never asserts how long anything took.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// remoteContent is the tip content of path in m, failing if it is missing.
func remoteContent(t *testing.T, m *remotetest.Memory, path string) []byte {
	t.Helper()
	b, ok := m.Content(path)
	if !ok {
		t.Fatalf("backend has no file %s; folder holds %q", path, m.Names(filepath.Dir(path)))
	}
	return b
}

// eventualContent is remoteContent for a file whose upload runs after its
// close returned (a file closed without a write is uploaded at its last
// release, which the kernel sends after close).
func eventualContent(t *testing.T, m *remotetest.Memory, path string) []byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := m.Content(path); ok || time.Now().After(deadline) {
			return remoteContent(t, m, path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// versions is the number of versions the file at path has.
func versions(t *testing.T, m *remotetest.Memory, path string) int {
	t.Helper()
	id, ok := m.Lookup(path)
	if !ok {
		t.Fatalf("backend has no file %s", path)
	}
	return len(m.Versions(id))
}

// uploadState reads the user.bimfs.upload attribute.
func uploadState(t *testing.T, path string) string {
	t.Helper()
	buf := make([]byte, 4096)
	n, err := unix.Getxattr(path, "user.bimfs.upload", buf)
	if err != nil {
		t.Fatalf("getxattr %s: %v", path, err)
	}
	return string(buf[:n])
}

// runIn executes a command with input and returns its combined output
// and error, for commands expected to fail.
func runErr(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// need skips the test when a tool is not installed.
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
}

// gate is an upload fault hook that holds uploads until opened.
type gate struct {
	mu      sync.Mutex
	open    chan struct{}
	waiting int
	fail    error
}

func newGate() *gate { return &gate{open: make(chan struct{})} }

// hook is installed with Memory.SetFault.
func (g *gate) hook(ctx context.Context, op string, id remote.ID) error {
	if op != remotetest.OpUpload {
		return nil
	}
	g.mu.Lock()
	g.waiting++
	open, fail := g.open, g.fail
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.waiting--
		g.mu.Unlock()
	}()
	if fail != nil {
		return fail
	}
	select {
	case <-open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) release() { close(g.open) }

func (g *gate) blocked() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting
}

// writeTree creates files under dir from a map of relative paths.
func writeTree(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o640); err != nil {
			t.Fatal(err)
		}
	}
}

// checkRemoteTree checks that every file of files is in m below prefix
// with its content and exactly wantVersions versions.
func checkRemoteTree(t *testing.T, m *remotetest.Memory, prefix string, files map[string][]byte, wantVersions int) {
	t.Helper()
	for p, data := range files {
		path := prefix + "/" + p
		if got := remoteContent(t, m, path); !bytes.Equal(got, data) {
			t.Errorf("%s: backend has %d bytes, want %d", path, len(got), len(data))
		}
		if n := versions(t, m, path); n != wantVersions {
			t.Errorf("%s has %d versions, want %d", path, n, wantVersions)
		}
	}
}

// noStray fails if a folder of m holds a name that looks like a
// temporary file.
func noStray(t *testing.T, m *remotetest.Memory, dir string) {
	t.Helper()
	for _, n := range m.Names(dir) {
		if strings.HasPrefix(n, ".") || strings.Contains(n, "~") || strings.Contains(n, ".tmp") {
			t.Errorf("stray item %q left in %s (holds %q)", n, dir, m.Names(dir))
		}
	}
}

func newLogger(l *logBuffer) *slog.Logger { return slog.New(l) }

// timeZero is a timestamp far from anything the backend shows.
var timeZero = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

func unixRenameNoReplace(from, to string) error {
	return unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
}

func unixRenameExchange(from, to string) error {
	return unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_EXCHANGE)
}

// fstestMountWritable mounts accounts with a fresh staging directory and
// returns the mount root.
func fstestMountWritable(t *testing.T, accounts []fs.Account) string {
	t.Helper()
	return fstest.Mount(t, accounts, fusefs.Options{Options: fs.Options{StagingDir: t.TempDir()}})
}

package fusefs_test

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fstest"
	"github.com/bimfs/bimfs/fs/fusefs"
	"github.com/bimfs/bimfs/remote/remotetest"
)

// logBuffer is a slog handler that keeps every record for inspection.
type logBuffer struct {
	mu      sync.Mutex
	records []string
}

func (l *logBuffer) Enabled(context.Context, slog.Level) bool { return true }
func (l *logBuffer) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logBuffer) WithGroup(string) slog.Handler            { return l }
func (l *logBuffer) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	})
	l.mu.Lock()
	l.records = append(l.records, b.String())
	l.mu.Unlock()
	return nil
}

// count returns how many records contain s.
func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.records {
		if strings.Contains(r, s) {
			n++
		}
	}
	return n
}

func (l *logBuffer) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.records, "\n")
}

// content returns n deterministic pseudo-random bytes.
func content(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 99))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

// projectTree is the tree most tests mount, shaped like a BIM 360 account.
var projectTree = map[string][]byte{
	"Hub A/Project 1/Project Files/readme.txt":            []byte("hello from the cloud\n"),
	"Hub A/Project 1/Project Files/empty.dat":             {},
	"Hub A/Project 1/Project Files/one.bin":               {42},
	"Hub A/Project 1/Project Files/page.bin":              content(1, 4095),
	"Hub A/Project 1/Project Files/Models/big.rvt":        content(2, 3<<20+17),
	"Hub A/Project 1/Project Files/Models/Ünïcödé 文件.ifc": content(3, 10000),
	"Hub A/Project 1/Plans/with space.pdf":                content(4, 70000),
	"Hub B/Empty Project/Project Files/.keep":             {},
}

func newProjectMemory() *remotetest.Memory {
	m := remotetest.NewMemory()
	for p, data := range projectTree {
		m.AddFile(p, data)
	}
	return m
}

// mountOne mounts backend as account "acme".
func mountOne(t *testing.T, m *remotetest.Memory, opts fusefs.Options) string {
	t.Helper()
	return filepath.Join(fstest.Mount(t, []fs.Account{{Name: "acme", Backend: m}}, opts), "acme")
}

// run executes a command (never with its working directory on the mount)
// and returns its standard output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, errb.String())
	}
	return out.String()
}

// mountWatching mounts a backend with a change feed as account "acme" and
// returns the mount root.
func mountWatching(t *testing.T, b *remotetest.WatchingMemory, opts fusefs.Options) string {
	t.Helper()
	return fstest.Mount(t, []fs.Account{{Name: "acme", Backend: b}}, opts)
}

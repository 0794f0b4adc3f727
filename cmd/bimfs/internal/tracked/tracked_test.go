package tracked

import (
	"context"
	"strings"
	"testing"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/remotetest"
)

func TestReadOnlyHidesWriter(t *testing.T) {
	m := remotetest.NewMemory()
	m.SetWritable(true)
	if _, ok := Wrap("a", m, nil, false).(remote.Writer); !ok {
		t.Fatal("a writable backend lost its Writer")
	}
	ro := Wrap("a", m, nil, true)
	if _, ok := ro.(remote.Writer); ok || ro.Features().Writable {
		t.Fatal("read-only wrapper still writable")
	}
	w := Wrap("a", m.Watching(), nil, true)
	if _, ok := w.(remote.Watcher); !ok {
		t.Fatal("the change feed was lost")
	}
	if _, ok := w.(remote.Writer); ok {
		t.Fatal("read-only watcher is writable")
	}
	if _, ok := Wrap("a", m.Watching(), nil, false).(interface {
		remote.Writer
		remote.Watcher
	}); !ok {
		t.Fatal("writer+watcher lost an interface")
	}
}

func TestFolderPaths(t *testing.T) {
	ctx := context.Background()
	m := remotetest.NewMemory()
	m.SetWritable(true)
	b := Wrap("work", m, NewPaths(), false)
	paths := b.(*writer).paths
	root, err := b.Root(ctx)
	if err != nil {
		t.Fatal(err)
	}
	proj := m.Add(root.ID, "Tower A", true, nil)
	m.Add(root.ID, "readme.txt", false, []byte("x"))
	if _, err := b.List(ctx, root.ID); err != nil {
		t.Fatal(err)
	}
	sub, err := b.(remote.Writer).Mkdir(ctx, proj.ID, "Models")
	if err != nil {
		t.Fatal(err)
	}
	if got := paths.Folder("work", sub.ID); got != "work/Tower A/Models" {
		t.Fatalf("path %q", got)
	}
	if got := paths.Folder("work", "unknown"); got != "" {
		t.Fatalf("unknown folder %q", got)
	}
	if got := paths.Folder("other", sub.ID); got != "" {
		t.Fatalf("other account %q", got)
	}
}

// TestNameRulesPassThrough: the wrapper keeps the service's name rules
// visible to the filesystem.
func TestNameRulesPassThrough(t *testing.T) {
	m := remotetest.NewMemory()
	m.SetWritable(true)
	m.SetNameRule(func(name string) string {
		if strings.Contains(name, ":") {
			return "no colons"
		}
		return ""
	})
	c, ok := Wrap("a", m, NewPaths(), false).(remote.NameChecker)
	if !ok {
		t.Fatal("the wrapped writer hides remote.NameChecker")
	}
	if err := c.CheckName("a:b"); !remote.IsKind(err, remote.Invalid) {
		t.Fatalf("CheckName(a:b) = %v", err)
	}
	if err := c.CheckName("ab"); err != nil {
		t.Fatal(err)
	}
}

// TestHistoryAndLocationPassThrough: the wrapper keeps version history and
// the service's IDs visible to the filesystem.
func TestHistoryAndLocationPassThrough(t *testing.T) {
	m := remotetest.NewMemory()
	e := m.AddFile("Hub/p/a.txt", []byte("one"))
	m.SetFile("Hub/p/a.txt", []byte("two"))
	w := Wrap("a", m, NewPaths(), true)
	h, ok := w.(remote.Historian)
	if !ok {
		t.Fatal("the wrapper hides remote.Historian")
	}
	vs, err := h.History(context.Background(), e.ID)
	if err != nil || len(vs) != 2 {
		t.Fatalf("history through the wrapper: %v %v", vs, err)
	}
	if _, ok := w.(remote.Locator); !ok {
		t.Fatal("the wrapper hides remote.Locator")
	}
}

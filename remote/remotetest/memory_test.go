package remotetest

import (
	"context"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/bimfs/bimfs/remote"
)

func buildMemory(m **Memory) Builder {
	return func(t *testing.T, tree []File) (remote.Backend, remote.ID) {
		mem := NewMemory()
		*m = mem
		top := mem.MkdirAll("suite/top")
		for _, f := range tree {
			if f.Dir {
				mem.MkdirAll("suite/top/" + f.Path)
			} else {
				mem.AddFile("suite/top/"+f.Path, f.Data)
			}
		}
		return mem, top
	}
}

func TestConformanceMemory(t *testing.T) {
	var mem *Memory
	RunConfig(t, Config{
		Build:  buildMemory(&mem),
		Update: func(t *testing.T, path string, data []byte) { mem.SetFile("suite/top/"+path, data) },
	})
}

func TestConformanceMemoryStreaming(t *testing.T) {
	var mem *Memory
	build := buildMemory(&mem)
	Run(t, func(t *testing.T, tree []File) (remote.Backend, remote.ID) {
		b, top := build(t, tree)
		mem.SetRangeReads(false)
		return b, top
	})
}

func TestMemoryHelpers(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	a := m.AddFile("d/a.txt", []byte("one"))
	dup := m.AddFile("d/a.txt", []byte("two"))
	if a.ID == dup.ID {
		t.Fatal("duplicate names must get distinct IDs")
	}
	slash := m.Add(m.MkdirAll("d"), "x/y", false, []byte("slash"))
	entries, err := m.List(ctx, m.MkdirAll("d"))
	if err != nil || len(entries) != 3 || entries[2].Name != "x/y" || entries[2].ID != slash.ID {
		t.Fatalf("List = %+v, %v", entries, err)
	}

	v2 := m.SetContent(a.ID, []byte("one, again"))
	if v2.Version.ID == a.Version.ID || v2.Version.Number != 2 || v2.Size != 10 {
		t.Fatalf("SetContent = %+v", v2)
	}
	// Old versions stay readable.
	rc, err := m.ReadRange(ctx, a.ID, a.Version, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := io.ReadAll(rc)
	if string(old) != "one" {
		t.Fatalf("old version = %q", old)
	}
	// A version of another file is not this file's.
	if _, err := m.ReadRange(ctx, a.ID, dup.Version, 0, 1); !remote.IsKind(err, remote.NotFound) {
		t.Fatalf("foreign version error = %v", err)
	}

	boom := remote.Errorf(remote.Unauthenticated, "test", "expired")
	m.SetFault(func(_ context.Context, op string, id remote.ID) error {
		if op == OpList {
			return boom
		}
		return nil
	})
	if _, err := m.List(ctx, RootID); !errors.Is(err, boom) {
		t.Fatalf("fault not returned: %v", err)
	}
	m.SetFault(nil)
	if got := m.Calls(OpList); got != 2 {
		t.Fatalf("Calls(List) = %d, want 2", got)
	}
	m.ResetCalls()
	if m.Calls(OpList) != 0 {
		t.Fatal("ResetCalls did not reset")
	}

	m.Delete("d")
	if _, err := m.Stat(ctx, a.ID); !remote.IsKind(err, remote.NotFound) {
		t.Fatalf("Stat after Delete = %v", err)
	}
	if _, ok := m.Lookup("d/a.txt"); ok {
		t.Fatal("Lookup finds deleted file")
	}
}

func TestWatchingMemory(t *testing.T) {
	m := NewMemory()
	w := m.Watching()
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan remote.Change, 10)
	done := make(chan error)
	go func() { done <- w.Watch(ctx, func(c []remote.Change) { got <- c[0] }) }()
	for w.Watchers() == 0 {
		runtime.Gosched()
	}
	e := m.AddFile("f.txt", []byte("x"))
	c := <-got
	if c.Dir != RootID || c.ID != e.ID || c.Deleted {
		t.Fatalf("change = %+v", c)
	}
	m.Drop(e.ID)
	if c := <-got; !c.Deleted || c.ID != e.ID {
		t.Fatalf("delete change = %+v", c)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch returned %v", err)
	}
}

func TestChangeLast(t *testing.T) {
	for in, want := range map[remote.ID]remote.ID{
		"urn:x:abc?version=1": "urn:x:abc?version=2",
		"ABZ":                 "ABA",
		"id-9":                "id-0",
		"--":                  "--x",
	} {
		if got := changeLast(in); got != want {
			t.Errorf("changeLast(%q) = %q, want %q", in, got, want)
		}
	}
}

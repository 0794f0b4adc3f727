package fs_test

import (
	"context"
	"errors"
	"testing"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/remote"
)

func TestResolve(t *testing.T) {
	m := newMem(map[string]string{pf + "/a.txt": "alpha"})
	core := newCore(t, false, fs.Account{Name: "acme", Backend: m})
	ctx := context.Background()

	for _, p := range []string{"", "/", "//"} {
		n, err := core.Resolve(ctx, p)
		if err != nil || n != fs.Node(core.Root()) {
			t.Errorf("Resolve(%q) = %v, %v; want the root", p, n, err)
		}
	}
	for _, p := range []string{"acme/" + pf + "/a.txt", "/acme/" + pf + "/a.txt", "/acme//" + pf + "/a.txt/"} {
		n, err := core.Resolve(ctx, p)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", p, err)
		}
		f, ok := n.(*fs.File)
		if !ok || f.Path() != "acme/"+pf+"/a.txt" || f.Attr().Size != 5 {
			t.Errorf("Resolve(%q) = %T %v", p, n, n.Path())
		}
	}
	if n, err := core.Resolve(ctx, "/acme/Hub/Project"); err != nil || !n.Attr().Dir || n.Path() != "acme/Hub/Project" {
		t.Errorf("Resolve folder = %v, %v", n, err)
	}
	for _, p := range []string{"/nobody", "/acme/Hub/missing", "/acme/Hub/..", "/acme/./Hub"} {
		if _, err := core.Resolve(ctx, p); !remote.IsKind(err, remote.NotFound) {
			t.Errorf("Resolve(%q) error = %v; want NotFound", p, err)
		}
	}
	if _, err := core.Resolve(ctx, "/acme/"+pf+"/a.txt/below"); !errors.Is(err, fs.ErrNotDir) {
		t.Errorf("Resolve through a file: %v; want ErrNotDir", err)
	}
}

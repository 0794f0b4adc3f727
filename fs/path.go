package fs

import (
	"context"
	"strings"
)

// Resolve finds the node at path, a slash-separated path from the root as
// front ends that name files by path (WebDAV) receive it: leading,
// trailing and doubled slashes are ignored, so "", "/" and "//" are the
// root. Every step is a Lookup, answered from the folder's listing. A
// step through a file fails with ErrNotDir; "." and ".." are not
// resolved (a front end cleans its paths first) and are NotFound like any
// missing name.
func (f *FS) Resolve(ctx context.Context, path string) (Node, error) {
	var n Node = f.root
	for _, name := range strings.Split(path, "/") {
		if name == "" {
			continue
		}
		d, ok := n.(*Dir)
		if !ok {
			return nil, ErrNotDir
		}
		if name == "." || name == ".." {
			return nil, errNotFound
		}
		c, err := d.Lookup(ctx, name)
		if err != nil {
			return nil, err
		}
		n = c
	}
	return n, nil
}

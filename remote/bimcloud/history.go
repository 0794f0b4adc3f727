package bimcloud

import (
	"context"

	"github.com/bimfs/bimfs/remote"
)

var _ remote.Historian = (*Backend)(nil)

// History implements remote.Historian. The Manager API keeps no readable
// history of a blob's content, so the history is the current revision
// alone (one get-resource call).
func (b *Backend) History(ctx context.Context, id remote.ID) ([]remote.VersionInfo, error) {
	e, err := b.Stat(ctx, id)
	if err != nil {
		return nil, err
	}
	if e.Dir {
		return nil, errorf(remote.Invalid, "bimcloud.History", "%q is a folder, not a file", e.Name)
	}
	return []remote.VersionInfo{{Version: e.Version, Name: e.Name, Size: e.Size, ModTime: e.ModTime}}, nil
}

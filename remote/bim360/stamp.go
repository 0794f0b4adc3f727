package bim360

import (
	"context"
	"strconv"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// Stamp implements remote.Stamper for folders: one GET folder, whose
// lastModifiedTimeRollup is "the last time the folder or any of its
// children was modified", and whose objectCount counts its children. A
// child added, changed (a new version), renamed, moved away or deleted (a
// Deleted version) moves the rollup; the count covers removals a service
// might not date. Revalidating an unchanged folder then costs one call
// instead of one per 200 entries. Hubs, projects and the read-only data
// folders answer Unsupported (they are listed again as usual).
func (b *Backend) Stamp(ctx context.Context, dir remote.ID) (string, error) {
	if _, owned, _ := b.extra("bim360.Stamp", dir); owned {
		return "", remote.Errorf(remote.Unsupported, "bim360.Stamp", "no stamp for %q", dir)
	}
	e, ok := parseID(dir)
	if !ok || e.kind != kindFolder {
		return "", remote.Errorf(remote.Unsupported, "bim360.Stamp", "no stamp for %q", dir)
	}
	f, err := b.api.Folders.Get(ctx, e.project, e.folder)
	if err != nil {
		return "", notFound("bim360.Stamp", dir, err)
	}
	a := f.Attributes
	return a.LastModifiedTimeRollup.UTC().Format(time.RFC3339Nano) + " " + strconv.Itoa(a.ObjectCount), nil
}

var _ remote.Stamper = (*Backend)(nil)

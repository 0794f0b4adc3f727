package bim360

import (
	"context"

	"github.com/bimfs/bimfs/remote"
)

// ItemTip is the current state of one item as GET item reports it.
type ItemTip struct {
	// Number is the tip version's number (1, 2, …).
	Number int
	// VersionID is the tip version's URN.
	VersionID string
	// Name is the file name the tip version carries.
	Name string
	// Size is the tip's storage size in bytes.
	Size int64
	// Storage is the OSS object URN holding the tip's bytes; "" for a
	// deleted item.
	Storage string
	// Deleted is set when the item was deleted (it is hidden, or its tip
	// is a deletion marker): it has no current content.
	Deleted bool
	// Entry is the file as the filesystem model knows it: pass Entry.ID
	// and Entry.Version to ReadRange to read the tip's bytes.
	Entry remote.Entry
}

// ItemTip returns the tip of item in project projectID with one GET
// item call (300 a minute), never GET tip (50 a minute). A missing item
// is a NotFound error; a deleted one is returned with Deleted set.
func (b *Backend) ItemTip(ctx context.Context, projectID, item string) (*ItemTip, error) {
	const op = "bim360.ItemTip"
	id, ok := itemID(projectID, item)
	if !ok {
		return nil, remote.Errorf(remote.Invalid, op, "project %q or item %q is not a usable ID", projectID, item)
	}
	r, err := b.api.Items.Get(ctx, projectID, item)
	if err != nil {
		return nil, notFound(op, id, err)
	}
	tip, found := r.Tip()
	if !found {
		return nil, remote.Errorf(remote.Unavailable, op, "item %s came without its tip version", item)
	}
	live, _ := alive(&r.Data, tip)
	t := &ItemTip{
		Number:    tip.Attributes.VersionNumber,
		VersionID: tip.ID,
		Name:      tip.Attributes.Name,
		Size:      tip.Attributes.StorageSize,
		Deleted:   !live,
		Entry:     fileEntry(id, tip),
	}
	if live {
		t.Storage = tip.StorageURN()
	}
	return t, nil
}

// HasProject reports whether the account can see project projectID in one
// of its BIM 360 hubs: one hubs call and one project listing per hub,
// until the project is found.
func (b *Backend) HasProject(ctx context.Context, projectID string) (bool, error) {
	hl, err := b.api.Hubs.List(ctx)
	if err != nil {
		return false, err
	}
	for _, h := range hl.Data {
		if h.Attributes.Extension.Type != HubExtensionBIM360 {
			continue
		}
		pl, err := b.api.Projects.List(ctx, h.ID)
		if remote.IsKind(err, remote.Permission) || remote.IsKind(err, remote.NotFound) {
			continue
		}
		if err != nil {
			return false, err
		}
		for _, p := range pl.Data {
			if p.ID == projectID {
				b.hubs.remember(projectID, h.ID)
				return true, nil
			}
		}
	}
	return false, nil
}

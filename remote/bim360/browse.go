package bim360

import (
	"context"
	"sort"

	"github.com/bimfs/bimfs/remote"
)

// List implements remote.Backend.
func (b *Backend) List(ctx context.Context, dir remote.ID) ([]remote.Entry, error) {
	if src, owned, err := b.extra("bim360.List", dir); owned {
		if err != nil {
			return nil, err
		}
		return src.List(ctx, dir)
	}
	e, ok := parseID(dir)
	if !ok {
		return nil, remote.Errorf(remote.NotFound, "bim360.List", "unknown entry %q", dir)
	}
	var out []remote.Entry
	var err error
	switch e.kind {
	case kindAccount:
		out, err = b.listHubs(ctx)
	case kindHub:
		out, err = b.listProjects(ctx, e.hub)
	case kindProject:
		out, err = b.listTopFolders(ctx, e.hub, e.project)
	case kindFolder:
		out, err = b.listFolder(ctx, e.project, e.folder)
	default:
		return nil, remote.Errorf(remote.Invalid, "bim360.List", "%q is not a folder", dir)
	}
	if err != nil {
		return nil, notFound("bim360.List", dir, err)
	}
	// Stable order: readdir pages must not shift between calls.
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	// The read-only folders come last: after the projects, beside the top
	// folders.
	switch {
	case e.kind == kindHub && b.dc != nil:
		out = append(out, b.dc.Folder(e.hub))
	case e.kind == kindProject && b.assets != nil:
		out = append(out, b.assets.Folder(e.hub, e.project))
	}
	return out, nil
}

// Stat implements remote.Backend. A file costs one GET item (its tip comes
// in "included"; GET tip would be limited to 50 calls a minute).
func (b *Backend) Stat(ctx context.Context, id remote.ID) (remote.Entry, error) {
	if src, owned, err := b.extra("bim360.Stat", id); owned {
		if err != nil {
			return remote.Entry{}, err
		}
		return src.Stat(ctx, id)
	}
	e, ok := parseID(id)
	if !ok {
		return remote.Entry{}, remote.Errorf(remote.NotFound, "bim360.Stat", "unknown entry %q", id)
	}
	var ent remote.Entry
	var err error
	switch e.kind {
	case kindAccount:
		return b.Root(ctx)
	case kindHub, kindProject:
		// Found through the parent's listing: GET hubs and GET projects
		// share the 50-a-minute class with their single-object variants,
		// and a listing also says whether the user still sees the object.
		parent := rootID
		if e.kind == kindProject {
			parent, _ = hubID(e.hub)
		}
		var list []remote.Entry
		if list, err = b.List(ctx, parent); err == nil {
			err = remote.Errorf(remote.NotFound, "bim360.Stat", "%s is not visible to this account", id)
			for _, c := range list {
				if c.ID == id {
					ent, err = c, nil
					break
				}
			}
		}
	case kindFolder:
		var f *Folder
		if f, err = b.api.Folders.Get(ctx, e.project, e.folder); err == nil {
			if f.Attributes.Hidden {
				err = remote.Errorf(remote.NotFound, "bim360.Stat", "folder %q was deleted", f.Attributes.Name)
			} else {
				ent = folderEntry(id, f)
			}
		}
	case kindItem:
		var r *ItemResponse
		if r, err = b.api.Items.Get(ctx, e.project, e.item); err == nil {
			tip, found := r.Tip()
			if !found {
				err = remote.Errorf(remote.Unavailable, "bim360.Stat", "item %s came without its tip version", e.item)
			} else if live, why := alive(&r.Data, tip); !live {
				err = remote.Errorf(remote.NotFound, "bim360.Stat", "%s", why)
			} else {
				ent = fileEntry(id, tip)
			}
		}
	}
	if err != nil {
		return remote.Entry{}, notFound("bim360.Stat", id, err)
	}
	return ent, nil
}

func (b *Backend) listHubs(ctx context.Context) ([]remote.Entry, error) {
	hl, err := b.api.Hubs.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]remote.Entry, 0, len(hl.Data))
	for _, h := range hl.Data {
		if h.Attributes.Extension.Type != HubExtensionBIM360 {
			continue // team and personal hubs hold no Docs projects
		}
		id, ok := hubID(h.ID)
		if !ok {
			b.log.Warn("skipping hub with an unusable ID", "hub", h.ID)
			continue
		}
		out = append(out, remote.Entry{ID: id, Name: h.Attributes.Name, Dir: true, ReadOnly: true})
	}
	return out, nil
}

func (b *Backend) listProjects(ctx context.Context, hub string) ([]remote.Entry, error) {
	pl, err := b.api.Projects.List(ctx, hub)
	if err != nil {
		return nil, err
	}
	out := make([]remote.Entry, 0, len(pl.Data))
	for _, p := range pl.Data {
		id, ok := projectID(hub, p.ID)
		if !ok {
			b.log.Warn("skipping project with an unusable ID", "project", p.ID)
			continue
		}
		b.hubs.remember(p.ID, hub)
		if root := p.Relationships.RootFolder.Data.ID; root != "" {
			b.tree.setRoot(root)
		}
		if loc := p.Relationships.Locations.Data.ID; loc != "" && b.assets != nil {
			b.assets.SetLocationsContainer(p.ID, loc)
		}
		// The project root is not writable: files cannot live there, only
		// in the top folders below it.
		out = append(out, remote.Entry{ID: id, Name: p.Attributes.Name, Dir: true, ReadOnly: true})
	}
	return out, nil
}

func (b *Backend) listTopFolders(ctx context.Context, hub, project string) ([]remote.Entry, error) {
	tl, err := b.api.Projects.TopFolders(ctx, &TopFoldersRequest{HubID: hub, ProjectID: project})
	if err != nil {
		return nil, err
	}
	out := make([]remote.Entry, 0, len(tl.Data))
	for i := range tl.Data {
		f := &tl.Data[i]
		if f.Attributes.Hidden {
			continue
		}
		id, ok := folderID(project, f.ID)
		if !ok {
			continue
		}
		b.tree.setDepth(f.ID, 1)
		out = append(out, folderEntry(id, f))
	}
	return out, nil
}

// listFolder lists one folder with one contents call per 200 entries. Each
// file's name, size, time and version come from the tip version the listing
// includes; only a tip missing from "included" costs an extra GET item.
func (b *Backend) listFolder(ctx context.Context, project, folder string) ([]remote.Entry, error) {
	fc, err := b.api.Folders.Contents(ctx, &ContentsRequest{ProjectID: project, FolderID: folder})
	if err != nil {
		return nil, err
	}
	out := make([]remote.Entry, 0, len(fc.Folders)+len(fc.Items))
	level := b.tree.level(folder)
	for i := range fc.Folders {
		f := &fc.Folders[i]
		if f.Attributes.Hidden {
			continue
		}
		if id, ok := folderID(project, f.ID); ok {
			if level > 0 {
				b.tree.setDepth(f.ID, level+1)
			}
			out = append(out, folderEntry(id, f))
		}
	}
	for i := range fc.Items {
		it := &fc.Items[i]
		id, ok := itemID(project, it.ID)
		if !ok || it.Attributes.Hidden {
			continue
		}
		tip, found := fc.Tip(it)
		if !found {
			r, err := b.api.Items.Get(ctx, project, it.ID)
			if remote.IsKind(err, remote.NotFound) {
				continue // deleted since the listing
			}
			if err != nil {
				return nil, err
			}
			b.log.Warn("folder listing lacked an item's tip version", "item", it.ID)
			if tip, found = r.Tip(); !found {
				continue
			}
			it = &r.Data
		}
		if live, _ := alive(it, tip); !live {
			continue
		}
		out = append(out, fileEntry(id, tip))
	}
	return out, nil
}

// alive reports whether an item is a visible file: deleted items are hidden
// and their tip is a Deleted version with no storage.
func alive(it *Item, tip *Version) (bool, string) {
	switch {
	case it.Attributes.Hidden:
		return false, "item " + it.ID + " was deleted"
	case tip.Deleted():
		return false, "item " + it.ID + " was deleted (its tip version is a deletion)"
	}
	return true, ""
}

func folderEntry(id remote.ID, f *Folder) remote.Entry {
	return remote.Entry{
		ID:      id,
		Name:    f.Attributes.Name,
		Dir:     true,
		ModTime: f.Attributes.LastModifiedTime.Time,
	}
}

// fileEntry describes a file by its tip version: the version's name (the
// item's displayName is reserved in BIM 360), storage size and time.
func fileEntry(id remote.ID, tip *Version) remote.Entry {
	return remote.Entry{
		ID:      id,
		Name:    tip.Attributes.Name,
		Size:    tip.Attributes.StorageSize,
		ModTime: tip.Attributes.LastModifiedTime.Time,
		Version: remote.Version{
			ID:     tip.ID,
			Number: tip.Attributes.VersionNumber,
			Ref:    tip.StorageURN(),
		},
	}
}

package bim360

import (
	"context"
	"sort"
	"sync"

	"github.com/bimfs/bimfs/remote"
)

var (
	_ remote.Historian = (*Backend)(nil)
	_ remote.Locator   = (*Backend)(nil)
)

const opHistory = "bim360.History"

// History implements remote.Historian with GET item versions
// (getItemVersions), one call per 200 versions. Versions that mark a
// deletion, and any without a storage object, have no bytes and are left
// out. The filesystem calls this only when a file's tip version changed
// since its last call, which keeps it well inside the Data Management
// budget for that endpoint.
func (b *Backend) History(ctx context.Context, id remote.ID) ([]remote.VersionInfo, error) {
	e, ok := parseID(id)
	if !ok {
		return nil, remote.Errorf(remote.NotFound, opHistory, "unknown entry %q", id)
	}
	if e.kind != kindItem {
		return nil, remote.Errorf(remote.Invalid, opHistory, "%q is not a file", id)
	}
	vl, err := b.api.Items.Versions(ctx, &VersionsRequest{ProjectID: e.project, ItemID: e.item})
	if err != nil {
		return nil, notFound(opHistory, id, err)
	}
	out := make([]remote.VersionInfo, 0, len(vl.Data))
	for i := range vl.Data {
		v := &vl.Data[i]
		if v.Deleted() {
			continue
		}
		if _, _, ok := ParseStorageURN(v.StorageURN()); !ok {
			continue
		}
		out = append(out, remote.VersionInfo{
			Version: remote.Version{ID: v.ID, Number: v.Attributes.VersionNumber, Ref: v.StorageURN()},
			Name:    v.Attributes.Name,
			Size:    v.Attributes.StorageSize,
			ModTime: v.Attributes.LastModifiedTime.Time,
			Author:  v.Attributes.CreateUserName,
		})
	}
	// The service lists newest first; History promises oldest first.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Version.Number < out[j].Version.Number })
	return out, nil
}

// Locate implements remote.Locator from the entry ID alone (items and
// folders carry their project ID) and the hubs seen while listing
// projects.
func (b *Backend) Locate(id remote.ID) (remote.Location, bool) {
	e, ok := parseID(id)
	if !ok {
		return remote.Location{}, false
	}
	loc := remote.Location{ProjectID: e.project, HubID: e.hub}
	switch e.kind {
	case kindAccount:
		return remote.Location{}, true
	case kindHub:
		loc.ObjectID = e.hub
	case kindProject:
		loc.ObjectID = e.project
	case kindFolder:
		loc.ObjectID = e.folder
	case kindItem:
		loc.ObjectID = e.item
	}
	if loc.HubID == "" && loc.ProjectID != "" {
		loc.HubID = b.hubs.hub(loc.ProjectID)
	}
	return loc, true
}

// projectHubs maps project IDs to the hub they were listed in. The zero
// value is ready to use.
type projectHubs struct{ m sync.Map }

func (p *projectHubs) remember(project, hub string) { p.m.Store(project, hub) }

func (p *projectHubs) hub(project string) string {
	h, _ := p.m.Load(project)
	s, _ := h.(string)
	return s
}

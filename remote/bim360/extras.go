package bim360

import (
	"context"
	"io"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bim360/assets"
	"github.com/bimfs/bimfs/remote/bim360/dataconnector"
)

// Read-only data beside the Docs tree. Each hub directory lists a "Data
// Connector" folder after its projects (the account's completed data
// extracts, see dataconnector.Source) and each project directory an
// "Assets" folder beside its top folders (JSON and CSV files rendered
// from the Assets API, see assets.Source). Their entry IDs start with
// "dc:" and "assets:"; List, Stat and ReadRange hand them to the source,
// and every write below them fails with Permission.
//
// Showing the folders costs no call: the sources call their APIs only when
// a folder below them is listed, so a user without the entitlement pays
// nothing until opening one, and Config.NoDataConnector / NoAssets hide
// them altogether.

// extraSource is the part of a source the backend dispatches to.
type extraSource interface {
	List(ctx context.Context, id remote.ID) ([]remote.Entry, error)
	Stat(ctx context.Context, id remote.ID) (remote.Entry, error)
	ReadRange(ctx context.Context, id remote.ID, v remote.Version, off, length int64) (io.ReadCloser, error)
}

// extra returns the source owning id, if id is one of theirs. A source that
// is configured off owns its IDs all the same and answers NotFound.
func (b *Backend) extra(op string, id remote.ID) (extraSource, bool, error) {
	switch {
	case dataconnector.Owns(id):
		if b.dc == nil {
			return nil, true, remote.Errorf(remote.NotFound, op, "the Data Connector folder is off for account %s", b.cfg.Account)
		}
		return b.dc, true, nil
	case assets.Owns(id):
		if b.assets == nil {
			return nil, true, remote.Errorf(remote.NotFound, op, "the Assets folder is off for account %s", b.cfg.Account)
		}
		return b.assets, true, nil
	}
	return nil, false, nil
}

// readOnlyExtra returns the Permission error for a write that touches any
// of ids below a read-only source, or nil.
func readOnlyExtra(op string, ids ...remote.ID) error {
	for _, id := range ids {
		switch {
		case dataconnector.Owns(id):
			return dataconnector.ReadOnlyError(op)
		case assets.Owns(id):
			return assets.ReadOnlyError(op)
		}
	}
	return nil
}

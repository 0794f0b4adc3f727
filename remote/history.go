package remote

import (
	"context"
	"time"
)

// VersionInfo describes one version of a file as the service's history
// lists it.
type VersionInfo struct {
	// Version identifies the version; pass it to ReadRange to read its
	// bytes (they never change).
	Version Version
	// Name is the file's name at that version, exactly as the service
	// shows it.
	Name string
	// Size is the version's content length in bytes.
	Size int64
	// ModTime is when the version was made.
	ModTime time.Time
	// Author names who made the version, where the service says; "" when
	// it does not.
	Author string
}

// Historian is implemented by backends that can list a file's versions.
// History returns the versions of file id that still have content, oldest
// first, following every page; versions that mark a deletion are left
// out. A service without a history call lists only the current version.
// Callers cache the answer per tip version: a listing that shows the same
// tip version needs no new call.
type Historian interface {
	History(ctx context.Context, id ID) ([]VersionInfo, error)
}

// Location is where an object lives in its service, in the service's own
// terms: what a user or a script needs to find the object through the
// service's API (an ArcGIS source manifest, a support request). Fields the
// service has no notion of are empty.
type Location struct {
	// ObjectID is the service's own ID of the object (the BIM 360 item
	// URN, the BIMcloud blob ID), as opposed to the backend's ID, which
	// may encode more.
	ObjectID string
	// ProjectID is the BIM 360 Data Management project ID ("b.<uuid>").
	ProjectID string
	// HubID is the BIM 360 Data Management hub (account) ID ("b.<uuid>").
	HubID string
}

// Locator is implemented by backends that can say where an object lives.
// Locate answers from memory, never with a network call (it serves stat
// and getxattr); ok is false for IDs the backend did not issue.
type Locator interface {
	Locate(id ID) (loc Location, ok bool)
}

package fs

import (
	"strconv"

	"github.com/bimfs/bimfs/remote"
)

// Names of the version attributes (extended attributes) of files and of
// versions below .versions. All are read-only and answered from memory:
// the listing the file came from, and remote.Locator, which never calls
// the service.
const (
	// XattrID is the service's ID of the file (BIM 360 item URN, BIMcloud
	// blob ID).
	XattrID = "user.bimfs.id"
	// XattrVersion is the version number; absent where the service
	// numbers none (BIMcloud).
	XattrVersion = "user.bimfs.version"
	// XattrVersionID is the service's ID of the version.
	XattrVersionID = "user.bimfs.version_id"
	// XattrProjectID is the BIM 360 Data Management project ID ("b.…").
	XattrProjectID = "user.bimfs.project_id"
	// XattrHubID is the BIM 360 Data Management hub ID ("b.…").
	XattrHubID = "user.bimfs.hub_id"
)

// Xattr is one extended attribute.
type Xattr struct {
	Name, Value string
}

// VersionXattrs returns the version attributes of the service's version
// the file is based on (while staged edits are not uploaded yet, the
// version they will follow), in a fixed order; none for a file never
// uploaded. They come from the listing the file was last seen in.
func (f *File) VersionXattrs() []Xattr {
	f.mu.Lock()
	id, e := f.id, f.entry
	f.mu.Unlock()
	if isStagedID(id) {
		return nil
	}
	return f.acct.versionXattrs(id, e.Version)
}

// VersionXattrs returns the version attributes of this version.
func (vf *VersionFile) VersionXattrs() []Xattr {
	return vf.parent.parent.folder.acct.versionXattrs(vf.parent.id, vf.info.Version)
}

// versionXattrs describes version v of file id.
func (a *account) versionXattrs(id remote.ID, v remote.Version) []Xattr {
	loc := remote.Location{ObjectID: string(id)}
	if l, ok := a.backend.(remote.Locator); ok {
		if got, ok := l.Locate(id); ok && got.ObjectID != "" {
			loc = got
		}
	}
	out := []Xattr{{XattrID, loc.ObjectID}}
	if v.Number > 0 {
		out = append(out, Xattr{XattrVersion, strconv.Itoa(v.Number)})
	}
	if v.ID != "" {
		out = append(out, Xattr{XattrVersionID, v.ID})
	}
	if loc.ProjectID != "" {
		out = append(out, Xattr{XattrProjectID, loc.ProjectID})
	}
	if loc.HubID != "" {
		out = append(out, Xattr{XattrHubID, loc.HubID})
	}
	return out
}

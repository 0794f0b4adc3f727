package bimcloud

import (
	"strings"

	"github.com/bimfs/bimfs/remote"
)

// forbiddenNameChars are the characters the spec's Resource.name pattern
// (^[^<>:;,?"*|/\\]+$) excludes.
const forbiddenNameChars = `<>:;,?"*|/\`

// ValidName checks a folder or file name before it is sent to the Manager,
// so a bad name fails with a clear Invalid error instead of a server-side
// EntityValidationError. "." and ".." match the pattern but could never be
// reached through a filesystem, so they are refused too.
func ValidName(name string) error {
	switch {
	case name == "":
		return errorf(remote.Invalid, "bimcloud.ValidName", "empty name")
	case name == "." || name == "..":
		return errorf(remote.Invalid, "bimcloud.ValidName", "name %q is reserved", name)
	}
	if i := strings.IndexAny(name, forbiddenNameChars); i >= 0 {
		return errorf(remote.Invalid, "bimcloud.ValidName", "name %q contains %q, which BIMcloud does not allow in names (any of %s)", name, name[i:i+1], forbiddenNameChars)
	}
	return nil
}

// CheckName implements remote.NameChecker: the filesystem refuses a name
// the Manager would refuse when the name is given (create, mkdir, rename),
// not when an upload fails later.
func (b *Backend) CheckName(name string) error { return ValidName(name) }

package fusefs

import (
	"strings"

	"github.com/bimfs/bimfs/fs"
)

// findXattr returns the value of attribute name among attrs.
func findXattr(attrs []fs.Xattr, name string) (string, bool) {
	for _, a := range attrs {
		if a.Name == name {
			return a.Value, true
		}
	}
	return "", false
}

// xattrNames is the listxattr(2) answer for attrs and extra names: each
// name NUL-terminated.
func xattrNames(attrs []fs.Xattr, extra ...string) string {
	var b strings.Builder
	for _, n := range extra {
		b.WriteString(n)
		b.WriteByte(0)
	}
	for _, a := range attrs {
		b.WriteString(a.Name)
		b.WriteByte(0)
	}
	return b.String()
}

package fusefs_test

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/hanwen/go-fuse/v2/posixtest"

	"github.com/bimfs/bimfs/fs/fusefs"
)

// notApplicable lists go-fuse's POSIX tests that check features the
// services do not have, with the reason (documented in the fs package).
var notApplicable = map[string]string{
	"Link":                "no hard links (EPERM)",
	"LinkUnlinkRename":    "no hard links (EPERM)",
	"SymlinkReadlink":     "no symlinks (EPERM)",
	"SetattrSymlink":      "no symlinks (EPERM)",
	"OpenSymlinkRace":     "no symlinks (EPERM)",
	"FileBasic":           "modes are fixed (chmod is accepted and ignored)",
	"XAttr":               "only the read-only user.bimfs.* attributes exist (ENOTSUP on set)",
	"XAttrLarge":          "only the read-only user.bimfs.* attributes exist",
	"FcntlFlockLocksFile": "byte-range locks are not shared with the services",
	"Tmpfile":             "O_TMPFILE is EOPNOTSUPP (callers fall back to a named file)",
}

// TestPosixSuite runs go-fuse's POSIX behaviour tests that apply to a
// cloud-backed filesystem on a writable mount.
func TestPosixSuite(t *testing.T) {
	mem := newWritableMemory()
	// Without kernel attribute caching: the suite checks exact answers
	// right after a change (nlink of a file replaced by rename), which the
	// kernel would otherwise serve from its cache until the filesystem's
	// asynchronous invalidation arrives.
	mnt := mountWritable(t, mem, fusefs.Options{EntryTimeout: -1, AttrTimeout: -1, NegativeTimeout: -1})
	var names []string
	for n := range posixtest.All {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if why, skip := notApplicable[name]; skip {
			t.Logf("%s: not applicable: %s", name, why)
			continue
		}
		dir := filepath.Join(mnt, pf, "posix-"+name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) { posixtest.All[name](t, dir) })
	}
}

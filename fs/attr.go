package fs

import (
	"crypto/sha256"
	"encoding/binary"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// Attr is what stat shows of a file or folder.
type Attr struct {
	// Ino is the node's inode number: derived from what the object is,
	// never from a counter, so it stays across lookups and listings.
	Ino     uint64
	Dir     bool
	Size    int64
	ModTime time.Time
	// Writable is false where the service will refuse changes (read-only
	// accounts, entries the service marks read-only).
	Writable bool
	// Protected is set on folders of a writable account that the service
	// marks read-only (hubs, projects): changes below them fail with a
	// permission error rather than a read-only filesystem error.
	Protected bool
	// Nlink is the link count (2 + subfolders for folders when known).
	Nlink uint32
	// Version is the version a file shows ("" while staged content is
	// shown instead).
	Version string
}

// Inode numbers are the first 8 bytes of SHA-256(account NUL kind NUL ID):
// 0, 1 (the root) and ^0 (reserved by FUSE libraries) are never produced.

// RootIno is the inode number of the root.
const RootIno = 1

func hashIno(parts ...string) uint64 {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	ino := binary.LittleEndian.Uint64(h.Sum(nil))
	if ino <= RootIno || ino == ^uint64(0) {
		ino ^= 0x9e3779b97f4a7c15
	}
	return ino
}

// objectIno is the inode number of remote object id in account.
func objectIno(account string, id remote.ID) uint64 { return hashIno(account, "object", string(id)) }

// accountIno is the inode number of an account's directory.
func accountIno(account string) uint64 { return hashIno(account, "account") }

package fs

import (
	"crypto/sha256"
	"encoding/binary"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/bimfs/bimfs/remote"
)

// Inode numbers are derived from what an object is, never from a counter,
// so an object keeps its number across kernel forgets, remounts and
// listings: ino = first 8 bytes of SHA-256(account NUL kind NUL ID).
// 0, 1 (the mount root) and ^0 (reserved by go-fuse) are never produced.

const (
	rootIno = 1
	// inoGen is the generation of every inode: numbers are never reused
	// for a different object, so the generation never has to change.
	inoGen = 1
)

func hashIno(parts ...string) uint64 {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	ino := binary.LittleEndian.Uint64(h.Sum(nil))
	if ino <= rootIno || ino == ^uint64(0) {
		ino ^= 0x9e3779b97f4a7c15
	}
	return ino
}

// objectIno is the inode number of remote object id in account.
func objectIno(account string, id remote.ID) uint64 { return hashIno(account, "object", string(id)) }

// accountIno is the inode number of an account's directory.
func accountIno(account string) uint64 { return hashIno(account, "account") }

// Permission bits. They only inform: the filesystem itself refuses what
// the service would (EROFS for read-only accounts, EACCES for entries the
// service marks read-only).
const (
	dirMode    = syscall.S_IFDIR | 0o755
	roDirMode  = syscall.S_IFDIR | 0o555 // a ReadOnly folder of a writable account
	fileMode   = syscall.S_IFREG | 0o644
	roFileMode = syscall.S_IFREG | 0o444
	// blockSize is the I/O size reported in st_blksize; tools such as cp
	// size their buffers from it.
	blockSize = 1 << 20
)

// fillDir fills attributes of a folder; readOnly marks a folder of a
// writable account whose children the service will not let change.
func (f *filesystem) fillDir(out *fuse.Attr, ino uint64, mtime time.Time, readOnly bool) {
	mode := uint32(dirMode)
	if readOnly {
		mode = roDirMode
	}
	*out = fuse.Attr{Ino: ino, Mode: mode, Nlink: 2, Size: 4096, Blocks: 8, Blksize: blockSize}
	f.fillCommon(out, mtime)
}

// fillFile fills attributes of a file from its entry; writable is whether
// the file may be written.
func (f *filesystem) fillFile(out *fuse.Attr, ino uint64, e remote.Entry, writable bool) {
	size := uint64(max(e.Size, 0))
	mode := uint32(roFileMode)
	if writable {
		mode = fileMode
	}
	*out = fuse.Attr{Ino: ino, Mode: mode, Nlink: 1, Size: size, Blocks: (size + 511) / 512, Blksize: blockSize}
	f.fillCommon(out, e.ModTime)
}

func (f *filesystem) fillCommon(out *fuse.Attr, mtime time.Time) {
	if mtime.IsZero() {
		mtime = f.started
	}
	out.SetTimes(&mtime, &mtime, &mtime)
	out.Uid, out.Gid = f.uid, f.gid
}

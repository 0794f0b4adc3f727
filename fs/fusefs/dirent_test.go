package fusefs_test

import (
	"syscall"
	"unsafe"
)

func unsafePointer(b *byte) unsafe.Pointer { return unsafe.Pointer(b) }

// direntName returns the NUL-terminated name of a raw dirent.
func direntName(de *syscall.Dirent) string {
	b := (*[256]byte)(unsafe.Pointer(&de.Name[0]))
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b[:])
}

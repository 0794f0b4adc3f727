package emulator

import (
	"encoding/binary"
	"io"
)

// Content is the immutable body of one blob revision. ReadAt follows
// io.ReaderAt and must be safe for concurrent use.
type Content interface {
	Size() int64
	ReadAt(p []byte, off int64) (int, error)
}

// Bytes returns content holding a copy of b.
func Bytes(b []byte) Content {
	return bytesContent(append([]byte(nil), b...))
}

type bytesContent []byte

func (b bytesContent) Size() int64 { return int64(len(b)) }

func (b bytesContent) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Synthetic returns size bytes of pseudo-random content that costs no
// memory: byte i is SyntheticByte(seed, i). Tests verify downloads without
// keeping a copy, and 1 GiB files are cheap.
func Synthetic(seed, size int64) Content {
	return syntheticContent{seed: seed, size: size}
}

// SyntheticByte is byte off of Synthetic(seed, …): a pure function of seed
// and offset.
func SyntheticByte(seed, off int64) byte {
	return byte(syntheticWord(seed, off>>3) >> (8 * uint(off&7)))
}

// syntheticWord is the 8 bytes at offset 8*word, little-endian. SplitMix64
// finalizer: cheap and well mixed, so neighbouring words differ.
func syntheticWord(seed, word int64) uint64 {
	x := uint64(seed)*0x9e3779b97f4a7c15 ^ uint64(word)
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

type syntheticContent struct{ seed, size int64 }

func (c syntheticContent) Size() int64 { return c.size }

func (c syntheticContent) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if off >= c.size {
		return 0, io.EOF
	}
	n := len(p)
	if rem := c.size - off; int64(n) > rem {
		n = int(rem)
	}
	i := 0
	// Unaligned head, whole words, tail: whole words make 1 GiB streams cheap.
	for ; i < n && (off+int64(i))&7 != 0; i++ {
		p[i] = SyntheticByte(c.seed, off+int64(i))
	}
	for ; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(p[i:], syntheticWord(c.seed, (off+int64(i))>>3))
	}
	for ; i < n; i++ {
		p[i] = SyntheticByte(c.seed, off+int64(i))
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

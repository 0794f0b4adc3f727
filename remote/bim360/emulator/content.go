package emulator

import (
	"encoding/binary"
	"io"
)

// Content is the byte content of a stored object. Implementations must be
// safe for concurrent ReadAt calls and must never change.
type Content interface {
	Size() int64
	ReadAt(p []byte, off int64) (int, error)
}

// Bytes returns Content holding a copy of b.
func Bytes(b []byte) Content {
	c := make([]byte, len(b))
	copy(c, b)
	return bytesContent(c)
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

// Synthetic returns Content of the given size whose bytes are a pure
// function of (seed, offset), so a 10 GiB file costs no memory and any range
// can be verified with SyntheticByte.
func Synthetic(seed, size int64) Content {
	if size < 0 {
		size = 0
	}
	return synthetic{seed: seed, size: size}
}

type synthetic struct{ seed, size int64 }

func (s synthetic) Size() int64 { return s.size }

func (s synthetic) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if off >= s.size {
		return 0, io.EOF
	}
	want := len(p)
	if rest := s.size - off; int64(want) > rest {
		want = int(rest)
	}
	n := 0
	// Unaligned head.
	for n < want && (off+int64(n))&7 != 0 {
		p[n] = SyntheticByte(s.seed, off+int64(n))
		n++
	}
	// Whole 8-byte words: one mix per word keeps multi-GiB reads cheap.
	var w [8]byte
	for want-n >= 8 {
		binary.LittleEndian.PutUint64(w[:], mix(s.seed, (off+int64(n))>>3))
		copy(p[n:n+8], w[:])
		n += 8
	}
	for n < want {
		p[n] = SyntheticByte(s.seed, off+int64(n))
		n++
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// SyntheticByte returns the byte at offset off of any Synthetic content made
// with seed.
func SyntheticByte(seed, off int64) byte {
	return byte(mix(seed, off>>3) >> (8 * uint(off&7)))
}

// mix is the splitmix64 finaliser over (seed, word index).
func mix(seed, word int64) uint64 {
	z := uint64(seed)*0x9E3779B97F4A7C15 + uint64(word)*0xD1B54A32D192ED03 + 0x94D049BB133111EB
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// Package content holds the immutable object bodies both service
// emulators serve: copies of small byte slices and synthetic content whose
// bytes are a pure function of a seed and the offset, so a 10 GiB object
// costs no memory and any range can be verified without a copy.
package content

import (
	"encoding/binary"
	"io"
)

// Content is the body of one stored object version. ReadAt follows
// io.ReaderAt, must be safe for concurrent use, and the bytes never change.
type Content interface {
	Size() int64
	ReadAt(p []byte, off int64) (int, error)
}

// Bytes returns Content holding a copy of b.
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

// Synthetic returns size bytes of pseudo-random content: byte i is
// SyntheticByte(seed, i).
func Synthetic(seed, size int64) Content {
	return synthetic{seed: seed, size: max(size, 0)}
}

// SyntheticByte is the byte at offset off of any Synthetic content made
// with seed.
func SyntheticByte(seed, off int64) byte {
	return byte(word(seed, off>>3) >> (8 * uint(off&7)))
}

// word is the 8 bytes at offset 8*w, little-endian: the SplitMix64
// finaliser, cheap and well mixed so neighbouring words differ.
func word(seed, w int64) uint64 {
	z := uint64(seed)*0x9E3779B97F4A7C15 + uint64(w)*0xD1B54A32D192ED03 + 0x94D049BB133111EB
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
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
	n := len(p)
	if rest := s.size - off; int64(n) > rest {
		n = int(rest)
	}
	i := 0
	// Unaligned head, whole words, tail: one mix per word keeps multi-GiB
	// reads cheap.
	for ; i < n && (off+int64(i))&7 != 0; i++ {
		p[i] = SyntheticByte(s.seed, off+int64(i))
	}
	for ; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(p[i:], word(s.seed, (off+int64(i))>>3))
	}
	for ; i < n; i++ {
		p[i] = SyntheticByte(s.seed, off+int64(i))
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

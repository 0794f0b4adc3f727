package emulator

import "github.com/bimfs/bimfs/remote/internal/content"

// Content is the immutable body of one stored object version; ReadAt
// follows io.ReaderAt and is safe for concurrent use.
type Content = content.Content

// Bytes returns Content holding a copy of b.
func Bytes(b []byte) Content { return content.Bytes(b) }

// Synthetic returns size bytes whose byte i is SyntheticByte(seed, i), so a
// 10 GiB object costs no memory and any range can be verified.
func Synthetic(seed, size int64) Content { return content.Synthetic(seed, size) }

// SyntheticByte is the byte at offset off of Synthetic content made with seed.
func SyntheticByte(seed, off int64) byte { return content.SyntheticByte(seed, off) }

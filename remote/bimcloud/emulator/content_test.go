package emulator

import (
	"io"
	"testing"
	"time"
)

func TestSyntheticMatchesSyntheticByte(t *testing.T) {
	c := Synthetic(12345, 1000)
	if c.Size() != 1000 {
		t.Fatal(c.Size())
	}
	// Every alignment of offset and length, against the pure function.
	for off := int64(0); off < 20; off++ {
		for n := 0; n < 25; n++ {
			p := make([]byte, n)
			got, err := c.ReadAt(p, off)
			if got != n || err != nil {
				t.Fatalf("ReadAt(%d, %d) = %d, %v", n, off, got, err)
			}
			for i := range p {
				if p[i] != SyntheticByte(12345, off+int64(i)) {
					t.Fatalf("byte %d differs", off+int64(i))
				}
			}
		}
	}
	// Reads past the end are short with io.EOF, as io.ReaderAt requires.
	p := make([]byte, 10)
	if n, err := c.ReadAt(p, 995); n != 5 || err != io.EOF {
		t.Fatalf("tail read: %d %v", n, err)
	}
	if n, err := c.ReadAt(p, 1000); n != 0 || err != io.EOF {
		t.Fatalf("read at end: %d %v", n, err)
	}
	// Different seeds and neighbouring offsets differ.
	same := 0
	for i := int64(0); i < 256; i++ {
		if SyntheticByte(1, i) == SyntheticByte(2, i) {
			same++
		}
	}
	if same > 16 {
		t.Fatalf("seeds 1 and 2 agree on %d of 256 bytes", same)
	}
	if SyntheticByte(1, 0) == SyntheticByte(1, 1) && SyntheticByte(1, 1) == SyntheticByte(1, 2) {
		t.Fatal("neighbouring bytes repeat")
	}
}

func TestBytesContent(t *testing.T) {
	src := []byte("hello")
	c := Bytes(src)
	src[0] = 'j'
	p := make([]byte, 5)
	if n, err := c.ReadAt(p, 0); n != 5 || err != nil || string(p) != "hello" {
		t.Fatalf("%d %v %q (Bytes must copy)", n, err, p)
	}
	if n, err := c.ReadAt(p, 3); n != 2 || err != io.EOF || string(p[:2]) != "lo" {
		t.Fatalf("tail: %d %v", n, err)
	}
	if n, err := Bytes(nil).ReadAt(p, 0); n != 0 || err != io.EOF {
		t.Fatalf("empty: %d %v", n, err)
	}
}

func BenchmarkSyntheticReadAt(b *testing.B) {
	c := Synthetic(1, 1<<40)
	p := make([]byte, 1<<20)
	b.SetBytes(int64(len(p)))
	for i := 0; b.Loop(); i++ {
		c.ReadAt(p, int64(i)*int64(len(p)))
	}
}

var farFuture = time.Now().Add(24 * time.Hour)

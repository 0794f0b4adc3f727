package content

import (
	"bytes"
	"io"
	"testing"
)

func TestSyntheticReadAtMatchesSyntheticByte(t *testing.T) {
	c := Synthetic(9, 1000)
	for _, tc := range []struct{ off, n int }{{0, 1000}, {3, 17}, {8, 64}, {990, 20}, {999, 1}} {
		p := make([]byte, tc.n)
		n, err := c.ReadAt(p, int64(tc.off))
		want := min(tc.n, 1000-tc.off)
		if n != want || (n < tc.n && err != io.EOF) || (n == tc.n && err != nil) {
			t.Fatalf("ReadAt(%d, %d) = %d, %v", tc.off, tc.n, n, err)
		}
		for i := 0; i < n; i++ {
			if p[i] != SyntheticByte(9, int64(tc.off+i)) {
				t.Fatalf("byte %d differs", tc.off+i)
			}
		}
	}
	if n, err := c.ReadAt(make([]byte, 1), 1000); n != 0 || err != io.EOF {
		t.Fatalf("read at end: %d %v", n, err)
	}
	a, b := make([]byte, 64), make([]byte, 64)
	Synthetic(1, 64).ReadAt(a, 0)
	Synthetic(2, 64).ReadAt(b, 0)
	if bytes.Equal(a, b) {
		t.Fatal("different seeds give the same bytes")
	}
}

func TestBytesIsACopy(t *testing.T) {
	src := []byte("hello")
	c := Bytes(src)
	src[0] = 'j'
	p := make([]byte, 10)
	n, err := c.ReadAt(p, 0)
	if string(p[:n]) != "hello" || err != io.EOF {
		t.Fatalf("%q %v", p[:n], err)
	}
}

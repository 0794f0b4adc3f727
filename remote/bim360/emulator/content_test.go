package emulator

import (
	"io"
	"testing"
)

func TestSyntheticReadAt(t *testing.T) {
	c := Synthetic(42, 1000)
	for _, tc := range []struct {
		off, n  int64
		wantN   int
		wantEOF bool
	}{
		{0, 16, 16, false},
		{3, 29, 29, false}, // unaligned start and end
		{990, 10, 10, false},
		{995, 10, 5, true},
		{1000, 1, 0, true},
	} {
		p := make([]byte, tc.n)
		n, err := c.ReadAt(p, tc.off)
		if n != tc.wantN || (err == io.EOF) != tc.wantEOF {
			t.Errorf("ReadAt(%d, %d) = %d, %v", tc.off, tc.n, n, err)
		}
		checkSynthetic(t, p[:n], 42, tc.off)
	}
	// Different seeds give different bytes.
	a, b := make([]byte, 64), make([]byte, 64)
	Synthetic(1, 64).ReadAt(a, 0)
	Synthetic(2, 64).ReadAt(b, 0)
	if string(a) == string(b) {
		t.Error("seeds 1 and 2 give the same bytes")
	}
}

func TestBytesCopies(t *testing.T) {
	src := []byte("abc")
	c := Bytes(src)
	src[0] = 'x'
	p := make([]byte, 5)
	n, err := c.ReadAt(p, 0)
	if n != 3 || err != io.EOF || string(p[:n]) != "abc" || c.Size() != 3 {
		t.Errorf("ReadAt = %d %v %q", n, err, p[:n])
	}
}

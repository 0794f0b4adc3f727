package emulator

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
)

// part is one uploaded part of a multipart upload. Its bytes live either in
// memory (exactly size bytes, allocated once) or in a file under
// Options.PartDir; an assembled object reads its parts in place, so an
// upload never costs more than one copy of its bytes.
type part struct {
	size int64
	etag string // quoted hex MD5, as S3 answers a part PUT
	mem  []byte
	file *os.File
}

func (p *part) ReadAt(b []byte, off int64) (int, error) {
	if p.file != nil {
		return p.file.ReadAt(b, off)
	}
	if off >= int64(len(p.mem)) {
		return 0, io.EOF
	}
	n := copy(b, p.mem[off:])
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// partStore creates and releases parts and remembers the spill files so
// Close can remove them.
type partStore struct {
	mu sync.Mutex
	// mu protects the following.
	files map[*part]struct{}
	bytes int64 // bytes held by live parts, memory and files
}

func newPartStore() *partStore { return &partStore{files: map[*part]struct{}{}} }

// errShortBody reports a body that ended before its Content-Length.
var errShortBody = errors.New("request body shorter than Content-Length")

// write reads exactly size bytes from r into a new part (in dir when dir
// is not empty) and computes its ETag. On error nothing is kept.
func (ps *partStore) write(r io.Reader, size int64, dir string) (*part, error) {
	h := md5.New()
	p := &part{size: size}
	if dir == "" {
		p.mem = make([]byte, size)
		if _, err := io.ReadFull(io.TeeReader(r, h), p.mem); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				err = errShortBody
			}
			return nil, err
		}
	} else {
		f, err := os.CreateTemp(dir, "part-*")
		if err != nil {
			return nil, fmt.Errorf("part file: %w", err)
		}
		n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, size))
		if (err == nil && n < size) || err == io.ErrUnexpectedEOF {
			err = errShortBody
		}
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
			return nil, err
		}
		p.file = f
	}
	p.etag = `"` + hex.EncodeToString(h.Sum(nil)) + `"`
	ps.mu.Lock()
	if p.file != nil {
		ps.files[p] = struct{}{}
	}
	ps.bytes += size
	ps.mu.Unlock()
	return p, nil
}

// release frees the part's bytes. Parts still reachable from a stored
// object must never be released.
func (ps *partStore) release(p *part) {
	if p == nil {
		return
	}
	ps.mu.Lock()
	ps.bytes -= p.size
	_, isFile := ps.files[p]
	delete(ps.files, p)
	ps.mu.Unlock()
	if isFile {
		_ = p.file.Close()
		_ = os.Remove(p.file.Name())
	}
	p.mem = nil
}

// closeAll removes every spill file (on server Close).
func (ps *partStore) closeAll() {
	ps.mu.Lock()
	files := ps.files
	ps.files = map[*part]struct{}{}
	ps.mu.Unlock()
	for p := range files {
		_ = p.file.Close()
		_ = os.Remove(p.file.Name())
	}
}

// partsContent is the Content of an object assembled from parts, read in
// place.
type partsContent struct {
	parts []*part
	ends  []int64 // ends[i] is the offset just past parts[i]
}

func newPartsContent(parts []*part) *partsContent {
	c := &partsContent{parts: parts, ends: make([]int64, len(parts))}
	var off int64
	for i, p := range parts {
		off += p.size
		c.ends[i] = off
	}
	return c
}

func (c *partsContent) Size() int64 {
	if len(c.ends) == 0 {
		return 0
	}
	return c.ends[len(c.ends)-1]
}

func (c *partsContent) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, io.ErrUnexpectedEOF
	}
	size := c.Size()
	if off >= size {
		return 0, io.EOF
	}
	n := 0
	i := sort.Search(len(c.ends), func(i int) bool { return c.ends[i] > off })
	for n < len(b) && i < len(c.parts) {
		start := c.ends[i] - c.parts[i].size
		m, err := c.parts[i].ReadAt(b[n:min(len(b), n+int(c.ends[i]-off))], off-start)
		n += m
		off += int64(m)
		if err != nil && err != io.EOF {
			return n, err
		}
		if off >= c.ends[i] {
			i++
		} else if m == 0 {
			return n, io.ErrUnexpectedEOF // a released or truncated part
		}
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

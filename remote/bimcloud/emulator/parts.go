package emulator

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sort"
	"sync"
)

// part is one received chunk of an upload. In memory mode data holds its
// bytes; in spill mode they are in the upload's file at off.
type part struct {
	off, n int64
	data   []byte
}

func (p part) end() int64 { return p.off + p.n }

// partSet holds the parts of one upload session and hashes its contiguous
// prefix as it grows, so committing a large upload does not read it again.
// Its bytes are held once: the committed Content reads the parts in place.
type partSet struct {
	mu      sync.Mutex // protects the fields below
	parts   []part     // sorted by off, not overlapping
	busy    []part     // ranges whose bodies are being received
	file    *os.File   // spill mode; nil in memory mode
	h       hash.Hash
	hashed  int64 // bytes [0, hashed) are in h
	sealed  bool  // committed: no more parts
	readBuf []byte
}

func newPartSet(f *os.File) *partSet { return &partSet{file: f, h: sha256.New()} }

// errPart is a part refused for its offset or length (blob error 13).
type errPart struct{ msg string }

func (e *errPart) Error() string { return e.msg }

// reserve claims [off, off+n) for a body about to be read. A range equal to
// a received part may be sent again (a retried request) and replaces it;
// any other overlap is refused.
func (ps *partSet) reserve(off, n int64) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.sealed {
		return &errPart{"the upload session is already committed"}
	}
	for _, p := range ps.parts {
		if p.off < off+n && off < p.end() && (p.off != off || p.n != n) {
			return &errPart{fmt.Sprintf("part [%d, %d) overlaps the part [%d, %d) already uploaded", off, off+n, p.off, p.end())}
		}
	}
	for _, p := range ps.busy {
		if p.off < off+n && off < p.end() {
			return &errPart{fmt.Sprintf("part [%d, %d) overlaps the part [%d, %d) being uploaded", off, off+n, p.off, p.end())}
		}
	}
	ps.busy = append(ps.busy, part{off: off, n: n})
	return nil
}

func (ps *partSet) unreserve(off, n int64) {
	for i, p := range ps.busy {
		if p.off == off && p.n == n {
			ps.busy = append(ps.busy[:i], ps.busy[i+1:]...)
			return
		}
	}
}

// receive reads exactly n bytes of r into the reserved range [off, off+n)
// and records the part; the body must hold no more than n bytes. The range
// is released either way.
func (ps *partSet) receive(off, n int64, r io.Reader) error {
	var data []byte
	var err error
	if ps.file == nil {
		data = make([]byte, n)
		_, err = io.ReadFull(r, data)
	} else {
		var m int64
		m, err = io.CopyN(io.NewOffsetWriter(ps.file, off), r, n)
		if err == nil && m < n {
			err = io.ErrUnexpectedEOF
		}
	}
	if err == nil {
		var one [1]byte
		if k, _ := io.ReadFull(r, one[:]); k > 0 {
			err = &errPart{fmt.Sprintf("the body holds more than length=%d bytes", n)}
		}
	} else if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = &errPart{fmt.Sprintf("the body holds fewer than length=%d bytes", n)}
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.unreserve(off, n)
	if err != nil {
		return err
	}
	if ps.sealed {
		return &errPart{"the upload session was committed while the part was sent"}
	}
	i := sort.Search(len(ps.parts), func(i int) bool { return ps.parts[i].off >= off })
	p := part{off: off, n: n, data: data}
	if i < len(ps.parts) && ps.parts[i].off == off {
		ps.parts[i] = p // a resent part
		if off < ps.hashed {
			// Hashed bytes were sent again, maybe different: hash afresh.
			ps.h.Reset()
			ps.hashed = 0
		}
	} else {
		ps.parts = append(ps.parts, part{})
		copy(ps.parts[i+1:], ps.parts[i:])
		ps.parts[i] = p
	}
	return ps.advanceHash()
}

// advanceHash feeds the parts that continue the hashed prefix into h.
// Callers hold ps.mu.
func (ps *partSet) advanceHash() error {
	for {
		i := sort.Search(len(ps.parts), func(i int) bool { return ps.parts[i].end() > ps.hashed })
		if i == len(ps.parts) || ps.parts[i].off > ps.hashed {
			return nil
		}
		p := ps.parts[i]
		from := ps.hashed - p.off
		if p.data != nil {
			ps.h.Write(p.data[from:])
		} else {
			if ps.readBuf == nil {
				ps.readBuf = make([]byte, 1<<20)
			}
			sr := io.NewSectionReader(ps.file, ps.hashed, p.n-from)
			if _, err := io.CopyBuffer(ps.h, sr, ps.readBuf); err != nil {
				return err
			}
		}
		ps.hashed = p.end()
	}
}

// uploaded lists the received ranges, adjacent parts merged.
func (ps *partSet) uploaded() []partJSON {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out := []partJSON{}
	for _, p := range ps.parts {
		if k := len(out) - 1; k >= 0 && out[k].Offset+out[k].Length == p.off {
			out[k].Length += p.n
			continue
		}
		out = append(out, partJSON{Offset: p.off, Length: p.n})
	}
	return out
}

// seal ends the upload: the parts must cover [0, size) without gaps and
// no body may be in flight. It returns the content and its SHA-256 in the
// blob server's notation (unpadded base64url).
func (ps *partSet) seal() (Content, string, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.sealed {
		return nil, "", &errPart{"the upload session is already committed"}
	}
	if len(ps.busy) > 0 {
		return nil, "", errIncomplete(fmt.Sprintf("%d parts are still being uploaded", len(ps.busy)))
	}
	var size int64
	if n := len(ps.parts); n > 0 {
		size = ps.parts[n-1].end()
	}
	if ps.hashed != size {
		return nil, "", errIncomplete(fmt.Sprintf("bytes from offset %d on are missing (the parts end at %d)", ps.hashed, size))
	}
	ps.sealed = true
	sum := base64.RawURLEncoding.EncodeToString(ps.h.Sum(nil))
	if ps.file != nil {
		return fileContent{f: ps.file, size: size}, sum, nil
	}
	return partsContent{parts: ps.parts, size: size}, sum, nil
}

// errIncomplete is a commit of an upload with gaps (blob error 15).
type errIncomplete string

func (e errIncomplete) Error() string { return string(e) }

// partsContent is committed in-memory content: contiguous parts from 0.
type partsContent struct {
	parts []part
	size  int64
}

func (c partsContent) Size() int64 { return c.size }

func (c partsContent) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if off >= c.size {
		return 0, io.EOF
	}
	i := sort.Search(len(c.parts), func(i int) bool { return c.parts[i].end() > off })
	n := 0
	for n < len(p) && i < len(c.parts) {
		q := c.parts[i]
		n += copy(p[n:], q.data[off+int64(n)-q.off:])
		i++
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// fileContent is committed spilled content.
type fileContent struct {
	f    *os.File
	size int64
}

func (c fileContent) Size() int64 { return c.size }

func (c fileContent) ReadAt(p []byte, off int64) (int, error) {
	if off >= c.size {
		return 0, io.EOF
	}
	if rem := c.size - off; int64(len(p)) > rem {
		n, err := c.f.ReadAt(p[:rem], off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	return c.f.ReadAt(p, off)
}

// spillDir is the emulator's directory of upload files (Options.UploadDir).
type spillDir struct {
	dir   string
	mu    sync.Mutex // protects files
	files []*os.File
}

func newSpillDir(parent string) (*spillDir, error) {
	d, err := os.MkdirTemp(parent, "bimcloud-emulator-uploads-")
	if err != nil {
		return nil, err
	}
	return &spillDir{dir: d}, nil
}

// create opens a new, already unlinked-on-Close file for one upload.
func (sd *spillDir) create() (*os.File, error) {
	f, err := os.CreateTemp(sd.dir, "upload-")
	if err != nil {
		return nil, err
	}
	sd.mu.Lock()
	sd.files = append(sd.files, f)
	sd.mu.Unlock()
	return f, nil
}

// remove closes every file and deletes the directory. A nil sd is a no-op.
func (sd *spillDir) remove() {
	if sd == nil {
		return
	}
	sd.mu.Lock()
	for _, f := range sd.files {
		_ = f.Close()
	}
	sd.files = nil
	sd.mu.Unlock()
	_ = os.RemoveAll(sd.dir)
}

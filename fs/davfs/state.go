package davfs

import (
	"context"
	"io"
	"net/http"
	"path"
	"sync"
)

// stateKey keys the requestState in a request's context.
type stateKey struct{}

// requestState is what FileSystem tells Handler about one request.
type requestState struct {
	method string
	mu     sync.Mutex
	err    error // the core's last failure in this request
	// bodyEOF is set once the request body was read to its end;
	// readFailed when reading the body or a file failed, so content
	// written from it is incomplete (see replacement.go).
	bodyEOF, readFailed bool
	// replaceSrc and replaceDst are the source and destination of a COPY
	// or MOVE that may overwrite (see FileSystem.RemoveAll).
	replaceSrc, replaceDst string
}

func stateOf(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}

func (s *requestState) record(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

func (s *requestState) bodyEnded(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == io.EOF {
		s.bodyEOF = true
	} else if err != nil {
		s.readFailed = true
	}
}

func (s *requestState) readFailure() {
	s.mu.Lock()
	s.readFailed = true
	s.mu.Unlock()
}

// complete reports whether what the request wrote was all there was to
// read: the whole body of a PUT, every byte of a COPY's source.
func (s *requestState) complete() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.readFailed && (s.method != http.MethodPut || s.bodyEOF)
}

// bodyWatch tells the request state how reading the body ended.
type bodyWatch struct {
	io.ReadCloser
	st *requestState
}

func (b *bodyWatch) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.st.bodyEnded(err)
	return n, err
}

func (s *requestState) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// replaces reports whether name is the destination a COPY or MOVE with
// overwrite is about to replace.
func (s *requestState) replaces(name string) bool {
	return s.replaceDst != "" && path.Clean("/"+name) == s.replaceDst
}

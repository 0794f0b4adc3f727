package davfs_test

import (
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bimfs/bimfs/cache"
	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/davfs"
	"github.com/bimfs/bimfs/remote/remotetest"
)

// pf is the folder most tests work in, below account "acme".
const pf = "Hub/Project/Files"

// server serves memory backends as accounts over WebDAV on loopback.
type server struct {
	url  string
	core *fs.FS
}

func newServer(t *testing.T, opts davfs.Options, accounts ...fs.Account) *server {
	t.Helper()
	return newServerTB(t, opts, accounts...)
}

func newServerTB(t testing.TB, opts davfs.Options, accounts ...fs.Account) *server {
	t.Helper()
	return newServerCore(t, opts, fs.Options{}, accounts...)
}

// newServerCore serves a core built with core's options (cache and
// staging are filled in).
func newServerCore(t testing.TB, opts davfs.Options, core fs.Options, accounts ...fs.Account) *server {
	t.Helper()
	c, err := cache.New(cache.Options{Dir: t.TempDir(), MemoryBytes: 128 << 20, DiskBytes: 64 << 20, BlockSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	core.Cache, core.StagingDir, core.UploadRetry = c, t.TempDir(), 10*time.Millisecond
	fsys, err := fs.New(accounts, core)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fsys.Close)
	ts := httptest.NewServer(davfs.NewHandler(fsys, opts))
	t.Cleanup(ts.Close)
	return &server{url: ts.URL, core: fsys}
}

func newMem(files map[string][]byte) *remotetest.Memory {
	m := remotetest.NewMemory()
	m.MkdirAll(pf)
	for p, data := range files {
		m.AddFile(p, data)
	}
	m.SetWritable(true)
	return m
}

// do sends one request and returns the response with its body read.
func (s *server) do(t *testing.T, method, path string, body io.Reader, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// expect checks a response's status.
func expect(t *testing.T, resp *http.Response, body string, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %s (%q); want %d", resp.Request.Method, resp.Request.URL.Path, resp.Status, body, status)
	}
}

// content returns n deterministic pseudo-random bytes.
func content(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

func versions(m *remotetest.Memory, path string) int {
	id, ok := m.Lookup(path)
	if !ok {
		return 0
	}
	return len(m.Versions(id))
}

func url(parts ...string) string {
	return "/" + strings.Join(parts, "/")
}

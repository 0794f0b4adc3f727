package bimcloud

import (
	"bytes"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bimcloud/emulator"
)

func synthetic(seed, size int64) []byte {
	b := make([]byte, size)
	emulator.Synthetic(seed, size).ReadAt(b, 0)
	return b
}

// mustRead reads e's tip version back and compares it with want.
func mustRead(t *testing.T, b *Backend, e remote.Entry, want []byte) {
	t.Helper()
	got, err := readAll(t, b, string(e.ID), e.Version, 0, int64(len(want))+1)
	if err != nil {
		t.Fatalf("read back %s: %v", e.Name, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes of %s, want %d (equal prefix: %v)", len(got), e.Name, len(want), bytes.HasPrefix(want, got))
	}
}

func TestUploadNewAndOverwrite(t *testing.T) {
	s := newServer(t, emulator.Options{})
	b := writable(t, s, nil)
	ctx := t.Context()
	dir := s.AddFolder(emulator.RootID, "Docs")

	data := []byte("Hello, world!")
	e, err := b.Upload(ctx, remote.UploadRequest{Parent: remote.ID(dir), Name: "text2.txt", Size: int64(len(data)), Content: content(data)})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := s.Lookup("Project Root/Docs/text2.txt")
	if e.ID != remote.ID(id) || e.Name != "text2.txt" || e.Size != int64(len(data)) || e.Version.ID == "" || e.Version.Number != 1 ||
		e.Version.Ref != s.DefaultModelServer() || e.Dir {
		t.Fatalf("new file entry %+v (tree id %s)", e, id)
	}
	if st := stat(t, b, id); st.Version.ID != e.Version.ID {
		t.Fatalf("Stat version %s, Upload returned %s", st.Version.ID, e.Version.ID)
	}
	mustRead(t, b, e, data)

	// A new version of the same file: same ID, new version, new bytes.
	data2 := []byte("Hello, world!\nHello again!")
	e2, err := b.Upload(ctx, remote.UploadRequest{Parent: remote.ID(dir), Name: "text2.txt", Existing: e.ID, Size: int64(len(data2)), Content: content(data2)})
	if err != nil {
		t.Fatal(err)
	}
	if e2.ID != e.ID || e2.Version.ID == e.Version.ID || e2.Version.Number != 2 || e2.Size != int64(len(data2)) {
		t.Fatalf("overwrite entry %+v, first %+v", e2, e)
	}
	if info, _ := s.Blob(id); info.ContentRevision != 2 {
		t.Fatalf("blob %+v", info)
	}
	mustRead(t, b, e2, data2)
	// Reading the old version now is Stale, never mixed bytes.
	_, err = readAll(t, b, id, e.Version, 0, 100)
	mustKind(t, err, remote.Stale)

	// A new file whose name is taken is Exists, and changes nothing.
	_, err = b.Upload(ctx, remote.UploadRequest{Parent: remote.ID(dir), Name: "text2.txt", Size: 1, Content: content([]byte("x"))})
	mustKind(t, err, remote.Exists)
	if info, _ := s.Blob(id); info.ContentRevision != 2 {
		t.Fatalf("blob after refused upload %+v", info)
	}

	// Empty files, files at the root, and names the Manager would refuse.
	e0, err := b.Upload(ctx, remote.UploadRequest{Parent: RootID, Name: "empty.bin"})
	if err != nil || e0.Size != 0 {
		t.Fatalf("empty upload: %+v, %v", e0, err)
	}
	mustRead(t, b, e0, nil)
	_, err = b.Upload(ctx, remote.UploadRequest{Parent: RootID, Name: "a*b", Size: 1, Content: content([]byte("x"))})
	mustKind(t, err, remote.Invalid)
	_, err = b.Upload(ctx, remote.UploadRequest{Parent: remote.ID(id), Name: "in-a-file", Size: 1, Content: content([]byte("x"))})
	mustKind(t, err, remote.Invalid)
	_, err = b.Upload(ctx, remote.UploadRequest{Parent: RootID, Name: "x", Existing: remote.ID(dir), Size: 1, Content: content([]byte("x"))})
	mustKind(t, err, remote.Invalid)
	_, err = b.Upload(ctx, remote.UploadRequest{Parent: "00000000-0000-4000-8000-000000000000", Name: "x", Size: 1, Content: content([]byte("x"))})
	mustKind(t, err, remote.NotFound)
}

// TestUploadExistingGone covers an edit whose file vanished remotely (or
// was replaced by a rename over it): the bytes go to the name instead.
func TestUploadExistingGone(t *testing.T) {
	s := newServer(t, emulator.Options{})
	b := writable(t, s, nil)
	ctx := t.Context()
	dir := s.AddFolder(emulator.RootID, "D")
	gone := s.AddBlob(dir, "a.txt", emulator.Bytes([]byte("old")), "")
	s.DeleteResource(gone)
	e, err := b.Upload(ctx, remote.UploadRequest{Parent: remote.ID(dir), Name: "a.txt", Existing: remote.ID(gone), Size: 3, Content: content([]byte("new"))})
	if err != nil || e.ID == remote.ID(gone) {
		t.Fatalf("upload for a deleted file: %+v, %v", e, err)
	}
	mustRead(t, b, e, []byte("new"))

	// After a rename over the edited file, the name belongs to another
	// file, which gets the content as its next revision.
	src := s.AddBlob(dir, "tmp", emulator.Bytes([]byte("renamed")), "")
	if _, err := b.Rename(ctx, remote.ID(src), remote.ID(dir), "a.txt", e.ID); err != nil {
		t.Fatal(err)
	}
	e2, err := b.Upload(ctx, remote.UploadRequest{Parent: remote.ID(dir), Name: "a.txt", Existing: e.ID, Size: 6, Content: content([]byte("edited"))})
	if err != nil || e2.ID != remote.ID(src) || e2.Version.Number != 2 {
		t.Fatalf("upload after rename-over: %+v, %v", e2, err)
	}
}

func TestUploadMultiPart(t *testing.T) {
	s := newServer(t, emulator.Options{})
	b := writable(t, s, func(c *Config) { c.PartSize = 1000 })
	data := synthetic(5, 10_500)
	var progress []int64
	e, err := b.Upload(t.Context(), remote.UploadRequest{Parent: RootID, Name: "parts.bin", Size: int64(len(data)), Content: content(data),
		Progress: func(n int64) { progress = append(progress, n) }})
	if err != nil {
		t.Fatal(err)
	}
	mustRead(t, b, e, data)
	c := s.Counters()
	if c["put-blob-content-part"] != 11 || c["put-blob-content-part.bytes"] != int64(len(data)) || c["begin-batch-upload"] != 1 {
		t.Fatalf("counters %v", c)
	}
	if len(progress) != 11 || progress[0] != 1000 || progress[10] != int64(len(data)) {
		t.Fatalf("progress %v", progress)
	}
}

// TestUploadRestarts expires the ticket, the session and the upload
// session in the middle of uploads: each starts over and ends complete.
func TestUploadRestarts(t *testing.T) {
	s := newServer(t, emulator.Options{})
	b := writable(t, s, func(c *Config) { c.PartSize = 100 })
	data := synthetic(6, 1000)
	for _, tc := range []struct {
		name    string
		expire  func()
		batches int64
	}{
		{"session", s.ExpireSessions, 2},
		{"ticket and session", func() { s.ExpireTickets(); s.ExpireSessions() }, 2},
		{"upload session", s.ExpireUploads, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.ResetCounters()
			var once sync.Once
			c := content(data)
			c.hook = func(off int64) {
				if off == 500 {
					once.Do(tc.expire)
				}
			}
			e, err := b.Upload(t.Context(), remote.UploadRequest{Parent: RootID, Name: "restart " + tc.name, Size: int64(len(data)), Content: c})
			if err != nil {
				t.Fatal(err)
			}
			mustRead(t, b, e, data)
			if n := s.Counters()["begin-batch-upload"]; n != tc.batches {
				t.Fatalf("%d batches, want %d", n, tc.batches)
			}
		})
	}
}

// TestUploadErrors injects errors into each step and checks the kind and
// that nothing was stored.
func TestUploadErrors(t *testing.T) {
	s := newServer(t, emulator.Options{})
	b := writable(t, s, func(c *Config) { c.PartSize = 4 })
	data := []byte("0123456789")
	for _, tc := range []struct {
		op    string
		code  int
		times int
		kind  remote.Kind // KindUnknown: the upload succeeds
	}{
		{"get-inherited-default-blob-server-id", 3, 1, remote.Permission},
		{"get-ticket", 3, 1, remote.Permission},
		{"begin-batch-upload", 5, 1, remote.Permission},
		{"begin-batch-upload", 11, 1, remote.KindUnknown},
		{"begin-upload", 4, 1, remote.KindUnknown},
		{"begin-upload", 17, 1, remote.KindUnknown},
		{"begin-upload", 17, 2, remote.NotFound},
		{"put-blob-content-part", 13, 1, remote.Invalid},
		{"put-blob-content-part", 11, 1, remote.KindUnknown},
		{"put-blob-content-part", 14, 1, remote.KindUnknown},
		{"put-blob-content-part", 22, 1, remote.Permission},
		{"commit-upload", 15, 1, remote.Invalid},
		{"commit-upload", 4, 1, remote.KindUnknown},
		{"commit-batch-upload", 20, 1, remote.Exists},
		{"commit-batch-upload", 12, 1, remote.Conflict},
		{"commit-batch-upload", 11, 3, remote.Unavailable},
		{"commit-batch-upload", 503, 1, remote.KindUnknown},
	} {
		name := tc.op + " " + http.StatusText(tc.code)
		if tc.code < 100 {
			name = tc.op + " " + BlobServerErrors[tc.code].Name
			if strings.HasPrefix(tc.op, "get-") {
				name = tc.op + " " + ManagerErrors[tc.code].Name
			}
		}
		t.Run(name, func(t *testing.T) {
			s.InjectError(tc.op, tc.code, tc.times)
			fname := "f" + tc.op + strconv.Itoa(tc.code) + "x" + strconv.Itoa(tc.times)
			e, err := b.Upload(t.Context(), remote.UploadRequest{Parent: RootID, Name: fname, Size: int64(len(data)), Content: content(data)})
			_, stored := s.Lookup("Project Root/" + fname)
			if tc.kind == remote.KindUnknown {
				if err != nil {
					t.Fatal(err)
				}
				mustRead(t, b, e, data)
				return
			}
			mustKind(t, err, tc.kind)
			if stored {
				t.Fatal("a failed upload stored the file")
			}
		})
	}
}

// corrupting flips one byte of every put-blob-content-part body.
type corrupting struct{ base http.RoundTripper }

func (c corrupting) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/put-blob-content-part") && req.Body != nil {
		body, _ := io.ReadAll(req.Body)
		req.Body.Close()
		body[0] ^= 0xff
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	return c.base.RoundTrip(req)
}

// TestUploadHashMismatch: bytes damaged on the way are caught by the
// content hash before the batch is committed.
func TestUploadHashMismatch(t *testing.T) {
	s := newServer(t, emulator.Options{})
	b := writable(t, s, func(c *Config) { c.HTTP = &http.Client{Transport: corrupting{c.HTTP.Transport}} })
	_, err := b.Upload(t.Context(), remote.UploadRequest{Parent: RootID, Name: "damaged", Size: 5, Content: content([]byte("hello"))})
	mustKind(t, err, remote.Unavailable)
	if !strings.Contains(err.Error(), "hash") {
		t.Fatalf("error %v", err)
	}
	if _, ok := s.Lookup("Project Root/damaged"); ok || s.Counters()["commit-batch-upload"] != 0 {
		t.Fatal("damaged upload was committed")
	}
}

// shortContent claims more bytes than it has.
type shortContent struct{}

func (shortContent) ReadAt(p []byte, off int64) (int, error) { return 0, io.EOF }

func TestUploadShortContent(t *testing.T) {
	s := newServer(t, emulator.Options{})
	b, _ := loggedIn(t, s)
	_, err := b.Upload(t.Context(), remote.UploadRequest{Parent: RootID, Name: "short", Size: 10, Content: shortContent{}})
	if err == nil || !strings.Contains(err.Error(), "reading the content") {
		t.Fatalf("err %v", err)
	}
	if _, ok := s.Lookup("Project Root/short"); ok {
		t.Fatal("short content was committed")
	}
}

// TestUploadMemoryFlat uploads 64 MiB with 1 MiB parts to an emulator
// that spills parts to disk: the client's heap must not grow with the file.
func TestUploadMemoryFlat(t *testing.T) {
	const size = 64 << 20
	s := newServer(t, emulator.Options{UploadDir: t.TempDir()})
	b, _ := loggedIn(t, s)
	b.cfg.PartSize = 1 << 20 // before any use
	src := emulator.Synthetic(11, size)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	var peak uint64
	before := heap()
	req := remote.UploadRequest{Parent: RootID, Name: "big.bin", Size: size, Content: src, Progress: func(n int64) {
		if n%(16<<20) == 0 {
			peak = max(peak, heap())
		}
	}}
	e, err := b.Upload(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	grew := int64(peak) - int64(before)
	t.Logf("heap peak grew by %d KiB during a %d MiB upload", grew>>10, size>>20)
	if grew > 16<<20 {
		t.Fatalf("heap grew by %d bytes during a %d-byte upload", grew, size)
	}
	rc, err := b.ReadRange(t.Context(), e.ID, e.Version, size-100, 100)
	if err != nil {
		t.Fatal(err)
	}
	tail, _ := io.ReadAll(rc)
	rc.Close()
	for i, c := range tail {
		if c != emulator.SyntheticByte(11, size-100+int64(i)) {
			t.Fatalf("byte %d differs", size-100+i)
		}
	}
}

// TestConcurrentUploads uploads and overwrites files from several
// goroutines through one Backend; run with -race.
func TestConcurrentUploads(t *testing.T) {
	s := newServer(t, emulator.Options{})
	b := writable(t, s, func(c *Config) { c.PartSize = 512 })
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			data := synthetic(int64(i), 3000+int64(i))
			e, err := b.Upload(t.Context(), remote.UploadRequest{Parent: RootID, Name: "c" + strconv.Itoa(i), Size: int64(len(data)), Content: content(data)})
			if err != nil {
				t.Error(err)
				return
			}
			data = data[:1000]
			e2, err := b.Upload(t.Context(), remote.UploadRequest{Parent: RootID, Name: e.Name, Existing: e.ID, Size: int64(len(data)), Content: content(data)})
			if err != nil || e2.ID != e.ID || e2.Version.Number != 2 {
				t.Errorf("overwrite %d: %+v, %v", i, e2, err)
			}
		})
	}
	wg.Wait()
}

// BenchmarkUpload measures Upload throughput against the emulator (parts
// spilled to disk), with the default part size, and its ratio to
// RawUpload.
func BenchmarkUpload(bm *testing.B) {
	const size = 128 << 20
	s := emulator.New(emulator.Options{UploadDir: bm.TempDir()})
	defer s.Close()
	cfg, _ := testConfig(bm, s)
	if err := LoginPassword(bm.Context(), cfg, emulator.DefaultUser, emulator.DefaultPassword); err != nil {
		bm.Fatal(err)
	}
	b, err := New(bm.Context(), cfg)
	if err != nil {
		bm.Fatal(err)
	}
	defer b.Close()
	src := emulator.Synthetic(1, size)
	ms := s.DefaultModelServer()
	var existing remote.ID
	var client, raw time.Duration
	n := 0
	for bm.Loop() {
		n++
		start := time.Now()
		e, err := b.Upload(bm.Context(), remote.UploadRequest{Parent: RootID, Name: "bench.bin", Existing: existing, Size: size, Content: src})
		if err != nil {
			bm.Fatal(err)
		}
		client += time.Since(start)
		existing = e.ID
		start = time.Now()
		if _, err := RawUpload(bm.Context(), RawUploadRequest{BlobServerURL: s.BlobServerURL(ms), SessionID: s.Session(ms),
			BlobName: "/raw.bin", Content: src, Size: size}); err != nil {
			bm.Fatal(err)
		}
		raw += time.Since(start)
	}
	// Backend.Upload's throughput, and its time over a plain HTTP upload
	// of the same bytes.
	bm.ReportMetric(float64(size)*float64(n)/client.Seconds()/1e6, "client-MB/s")
	bm.ReportMetric(float64(client)/float64(raw), "x-raw")
}

// losing sends requests but, once, drops the answer of the first
// request whose path ends with suffix: the server acted, the client
// cannot know.
type losing struct {
	base   http.RoundTripper
	suffix string
	once   sync.Once
}

func (l *losing) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.base.RoundTrip(req)
	if err == nil && strings.HasSuffix(req.URL.Path, l.suffix) {
		lost := false
		l.once.Do(func() { lost = true })
		if lost {
			resp.Body.Close()
			return nil, io.ErrUnexpectedEOF
		}
	}
	return resp, err
}

// TestUploadLostCommitAnswer: the upload is repeated and the file the
// first commit created is recognised instead of reported as Exists.
func TestUploadLostCommitAnswer(t *testing.T) {
	s := newServer(t, emulator.Options{})
	b := writable(t, s, func(c *Config) {
		c.HTTP = &http.Client{Transport: &losing{base: c.HTTP.Transport, suffix: "/commit-batch-upload"}}
	})
	data := []byte("committed once")
	e, err := b.Upload(t.Context(), remote.UploadRequest{Parent: RootID, Name: "lost.txt", Size: int64(len(data)), Content: content(data)})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := s.Lookup("Project Root/lost.txt")
	if e.ID != remote.ID(id) || s.Counters()["commit-batch-upload"] != 2 {
		t.Fatalf("entry %+v, tree id %s, counters %v", e, id, s.Counters())
	}
	mustRead(t, b, e, data)
	// A file of another size is someone else's: Exists.
	s.AddBlob(emulator.RootID, "taken.txt", emulator.Bytes([]byte("someone else's")), "")
	b2 := writable(t, s, func(c *Config) {
		c.HTTP = &http.Client{Transport: &losing{base: c.HTTP.Transport, suffix: "/commit-batch-upload"}}
	})
	_, err = b2.Upload(t.Context(), remote.UploadRequest{Parent: RootID, Name: "taken.txt", Size: 3, Content: content([]byte("abc"))})
	mustKind(t, err, remote.Exists)
}

func TestRawUpload(t *testing.T) {
	s := newServer(t, emulator.Options{})
	ms := s.DefaultModelServer()
	data := synthetic(8, 3000)
	id, err := RawUpload(t.Context(), RawUploadRequest{BlobServerURL: s.BlobServerURL(ms), SessionID: s.Session(ms),
		BlobName: "/raw/r.bin", Content: bytes.NewReader(data), Size: int64(len(data)), PartSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	info, ok := s.Blob(id)
	got := make([]byte, len(data))
	if ok {
		info.Content.ReadAt(got, 0)
	}
	if !ok || info.Path != "Project Root/raw/r.bin" || !bytes.Equal(got, data) || s.Counters()["put-blob-content-part"] != 3 {
		t.Fatalf("raw upload: %+v", info)
	}
}

// TestRefusedCommitExplained: when the blob server will not commit an
// upload because of the file's state on the server, the close that started
// it fails with Conflict and the log says what happened.
func TestRefusedCommitExplained(t *testing.T) {
	s := newServer(t, emulator.Options{})
	b, _, logs := loggedInLogs(t, s)
	data := []byte("edited")
	s.InjectError("commit-batch-upload", 12, 1)
	_, err := b.Upload(t.Context(), remote.UploadRequest{Parent: RootID, Name: "c.txt", Size: int64(len(data)), Content: content(data)})
	mustKind(t, err, remote.Conflict)
	if !strings.Contains(logs.String(), "refused to commit the upload: the file was changed") {
		t.Fatalf("no explanation in the log:\n%s", logs)
	}
}

package writeback

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// fakeService records uploads and fails on demand.
type fakeService struct {
	mu      sync.Mutex
	fail    error
	uploads []upload
	done    chan struct{}
}

type upload struct {
	req  remote.UploadRequest
	data []byte
}

func newFake() *fakeService { return &fakeService{done: make(chan struct{}, 16)} }

func (s *fakeService) Upload(ctx context.Context, account string, req remote.UploadRequest) (remote.Entry, error) {
	s.mu.Lock()
	fail := s.fail
	s.mu.Unlock()
	if fail != nil {
		return remote.Entry{}, fail
	}
	data := make([]byte, req.Size)
	if _, err := req.Content.ReadAt(data, 0); err != nil && !(errors.Is(err, io.EOF) && req.Size == 0) {
		return remote.Entry{}, err
	}
	s.mu.Lock()
	s.uploads = append(s.uploads, upload{req: req, data: data})
	n := len(s.uploads)
	s.mu.Unlock()
	s.done <- struct{}{}
	id := req.Existing
	if id == "" {
		id = remote.ID("new:" + req.Name)
	}
	return remote.Entry{ID: id, Name: req.Name, Size: req.Size, Version: remote.Version{ID: "v", Number: n}}, nil
}

func (s *fakeService) setFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

func (s *fakeService) list() []upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]upload(nil), s.uploads...)
}

func (s *fakeService) wait(t *testing.T) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("no upload happened")
	}
}

func newManager(t *testing.T, dir string, svc *fakeService, async bool) *Manager {
	t.Helper()
	m, err := New(Options{Dir: dir, Upload: svc.Upload, Async: async, RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func stagedFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestSyncFlushUploadsAndCleansUp(t *testing.T) {
	dir := t.TempDir()
	svc := newFake()
	m := newManager(t, dir, svc, false)
	defer m.Close()
	f, err := m.Create("acct", "parent", "a.txt", "", "")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("hello "), 0)
	f.WriteAt([]byte("world"), 6)
	if err := f.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	ups := svc.list()
	if len(ups) != 1 || string(ups[0].data) != "hello world" || ups[0].req.Name != "a.txt" || ups[0].req.Parent != "parent" {
		t.Fatalf("uploads %+v", ups)
	}
	if e, ok := f.Entry(); !ok || e.ID != "new:a.txt" {
		t.Fatalf("entry %+v", e)
	}
	// A second close with nothing new uploads nothing.
	if err := f.Flush(context.Background()); err != nil || len(svc.list()) != 1 {
		t.Fatalf("second flush: %v, %d uploads", err, len(svc.list()))
	}
	// Writing again after a commit makes a new version of the same file.
	f.WriteAt([]byte("!"), 11)
	if err := f.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	ups = svc.list()
	if len(ups) != 2 || string(ups[1].data) != "hello world!" || ups[1].req.Existing != "new:a.txt" {
		t.Fatalf("second version %+v", ups)
	}
	f.Release()
	if left := stagedFiles(t, dir); len(left) != 0 {
		t.Fatalf("staging dir not clean: %v", left)
	}
}

func TestOpenWithoutWriteUploadsNothing(t *testing.T) {
	dir := t.TempDir()
	svc := newFake()
	m := newManager(t, dir, svc, false)
	defer m.Close()
	f, _ := m.Create("acct", "p", "x", "item", "v1")
	if err := f.Fill(context.Background(), bytes.NewReader([]byte("remote bytes")), 12); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if n, err := f.ReadAt(buf, 7); n != 5 || string(buf[:n]) != "bytes" || err != nil {
		t.Fatalf("read %q %v", buf[:n], err)
	}
	if err := f.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.Release()
	time.Sleep(50 * time.Millisecond)
	if n := len(svc.list()); n != 0 {
		t.Fatalf("%d uploads for an unchanged file", n)
	}
	if left := stagedFiles(t, dir); len(left) != 0 {
		t.Fatalf("staging dir not clean: %v", left)
	}
}

func TestFailedUploadKeptAndRetried(t *testing.T) {
	dir := t.TempDir()
	svc := newFake()
	svc.setFail(&remote.Error{Kind: remote.Unavailable, Message: "service down"})
	m := newManager(t, dir, svc, false)
	defer m.Close()
	f, _ := m.Create("acct", "p", "report.pdf", "", "")
	f.WriteAt([]byte("precious"), 0)
	err := f.Flush(context.Background())
	if !remote.IsKind(err, remote.Unavailable) {
		t.Fatalf("flush: %v", err)
	}
	recs := m.Records()
	if len(recs) != 1 || recs[0].State != Failed || recs[0].Attempts != 1 || recs[0].LastError == "" {
		t.Fatalf("records %+v", recs)
	}
	f.Release()
	svc.setFail(nil)
	svc.wait(t)
	if ups := svc.list(); string(ups[0].data) != "precious" {
		t.Fatalf("uploaded %q", ups[0].data)
	}
	waitFor(t, func() bool { return len(m.Records()) == 0 && len(stagedFiles(t, dir)) == 0 })
}

func TestPermanentErrorNotRetried(t *testing.T) {
	dir := t.TempDir()
	svc := newFake()
	svc.setFail(&remote.Error{Kind: remote.Invalid, Message: "name not allowed"})
	m := newManager(t, dir, svc, false)
	defer m.Close()
	f, _ := m.Create("acct", "p", "bad:name", "", "")
	f.WriteAt([]byte("x"), 0)
	if err := f.Flush(context.Background()); !remote.IsKind(err, remote.Invalid) {
		t.Fatal(err)
	}
	f.Release()
	svc.setFail(nil)
	time.Sleep(200 * time.Millisecond)
	if n := len(svc.list()); n != 0 {
		t.Fatalf("retried a permanent failure %d times", n)
	}
	if recs := m.Records(); len(recs) != 1 || recs[0].State != Failed {
		t.Fatalf("the staged file must stay: %+v", recs)
	}
}

func TestRecoverAfterCrash(t *testing.T) {
	dir := t.TempDir()
	down := newFake()
	down.setFail(&remote.Error{Kind: remote.Unavailable})
	m1 := newManager(t, dir, down, false)
	// One file closed but not uploaded, one still open with writes: the
	// process then dies without Close.
	a, _ := m1.Create("acct", "p", "a.bin", "", "")
	a.WriteAt([]byte("closed content"), 0)
	a.Flush(context.Background())
	b, _ := m1.Create("acct", "p", "b.bin", "item-b", "v3")
	b.WriteAt([]byte("open content"), 0)
	c, _ := m1.Create("acct", "p", "c.bin", "item-c", "v1") // opened, never written
	_ = c
	m1.cancel()
	m1.wg.Wait()

	up := newFake()
	m2 := newManager(t, dir, up, false)
	defer m2.Close()
	up.wait(t)
	up.wait(t)
	got := map[string]string{}
	for _, u := range up.list() {
		got[u.req.Name] = string(u.data)
	}
	if got["a.bin"] != "closed content" || got["b.bin"] != "open content" || len(got) != 2 {
		t.Fatalf("recovered uploads %v", got)
	}
	waitFor(t, func() bool { return len(stagedFiles(t, dir)) == 0 })
}

func TestAsyncFlushReturnsBeforeUpload(t *testing.T) {
	dir := t.TempDir()
	svc := newFake()
	release := make(chan struct{})
	m, err := New(Options{Dir: dir, Async: true, RetryBase: 10 * time.Millisecond, Upload: func(ctx context.Context, a string, r remote.UploadRequest) (remote.Entry, error) {
		<-release
		return svc.Upload(ctx, a, r)
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	f, _ := m.Create("acct", "p", "later.txt", "", "")
	f.WriteAt([]byte("async"), 0)
	if err := f.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if recs := m.Records(); len(recs) != 1 || recs[0].State != Pending {
		t.Fatalf("records %+v", recs)
	}
	f.Release()
	close(release)
	svc.wait(t)
	if ups := svc.list(); string(ups[0].data) != "async" {
		t.Fatalf("uploaded %q", ups[0].data)
	}
}

func TestConcurrentWritersShareOneStagedFile(t *testing.T) {
	dir := t.TempDir()
	svc := newFake()
	m := newManager(t, dir, svc, false)
	defer m.Close()
	f, _ := m.Create("acct", "p", "shared", "", "")
	if g := m.Find("acct", "p", "shared"); g != f {
		t.Fatal("Find did not return the live staged file")
	}
	f.Acquire()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			f.WriteAt(bytes.Repeat([]byte{byte('a' + i)}, 1000), int64(i*1000))
		}(i)
	}
	wg.Wait()
	f.Release()
	if err := f.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.Release()
	data := svc.list()[0].data
	for i := 0; i < 8; i++ {
		if !bytes.Equal(data[i*1000:(i+1)*1000], bytes.Repeat([]byte{byte('a' + i)}, 1000)) {
			t.Fatalf("writer %d's bytes are wrong", i)
		}
	}
}

func TestDiskFullIsNoSpaceAndKeepsEarlierBytes(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v %s", err, out)
	}
	defer exec.Command("umount", dir).Run()
	svc := newFake()
	m := newManager(t, filepath.Join(dir, "staging"), svc, false)
	defer m.Close()
	f, _ := m.Create("acct", "p", "big", "", "")
	first := bytes.Repeat([]byte("k"), 64<<10)
	if _, err := f.WriteAt(first, 0); err != nil {
		t.Fatal(err)
	}
	_, err := f.WriteAt(make([]byte, 1<<20), int64(len(first)))
	if !remote.IsKind(err, remote.NoSpace) {
		t.Fatalf("write on a full disk: %v", err)
	}
	buf := make([]byte, len(first))
	if _, err := f.ReadAt(buf, 0); err != nil || !bytes.Equal(buf, first) {
		t.Fatalf("earlier bytes damaged: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestProgressReachesJournal: another process (`bimfs status`) sees upload
// progress in the journal while an upload runs, and no record is left once
// it is done.
func TestProgressReachesJournal(t *testing.T) {
	dir := t.TempDir()
	checked, release := make(chan struct{}), make(chan struct{})
	m, err := New(Options{Dir: dir, Upload: func(ctx context.Context, a string, r remote.UploadRequest) (remote.Entry, error) {
		r.Progress(100)
		time.Sleep(progressSaveInterval + 100*time.Millisecond)
		r.Progress(600)
		close(checked)
		<-release
		r.Progress(1000)
		return remote.Entry{ID: "x", Size: r.Size}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	f, _ := m.Create("acct", "p", "big.ifc", "", "")
	f.WriteAt(make([]byte, 1000), 0)
	done := make(chan error, 1)
	go func() { done <- f.Flush(context.Background()) }()
	<-checked
	recs, err := ReadRecords(dir)
	if err != nil || len(recs) != 1 || recs[0].State != Uploading || recs[0].Uploaded != 600 {
		t.Fatalf("journal during upload: %+v %v", recs, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if recs, _ := ReadRecords(dir); len(recs) != 0 {
		t.Fatalf("records after the upload: %+v", recs)
	}
}

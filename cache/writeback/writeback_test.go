package writeback

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// fakeService records uploads; block, if set, holds each upload until it
// is closed or the upload's context ends.
type fakeService struct {
	mu      sync.Mutex
	fail    error
	block   chan struct{}
	started chan struct{}
	uploads []upload0
	n       int
}

type upload0 struct {
	req  remote.UploadRequest
	data []byte
}

func newFake() *fakeService { return &fakeService{started: make(chan struct{}, 64)} }

func (s *fakeService) Upload(ctx context.Context, account string, req remote.UploadRequest) (remote.Entry, error) {
	data := make([]byte, req.Size)
	if req.Size > 0 {
		if _, err := req.Content.ReadAt(data, 0); err != nil {
			return remote.Entry{}, err
		}
	}
	s.started <- struct{}{}
	s.mu.Lock()
	fail, block := s.fail, s.block
	s.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return remote.Entry{}, ctx.Err()
		}
	}
	if fail != nil {
		return remote.Entry{}, fail
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.uploads = append(s.uploads, upload0{req: req, data: data})
	s.n++
	id := req.Existing
	if id == "" {
		id = remote.ID("item:" + req.Name)
	}
	return remote.Entry{ID: id, Name: req.Name, Size: req.Size, Version: remote.Version{ID: "v" + string(rune('0'+s.n)), Number: s.n}}, nil
}

func (s *fakeService) set(fail error, block chan struct{}) {
	s.mu.Lock()
	s.fail, s.block = fail, block
	s.mu.Unlock()
}

func (s *fakeService) list() []upload0 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]upload0(nil), s.uploads...)
}

// waitUploads waits until n uploads succeeded.
func (s *fakeService) waitUploads(t *testing.T, n int) []upload0 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.list()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d uploads, want %d", len(s.list()), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return s.list()
}

func newManager(t *testing.T, dir string, svc *fakeService) *Manager {
	t.Helper()
	m, err := New(Options{Dir: dir, Upload: svc.Upload, RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var (
	syncCommit  = CommitOptions{Exclusive: true, Wait: true}
	asyncCommit = CommitOptions{Exclusive: true, Confirmed: true}
)

func TestCommitUploadsOnceAndCleansUp(t *testing.T) {
	dir := t.TempDir()
	svc := newFake()
	m := newManager(t, dir, svc)
	defer m.Close()
	f, err := m.Create("acct", "parent", "a.txt", "", "")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("hello"), 0)
	if err := f.Commit(context.Background(), syncCommit); err != nil {
		t.Fatal(err)
	}
	// The same content again: nothing to upload.
	if err := f.Commit(context.Background(), syncCommit); err != nil {
		t.Fatal(err)
	}
	ups := svc.list()
	if len(ups) != 1 || string(ups[0].data) != "hello" || ups[0].req.Existing != "" || ups[0].req.Name != "a.txt" {
		t.Fatalf("uploads: %+v", ups)
	}
	if f.Record().Item != "item:a.txt" || m.ByItem("acct", "item:a.txt") != f {
		t.Fatalf("the committed file is not indexed by its item: %+v", f.Record())
	}
	// Still readable through the open handle after the exclusive commit.
	buf := make([]byte, 5)
	if n, err := f.ReadAt(buf, 0); n != 5 || string(buf) != "hello" {
		t.Fatalf("read after commit: %q %v", buf[:n], err)
	}
	f.Release()
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Fatalf("staging directory keeps %q after commit and release", left)
	}
}

func TestCommitWaitsForTheSameContentInFlight(t *testing.T) {
	svc := newFake()
	m := newManager(t, t.TempDir(), svc)
	defer m.Close()
	release := make(chan struct{})
	svc.set(nil, release)
	f, _ := m.Create("acct", "p", "x", "", "")
	f.WriteAt([]byte("one save"), 0)
	errs := make(chan error, 2)
	go func() { errs <- f.Commit(context.Background(), syncCommit) }()
	<-svc.started
	// A second flush of the same content (a dup'd descriptor's close).
	go func() { errs <- f.Commit(context.Background(), syncCommit) }()
	time.Sleep(50 * time.Millisecond)
	close(release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := len(svc.list()); n != 1 {
		t.Fatalf("%d uploads of one save, want 1", n)
	}
	f.Release()
}

func TestWriteDuringUploadGoesToTheNextVersion(t *testing.T) {
	svc := newFake()
	m := newManager(t, t.TempDir(), svc)
	defer m.Close()
	release := make(chan struct{})
	svc.set(nil, release)
	f, _ := m.Create("acct", "p", "x", "", "")
	f.WriteAt([]byte("first"), 0)
	done := make(chan error, 1)
	go func() { done <- f.Commit(context.Background(), syncCommit) }()
	<-svc.started
	// The upload holds no lock: this write does not wait for it.
	wrote := make(chan struct{})
	go func() { f.WriteAt([]byte("SECOND"), 0); close(wrote) }()
	select {
	case <-wrote:
	case <-time.After(5 * time.Second):
		t.Fatal("a write waited for an upload in flight")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ups := svc.list(); len(ups) != 1 || string(ups[0].data) != "first" {
		t.Fatalf("upload sent %q, want the snapshot taken at commit", ups[0].data)
	}
	if !f.Changed() {
		t.Fatal("the write during the upload was forgotten")
	}
	if err := f.Commit(context.Background(), syncCommit); err != nil {
		t.Fatal(err)
	}
	ups := svc.list()
	if len(ups) != 2 || string(ups[1].data) != "SECOND" || ups[1].req.Existing != "item:x" {
		t.Fatalf("second upload: %+v", ups)
	}
	f.Release()
}

func TestPauseCancelsUploadAndDiscardLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	svc := newFake()
	m := newManager(t, dir, svc)
	defer m.Close()
	svc.set(nil, make(chan struct{})) // never finishes by itself
	f, _ := m.Create("acct", "p", "x", "", "")
	f.WriteAt([]byte("doomed"), 0)
	if err := f.Commit(context.Background(), asyncCommit); err != nil {
		t.Fatal(err)
	}
	f.Release()
	<-svc.started // the background upload runs
	start := time.Now()
	resume := f.Pause()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("pause took %v", d)
	}
	if f.Record().Item != "" {
		t.Fatal("a cancelled upload committed")
	}
	f.Discard()
	resume()
	time.Sleep(100 * time.Millisecond)
	if n := len(svc.list()); n != 0 {
		t.Fatalf("%d uploads after a discard", n)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Fatalf("staging directory keeps %q", left)
	}
}

func TestRetargetFollowsItemNotName(t *testing.T) {
	svc := newFake()
	m := newManager(t, t.TempDir(), svc)
	defer m.Close()
	// Two items that share a name in one folder.
	a, _ := m.Create("acct", "p", "dup.txt", "itemA", "va")
	b, _ := m.Create("acct", "p", "dup.txt", "itemB", "vb")
	a.WriteAt([]byte("for A"), 0)
	b.WriteAt([]byte("for B"), 0)
	a.Commit(context.Background(), CommitOptions{Confirmed: true})
	resume := b.Pause()
	if err := b.Retarget("p", "dup2.txt", "itemB"); err != nil {
		t.Fatal(err)
	}
	resume()
	b.Commit(context.Background(), CommitOptions{Confirmed: true})
	a.Release()
	b.Release()
	ups := svc.waitUploads(t, 2)
	got := map[remote.ID]string{}
	for _, u := range ups {
		got[u.req.Existing] = u.req.Name + "=" + string(u.data)
	}
	if got["itemA"] != "dup.txt=for A" || got["itemB"] != "dup2.txt=for B" {
		t.Fatalf("uploads by item: %q", got)
	}
	if _, err := m.Create("acct", "p", "again", "itemA", ""); err != nil {
		t.Fatalf("item A after its upload: %v", err)
	}
}

func TestCrashRules(t *testing.T) {
	dir := t.TempDir()
	svc := newFake()
	svc.set(nil, make(chan struct{})) // nothing completes before the "crash"
	m := newManager(t, dir, svc)
	ctx := context.Background()

	// Never closed: unconfirmed.
	open, _ := m.Create("acct", "p", "open.txt", "", "")
	open.WriteAt([]byte("typed, never saved"), 0)
	// Confirmed by an async close, then edited further without a close.
	confirmed, _ := m.Create("acct", "p", "report.pdf", "item1", "v1")
	confirmed.WriteAt([]byte("saved"), 0)
	if err := confirmed.Commit(ctx, CommitOptions{Confirmed: true}); err != nil {
		t.Fatal(err)
	}
	confirmed.WriteAt([]byte(" and more"), 5)
	// Sync close in progress (not confirmed).
	closing, _ := m.Create("acct", "p", "closing.dwg", "", "")
	closing.WriteAt([]byte("closing"), 0)
	cctx, cancel := context.WithCancel(ctx)
	go closing.Commit(cctx, CommitOptions{Exclusive: true, Wait: true})
	for closing.Record().State != Uploading { // its own upload, not another file's
		time.Sleep(time.Millisecond)
	}
	// Opened for writing, filled from the service, nothing changed.
	clean, _ := m.Create("acct", "p", "clean.txt", "item2", "v2")
	clean.Fill(ctx, strings.NewReader("remote bytes"), 12)

	// A stale size in a record must not matter: the data decides.
	rec := confirmed.Record()
	rec.Size = 1
	m.saveRecord(rec)

	// "Crash": stop without closing anything; a new manager starts.
	cancel()
	m.Close()
	svc2 := newFake()
	m2 := newManager(t, dir, svc2)
	defer m2.Close()

	ups := svc2.waitUploads(t, 1)
	time.Sleep(100 * time.Millisecond)
	if len(svc2.list()) != 1 || ups[0].req.Existing != "item1" || string(ups[0].data) != "saved" {
		t.Fatalf("after the restart the uploads are %+v; want only report.pdf's confirmed %q", svc2.list(), "saved")
	}
	recovered := map[string]string{}
	for _, r := range m2.Records() {
		if r.State != Recovered {
			continue
		}
		data, err := os.ReadFile(m2.dataPath(r.Key))
		if err != nil {
			t.Fatal(err)
		}
		recovered[r.From] = r.Name + "=" + string(data)
		if len(m2.NewFiles("acct", "p")) == 0 {
			t.Fatal("recovered files are not listed in their folder")
		}
	}
	for from, want := range map[string]string{
		"open.txt":    "open (recovered ",
		"report.pdf":  "report (recovered ",
		"closing.dwg": "closing (recovered ",
	} {
		if !strings.HasPrefix(recovered[from], want) {
			t.Errorf("recovered from %s: %q", from, recovered[from])
		}
	}
	if !strings.HasSuffix(recovered["report.pdf"], ").pdf=saved and more") || !strings.HasSuffix(recovered["open.txt"], ").txt=typed, never saved") ||
		!strings.HasSuffix(recovered["closing.dwg"], ").dwg=closing") {
		t.Errorf("recovered content: %q", recovered)
	}
	if _, ok := recovered["clean.txt"]; ok || len(recovered) != 3 {
		t.Errorf("recovered %d files: %q", len(recovered), recovered)
	}

	// Publishing a recovered file uploads it as a new file.
	for _, f := range m2.NewFiles("acct", "p") {
		if f.Record().From == "open.txt" {
			resume := f.Pause()
			f.Retarget("p", "open.txt", "")
			resume()
			if err := f.Publish(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	ups = svc2.waitUploads(t, 2)
	if ups[1].req.Name != "open.txt" || string(ups[1].data) != "typed, never saved" || ups[1].req.Existing != "" {
		t.Fatalf("published upload: %+v", ups[1])
	}
}

func TestRecoveredName(t *testing.T) {
	when := time.Date(2026, 12, 6, 9, 5, 7, 0, time.Local)
	for name, want := range map[string]string{
		"plan.pdf":       "plan (recovered 2026-12-06 090507).pdf",
		"archive.tar.gz": "archive.tar (recovered 2026-12-06 090507).gz",
		"README":         "README (recovered 2026-12-06 090507)",
		".bashrc":        ".bashrc (recovered 2026-12-06 090507)",
	} {
		if got := RecoveredName(name, when); got != want {
			t.Errorf("RecoveredName(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestFailedUploadKeptAndRetried(t *testing.T) {
	svc := newFake()
	m := newManager(t, t.TempDir(), svc)
	defer m.Close()
	svc.set(&remote.Error{Kind: remote.Unavailable, Op: "upload"}, nil)
	f, _ := m.Create("acct", "p", "x", "", "")
	f.WriteAt([]byte("keep me"), 0)
	err := f.Commit(context.Background(), syncCommit)
	if !remote.IsKind(err, remote.Unavailable) {
		t.Fatalf("commit: %v", err)
	}
	if r := f.Record(); r.State != Failed || r.Attempts != 1 {
		t.Fatalf("record after failure: %+v", r)
	}
	f.Release()
	svc.set(nil, nil)
	ups := svc.waitUploads(t, 1)
	if string(ups[0].data) != "keep me" {
		t.Fatalf("retried upload sent %q", ups[0].data)
	}
}

func TestPermanentErrorWaitsForRetarget(t *testing.T) {
	svc := newFake()
	m := newManager(t, t.TempDir(), svc)
	defer m.Close()
	svc.set(&remote.Error{Kind: remote.Invalid, Op: "upload", Message: "bad name"}, nil)
	f, _ := m.Create("acct", "p", "bad|name", "", "")
	f.WriteAt([]byte("x"), 0)
	f.Commit(context.Background(), syncCommit)
	f.Release()
	svc.set(nil, nil)
	time.Sleep(200 * time.Millisecond)
	if n := len(svc.list()); n != 0 {
		t.Fatalf("a permanent failure was retried %d times", n)
	}
	resume := f.Pause()
	f.Retarget("p", "good name", "")
	resume()
	if ups := svc.waitUploads(t, 1); ups[0].req.Name != "good name" {
		t.Fatalf("after rename: %+v", ups[0].req)
	}
}

func TestFullDiskAsksCacheForRoom(t *testing.T) {
	svc := newFake()
	asked := 0
	m, err := New(Options{Dir: t.TempDir(), Upload: svc.Upload, MakeRoom: func(n int64) int64 { asked++; return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	full := 0
	err = m.writeRoom(func() error {
		full++
		return &os.PathError{Op: "write", Path: "x", Err: errNoSpace}
	})
	if !remote.IsKind(err, remote.NoSpace) || asked != 1 || full != 1 {
		t.Fatalf("err %v, asked %d, tries %d", err, asked, full)
	}
	// With room made, the write is tried again and succeeds.
	m.opts.MakeRoom = func(n int64) int64 { return n }
	tries := 0
	err = m.writeRoom(func() error {
		tries++
		if tries == 1 {
			return errNoSpace
		}
		return nil
	})
	if err != nil || tries != 2 {
		t.Fatalf("err %v after %d tries", err, tries)
	}
	if !errors.Is(localErr("x", errTooBig), errTooBig) || !remote.IsKind(localErr("x", errTooBig), remote.TooLarge) {
		t.Fatal("EFBIG is not TooLarge")
	}
}

var (
	errNoSpace = syscall.ENOSPC
	errTooBig  = syscall.EFBIG
)

// TestWriteAsUploadFinishesKeepsItsRecord races a write against the end of
// an upload, many times: whenever the live copy holds a change the service
// lacks, its journal record must say so, or a crash would lose it.
func TestWriteAsUploadFinishesKeepsItsRecord(t *testing.T) {
	dir := t.TempDir()
	svc := newFake()
	m := newManager(t, dir, svc)
	defer m.Close()
	f, _ := m.Create("acct", "p", "race.txt", "", "")
	defer f.Release()
	for i := range 200 {
		f.WriteAt([]byte("saved"), 0)
		if err := f.Commit(context.Background(), CommitOptions{Confirmed: true}); err != nil {
			t.Fatal(err)
		}
		<-svc.started // the background upload of the snapshot runs now
		f.WriteAt([]byte("unsent"), 0)
		// Wait until that upload has finished.
		for f.Record().State == Uploading || f.Record().State == Pending {
			time.Sleep(50 * time.Microsecond)
		}
		time.Sleep(time.Millisecond)
		b, err := os.ReadFile(m.recordPath(f.Key()))
		if err != nil || !strings.Contains(string(b), `"dirty": true`) {
			t.Fatalf("round %d: the record of an unsent change is %q (%v)", i, b, err)
		}
		// Upload the change too, so the next round starts clean.
		if err := f.Commit(context.Background(), syncCommit); err != nil {
			t.Fatal(err)
		}
		<-svc.started
	}
}

// TestCrashWhileTurningLiveIntoSnapshot: the process dies after the live
// copy was renamed into a snapshot but before the record named it; the
// content is recovered from that snapshot file.
func TestCrashWhileTurningLiveIntoSnapshot(t *testing.T) {
	dir := t.TempDir()
	svc := newFake()
	m := newManager(t, dir, svc)
	f, _ := m.Create("acct", "p", "half.txt", "", "")
	f.WriteAt([]byte("written, closing"), 0)
	key := f.Key()
	m.Close()
	// What the rename of an exclusive commit leaves before its record.
	if err := os.Rename(m.dataPath(key), m.snapPath(key, 1)); err != nil {
		t.Fatal(err)
	}
	m2 := newManager(t, dir, newFake())
	defer m2.Close()
	var found []string
	for _, r := range m2.Records() {
		if r.State == Recovered {
			b, _ := os.ReadFile(m2.dataPath(r.Key))
			found = append(found, r.From+"="+string(b))
		}
	}
	if len(found) != 1 || found[0] != "half.txt=written, closing" {
		t.Fatalf("recovered %q", found)
	}
}

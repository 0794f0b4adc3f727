package bim360

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bim360/emulator"
)

// smallParts makes the backend and the emulator use parts of partSize
// bytes (the real floor is 5 MiB) so multipart uploads stay small.
func smallParts(e *env, partSize int64, parallel int) {
	o := e.s.Options()
	o.MinPartSize = partSize
	e.s.SetOptions(o)
	e.b.up.minPart = partSize
	e.b.up.partSize = partSize
	e.b.up.parallel = parallel
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

// progressLog records Progress calls.
type progressLog struct {
	mu    sync.Mutex
	calls []int64
	hook  func(done int64) // optional, runs on each call
}

func (p *progressLog) fn(done int64) {
	p.mu.Lock()
	p.calls = append(p.calls, done)
	p.mu.Unlock()
	if p.hook != nil {
		p.hook(done)
	}
}

func (p *progressLog) check(t *testing.T, size int64) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 1; i < len(p.calls); i++ {
		if p.calls[i] < p.calls[i-1] {
			t.Errorf("progress went back: %v", p.calls)
		}
	}
	if len(p.calls) == 0 || p.calls[len(p.calls)-1] != size {
		t.Errorf("progress calls %v, want to end at %d", p.calls, size)
	}
}

func upload(t *testing.T, e *env, proj, folder, name, existing string, data []byte, pl *progressLog) (remote.Entry, error) {
	t.Helper()
	parent, _ := folderID(proj, folder)
	req := remote.UploadRequest{Parent: parent, Name: name, Size: int64(len(data)), Content: bytes.NewReader(data)}
	if existing != "" {
		req.Existing, _ = itemID(proj, existing)
	}
	if pl != nil {
		req.Progress = pl.fn
	}
	return e.b.Upload(context.Background(), req)
}

// checkTip verifies the item's tip bytes in the emulator and through the
// backend's reader with the entry Upload returned.
func checkTip(t *testing.T, e *env, proj string, ent remote.Entry, want []byte) {
	t.Helper()
	item := itemOf(t, ent.ID)
	got, err := e.s.ReadTip(proj, item)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("emulator tip: %d bytes, %v; want %d bytes", len(got), err, len(want))
	}
	if ent.Size != int64(len(want)) || ent.Version.ID != e.s.TipVersion(proj, item) {
		t.Errorf("entry %+v; want size %d and version %s", ent, len(want), e.s.TipVersion(proj, item))
	}
	got, err = readRange(e.b, ent, 0, int64(len(want))+10)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("read back: %d bytes, %v", len(got), err)
	}
}

func itemOf(t *testing.T, id remote.ID) string {
	t.Helper()
	e, ok := parseID(id)
	if !ok || e.kind != kindItem {
		t.Fatalf("%q is not an item ID", id)
	}
	return e.item
}

func wantCounts(t *testing.T, s *emulator.Server, want map[string]int64) {
	t.Helper()
	c := s.Counters()
	for op, n := range want {
		if c[op] != n {
			t.Errorf("%s: %d calls, want %d (all: %v)", op, c[op], n, c)
		}
	}
}

func TestEmulatorUploadNewFile(t *testing.T) {
	e, proj, top := fileEnv(t, emulator.Options{Seed: 21})
	data := []byte("hello, upload\n")
	var pl progressLog
	ent, err := upload(t, e, proj, top, "a.txt", "", data, &pl)
	if err != nil {
		t.Fatal(err)
	}
	if ent.Name != "a.txt" || ent.Dir || ent.Version.Number != 1 || ent.ModTime.IsZero() {
		t.Errorf("entry %+v", ent)
	}
	if _, _, ok := ParseStorageURN(ent.Version.Ref); !ok {
		t.Errorf("Ref %q is not a storage URN", ent.Version.Ref)
	}
	wantCounts(t, e.s, map[string]int64{
		emulator.OpCreateStorage: 1, emulator.OpSignedUpload: 1, emulator.OpS3Put: 1,
		emulator.OpCompleteUpload: 1, emulator.OpCreateItem: 1, emulator.OpCreateVersion: 0,
	})
	checkTip(t, e, proj, ent, data)
	pl.check(t, int64(len(data)))
	checkNoSecrets(t, e)
}

// TestEmulatorUploadSameName: an upload under a taken name, with or without
// Existing, becomes a new version of that item, never a second item.
func TestEmulatorUploadSameName(t *testing.T) {
	e, proj, top := fileEnv(t, emulator.Options{Seed: 22})
	item := e.s.AddFile(proj, top, "a.txt", emulator.Bytes([]byte("v1")))
	e.s.ResetCounters()
	v2 := []byte("version two")
	ent, err := upload(t, e, proj, top, "a.txt", "", v2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if itemOf(t, ent.ID) != item || ent.Version.Number != 2 {
		t.Errorf("entry %+v; want version 2 of %s", ent, item)
	}
	wantCounts(t, e.s, map[string]int64{emulator.OpCreateItem: 1, emulator.OpCreateVersion: 1})
	checkTip(t, e, proj, ent, v2)

	e.s.ResetCounters()
	v3 := []byte("three")
	if ent, err = upload(t, e, proj, top, "a.txt", item, v3, nil); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, e.s, map[string]int64{emulator.OpCreateItem: 0, emulator.OpCreateVersion: 1})
	checkTip(t, e, proj, ent, v3)
	if cs := e.s.Children(proj, top); len(cs) != 1 || cs[0].VersionCount != 3 {
		t.Errorf("children %+v; want one item with 3 versions", cs)
	}
}

func TestEmulatorUploadMultipart(t *testing.T) {
	e, proj, top := fileEnv(t, emulator.Options{Seed: 23})
	const part = 4 << 10
	smallParts(e, part, 4)
	data := randomBytes(30*part+123, 1) // 31 parts: two batches of URLs
	var pl progressLog
	ent, err := upload(t, e, proj, top, "big.bin", "", data, &pl)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts(t, e.s, map[string]int64{emulator.OpSignedUpload: 2, emulator.OpS3Put: 31, emulator.OpCompleteUpload: 1})
	checkTip(t, e, proj, ent, data)
	pl.check(t, int64(len(data)))
	if n, _ := e.s.UploadStats(); n != 0 {
		t.Errorf("%d upload sessions left open", n)
	}
}

func TestEmulatorUploadEmpty(t *testing.T) {
	e, proj, top := fileEnv(t, emulator.Options{Seed: 24})
	ent, err := upload(t, e, proj, top, "empty.txt", "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts(t, e.s, map[string]int64{emulator.OpS3Put: 1, emulator.OpCompleteUpload: 1})
	checkTip(t, e, proj, ent, []byte{})
}

// TestEmulatorUploadExpiredURLs: part URLs that expire before their PUT
// starts are refused by S3 (403); the upload asks for fresh URLs for the
// remaining parts under the same upload key and finishes.
func TestEmulatorUploadExpiredURLs(t *testing.T) {
	e, proj, top := fileEnv(t, emulator.Options{Seed: 25, UploadURLLifetime: time.Minute})
	const part = 1 << 10
	smallParts(e, part, 1)
	data := randomBytes(6*part, 2)
	pl := progressLog{hook: func(done int64) {
		if done == part { // after the first part: every URL handed out so far expires
			e.s.Advance(2 * time.Minute)
		}
	}}
	ent, err := upload(t, e, proj, top, "x.bin", "", data, &pl)
	if err != nil {
		t.Fatal(err)
	}
	c := e.s.Counters()
	if c[emulator.OpSignedUpload] != 2 || c[emulator.OpS3Put] != 7 {
		t.Errorf("%d signeds3upload, %d S3 PUT; want 2 (first batch, fresh URLs) and 7 (one refused)", c[emulator.OpSignedUpload], c[emulator.OpS3Put])
	}
	checkTip(t, e, proj, ent, data)
	checkNoSecrets(t, e)
}

// TestEmulatorUploadRetries: part PUTs that fail with 503 SlowDown or a
// dropped connection are repeated; the object is still byte-exact.
func TestEmulatorUploadRetries(t *testing.T) {
	e, proj, top := fileEnv(t, emulator.Options{Seed: 26})
	const part = 2 << 10
	smallParts(e, part, 3)
	o := e.s.Options()
	// Faults hit API calls too, and a completion is tried only three
	// times: few 503s, more resets (which only part PUTs see), and enough
	// parts that some fault is all but certain (P(none) ≈ 0.81^41).
	o.Rate503, o.RateReset = 0.05, 0.15
	e.s.SetOptions(o)
	data := randomBytes(40*part+7, 3)
	ent, err := upload(t, e, proj, top, "flaky.bin", "", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.Rate503, o.RateReset = 0, 0
	e.s.SetOptions(o)
	if c := e.s.Counters(); c[emulator.OpS3Put] <= 41 {
		t.Errorf("%d S3 PUTs for 41 parts: no fault was injected", c[emulator.OpS3Put])
	}
	checkTip(t, e, proj, ent, data)
}

// TestEmulatorUploadCompleteFails: one failed completion is repeated; a
// completion that keeps failing fails the upload with nothing created,
// and the caller's content is untouched.
func TestEmulatorUploadCompleteFails(t *testing.T) {
	e, proj, top := fileEnv(t, emulator.Options{Seed: 27, FailComplete: 1})
	data := []byte("completed on the second try")
	ent, err := upload(t, e, proj, top, "a.txt", "", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkTip(t, e, proj, ent, data)

	o := e.s.Options()
	o.FailComplete = 100
	e.s.SetOptions(o)
	e.s.ResetCounters()
	staged := []byte("the staged copy")
	keep := bytes.Clone(staged)
	_, err = upload(t, e, proj, top, "b.txt", "", staged, nil)
	if !remote.IsKind(err, remote.Unavailable) {
		t.Fatalf("err %v (kind %v), want Unavailable", err, remote.KindOf(err))
	}
	wantCounts(t, e.s, map[string]int64{emulator.OpCompleteUpload: completeAttempts, emulator.OpCreateItem: 0})
	if e.s.FindChild(proj, top, "b.txt") != "" || !bytes.Equal(staged, keep) {
		t.Error("a failed upload created the file or changed the caller's bytes")
	}
}

func TestEmulatorUploadRefused(t *testing.T) {
	e, proj, top := fileEnv(t, emulator.Options{Seed: 28})
	ro := e.s.AddFolder(proj, top, "read-only")
	e.s.SetFolderReadOnly(proj, ro)
	locked := e.s.AddFile(proj, top, "locked.txt", emulator.Bytes([]byte("x")))
	e.s.LockItem(proj, locked)
	hub, _ := hubID("b.h")
	project, _ := projectID("b.h", proj)
	ctx := context.Background()
	tests := []struct {
		name string
		req  remote.UploadRequest
		kind remote.Kind
	}{
		{"read-only folder", remote.UploadRequest{Parent: mustFolderID(proj, ro), Name: "a.txt"}, remote.Permission},
		{"project root", remote.UploadRequest{Parent: project, Name: "a.txt"}, remote.Permission},
		{"hub", remote.UploadRequest{Parent: hub, Name: "a.txt"}, remote.Permission},
		{"bad name", remote.UploadRequest{Parent: mustFolderID(proj, top), Name: "a|b.txt"}, remote.Invalid},
		{"locked item", remote.UploadRequest{Parent: mustFolderID(proj, top), Name: "locked.txt", Existing: mustItemID(proj, locked)}, remote.Conflict},
	}
	for _, tt := range tests {
		tt.req.Content, tt.req.Size = bytes.NewReader([]byte("data")), 4
		_, err := e.b.Upload(ctx, tt.req)
		if !remote.IsKind(err, tt.kind) {
			t.Errorf("%s: err %v (kind %v), want %v", tt.name, err, remote.KindOf(err), tt.kind)
		}
		if tt.name == "read-only folder" {
			var re *remote.Error
			if !asRemote(err, &re) || re.Message == "" {
				t.Errorf("%s: no message from the service: %v", tt.name, err)
			}
		}
	}
	if n, _ := e.s.UploadStats(); n != 0 {
		t.Errorf("%d upload sessions open", n)
	}
}

func mustFolderID(proj, f string) remote.ID { id, _ := folderID(proj, f); return id }
func mustItemID(proj, i string) remote.ID   { id, _ := itemID(proj, i); return id }

func asRemote(err error, re **remote.Error) bool { return errors.As(err, re) }

// TestRawUpload checks the benchmark baseline against the emulator: the
// same bytes arrive as a new item.
func TestRawUpload(t *testing.T) {
	e, proj, top := fileEnv(t, emulator.Options{Seed: 29, MinPartSize: 1 << 10})
	data := randomBytes(30<<10+5, 4)
	urn, err := RawUpload(context.Background(), RawUploadRequest{
		BaseURL: e.s.URL, Token: e.s.Token(), ProjectID: proj, FolderID: top, Name: "raw.bin",
		Content: bytes.NewReader(data), Size: int64(len(data)), PartSize: 1 << 10, Parallel: 4, CreateItem: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	item := e.s.FindChild(proj, top, "raw.bin")
	if got, err := e.s.ReadTip(proj, item); err != nil || !bytes.Equal(got, data) || e.s.StorageID(proj, e.s.TipVersion(proj, item)) != urn {
		t.Errorf("raw upload: %d bytes, %v, storage %s", len(got), err, urn)
	}
	wantCounts(t, e.s, map[string]int64{emulator.OpSignedUpload: 2, emulator.OpS3Put: 31})
}

// TestEmulatorUploadCanceled: cancelling the caller's context stops the
// part uploads; the upload fails as Canceled and creates nothing.
func TestEmulatorUploadCanceled(t *testing.T) {
	e, proj, top := fileEnv(t, emulator.Options{Seed: 30})
	const part = 1 << 10
	smallParts(e, part, 2)
	data := randomBytes(40*part, 6)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pl := progressLog{hook: func(done int64) {
		if done >= 3*part {
			cancel()
		}
	}}
	_, err := e.b.Upload(ctx, remote.UploadRequest{Parent: mustFolderID(proj, top), Name: "c.bin",
		Size: int64(len(data)), Content: bytes.NewReader(data), Progress: pl.fn})
	wantKind(t, "canceled upload", err, remote.Canceled)
	if c := e.s.Counters(); c[emulator.OpS3Put] >= 40 || c[emulator.OpCompleteUpload] != 0 || c[emulator.OpCreateItem] != 0 {
		t.Errorf("after cancel: %v", c)
	}
	if e.s.FindChild(proj, top, "c.bin") != "" {
		t.Error("a canceled upload created the file")
	}
}

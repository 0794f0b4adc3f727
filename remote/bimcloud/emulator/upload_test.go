package emulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// uploader drives the blob-server upload API of one session, as
// blobserverapi.py does.
type uploader struct {
	h         *harness
	tok       string
	base, sid string
}

func (h *harness) uploader(msID string) *uploader {
	h.t.Helper()
	tok := h.srv.Token()
	base, sid := h.session(tok, msID)
	return &uploader{h: h, tok: tok, base: base, sid: sid}
}

func (u *uploader) post(ctx context.Context, op string, q url.Values, hdr http.Header, body []byte) (int, []byte) {
	u.h.t.Helper()
	if q.Get("session-id") == "" {
		q.Set("session-id", u.sid)
	}
	st, _, b := u.h.do(ctx, "POST", u.base+"/blob-store-service/1.0/"+op+"?"+q.Encode(), hdr, body)
	return st, b
}

func (u *uploader) beginBatch() batchJSON {
	u.h.t.Helper()
	st, b := u.post(context.Background(), "begin-batch-upload", url.Values{"description": {"Uploading a file"}}, nil, nil)
	var env struct {
		DataContentType string    `json:"data-content-type"`
		Data            batchJSON `json:"data"`
	}
	u.h.must(st, b, &env)
	if env.DataContentType != ctBatchSession || env.Data.ID == "" || env.Data.NamespaceName == "" || env.Data.Description != "Uploading a file" {
		u.h.t.Fatalf("begin-batch-upload: %s", b)
	}
	return env.Data
}

func (u *uploader) beginUpload(ns, name string) (int, []byte) {
	return u.post(context.Background(), "begin-upload", url.Values{"blob-name": {name}, "namespace-name": {ns}}, nil, nil)
}

func (u *uploader) mustBeginUpload(ns, name string) uploadJSON {
	u.h.t.Helper()
	st, b := u.beginUpload(ns, name)
	var env struct {
		Data uploadJSON `json:"data"`
	}
	u.h.must(st, b, &env)
	if env.Data.ID == "" || env.Data.TargetBlobName != name || env.Data.TargetNamespaceName != ns || len(env.Data.UploadedParts) != 0 {
		u.h.t.Fatalf("begin-upload: %s", b)
	}
	return env.Data
}

// put sends a raw chunk (the demo's way) with the given offset and length.
func (u *uploader) put(id string, off, length int64, chunk []byte) (int, []byte) {
	u.h.t.Helper()
	q := url.Values{"upload-session-id": {id}, "offset": {strconv.FormatInt(off, 10)}, "length": {strconv.FormatInt(length, 10)}}
	return u.post(context.Background(), "put-blob-content-part", q, http.Header{"Content-Type": {"application/octet-stream"}}, chunk)
}

// putMultipart sends a chunk as multipart/form-data (the spec's way).
func (u *uploader) putMultipart(id string, off int64, chunk []byte) (int, []byte) {
	u.h.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "chunk")
	fw.Write(chunk)
	mw.Close()
	q := url.Values{"upload-session-id": {id}, "offset": {strconv.FormatInt(off, 10)}, "length": {strconv.Itoa(len(chunk))}}
	return u.post(context.Background(), "put-blob-content-part", q, http.Header{"Content-Type": {mw.FormDataContentType()}}, buf.Bytes())
}

func (u *uploader) commitUpload(id string) (int, []byte) {
	return u.post(context.Background(), "commit-upload", url.Values{"upload-session-id": {id}}, nil, nil)
}

func (u *uploader) commitBatch(id, conflict string) (int, []byte) {
	q := url.Values{"batch-upload-session-id": {id}}
	if conflict != "" {
		q.Set("conflict-behavior", conflict)
	}
	return u.post(context.Background(), "commit-batch-upload", q, nil, nil)
}

// upload runs a whole batch for one file in chunks of chunk bytes and
// returns the final metadata.
func (u *uploader) upload(name string, data []byte, chunk int, conflict string, multipartBody bool) standardMetadata {
	u.h.t.Helper()
	b := u.beginBatch()
	up := u.mustBeginUpload(b.NamespaceName, name)
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		var st int
		var body []byte
		if multipartBody {
			st, body = u.putMultipart(up.ID, int64(off), data[off:end])
		} else {
			st, body = u.put(up.ID, int64(off), int64(end-off), data[off:end])
		}
		var env struct {
			Data uploadJSON `json:"data"`
		}
		u.h.must(st, body, &env)
		if len(env.Data.UploadedParts) != 1 || env.Data.UploadedParts[0].Length != int64(end) {
			u.h.t.Fatalf("uploaded-parts after %d bytes: %s", end, body)
		}
	}
	st, body := u.commitUpload(up.ID)
	var tmp struct {
		DataContentType string           `json:"data-content-type"`
		Data            blobMetadataJSON `json:"data"`
	}
	u.h.must(st, body, &tmp)
	sum := sha256.Sum256(data)
	if tmp.DataContentType != ctBlobMeta || tmp.Data.Standard.Size != strconv.Itoa(len(data)) ||
		tmp.Data.Standard.ContentHash != base64.RawURLEncoding.EncodeToString(sum[:]) || tmp.Data.Standard.BlobName != name {
		u.h.t.Fatalf("commit-upload: %s", body)
	}
	st, body = u.commitBatch(b.ID, conflict)
	var list struct {
		DataContentType string             `json:"data-content-type"`
		Data            []blobMetadataJSON `json:"data"`
	}
	u.h.must(st, body, &list)
	if list.DataContentType != ctBlobMetaList || len(list.Data) != 1 {
		u.h.t.Fatalf("commit-batch-upload: %s", body)
	}
	final := list.Data[0].Standard
	if final.BlobID == tmp.Data.Standard.BlobID {
		u.h.t.Fatalf("commit-upload's temporary blob-id %s was kept", final.BlobID)
	}
	return final
}

func TestBatchUpload(t *testing.T) {
	h := newHarness(t, Options{})
	srv := h.srv
	u := h.uploader(srv.DefaultModelServer())
	start := h.changes(u.tok, map[string]any{"path": RootName, "fromRevision": 0}).EndRevision

	// A new file below folders that do not exist yet, in raw chunks with a
	// short last one.
	data := make([]byte, 100*KiB+7)
	Synthetic(3, int64(len(data))).ReadAt(data, 0)
	md := u.upload("/New/Deep/file.bin", data, 40*KiB, "overwrite", false)
	id, ok := srv.Lookup("Project Root/New/Deep/file.bin")
	if !ok || md.BlobID != id || md.ContentRevision != "1" || md.Size != strconv.Itoa(len(data)) {
		t.Fatalf("final metadata %+v, tree id %q", md, id)
	}
	info, _ := srv.Blob(id)
	if info.ModelServerID != srv.DefaultModelServer() || info.ContentRevision != 1 {
		t.Fatalf("blob %+v", info)
	}
	_, _, got := h.content(u.base, u.sid, id, nil)
	if !bytes.Equal(got, data) {
		t.Fatal("downloaded bytes differ from the upload")
	}
	r := h.resource(u.tok, id)
	if r.Size == nil || *r.Size != int64(len(data)) || r.ModelServerID != srv.DefaultModelServer() {
		t.Fatalf("resource %+v", r)
	}

	// Overwrite: the same blob gets a second content revision, here sent
	// multipart as the spec declares.
	data2 := []byte("Hello, world!\nHello again!")
	md2 := u.upload("/New/Deep/file.bin", data2, 10, "overwrite", true)
	if md2.BlobID != id || md2.ContentRevision != "2" || md2.Created != md.Created {
		t.Fatalf("overwrite metadata %+v (first %+v)", md2, md)
	}
	if _, _, got := h.content(u.base, u.sid, id, nil); !bytes.Equal(got, data2) {
		t.Fatalf("after overwrite: %q", got)
	}
	if r2 := h.resource(u.tok, id); r2.ModifiedDate <= r.ModifiedDate {
		t.Fatalf("$modifiedDate did not grow: %d → %d", r.ModifiedDate, r2.ModifiedDate)
	}

	// conflict-behavior=fail refuses an existing path and changes nothing.
	b := u.beginBatch()
	up := u.mustBeginUpload(b.NamespaceName, "/New/Deep/file.bin")
	h.ok(u.put(up.ID, 0, 1, []byte("x")))
	h.ok(u.commitUpload(up.ID))
	st, body := u.commitBatch(b.ID, "fail")
	h.blobErr(st, body, StatusBIMcloudError, BlobErrBlobAlreadyExists)
	if info, _ := srv.Blob(id); info.ContentRevision != 2 {
		t.Fatalf("failed batch changed the blob: %+v", info)
	}

	// An empty file has no parts.
	md0 := u.upload("/empty.bin", nil, 1, "fail", false)
	if md0.Size != "0" {
		t.Fatalf("empty upload %+v", md0)
	}

	ch := h.changes(u.tok, map[string]any{"path": RootName, "fromRevision": start})
	if len(ch.Created) != 2 || len(ch.Updated) != 0 {
		// created then updated in one window reports created
		t.Fatalf("feed: %+v", ch)
	}
	c := srv.Counters()
	for _, op := range []string{"begin-batch-upload", "begin-upload", "put-blob-content-part", "commit-upload", "commit-batch-upload"} {
		if c[op] == 0 {
			t.Errorf("counter %s is 0", op)
		}
	}
	if c["put-blob-content-part.bytes"] != int64(len(data)+len(data2)+1) {
		t.Errorf("part bytes %d", c["put-blob-content-part.bytes"])
	}
}

func TestUploadPartRules(t *testing.T) {
	h := newHarness(t, Options{MaxPartSize: 1 * MiB})
	u := h.uploader(h.srv.DefaultModelServer())
	b := u.beginBatch()
	up := u.mustBeginUpload(b.NamespaceName, "/f.bin")
	h.ok(u.put(up.ID, 0, 4, []byte("abcd")))
	h.ok(u.put(up.ID, 0, 4, []byte("abcd"))) // a retried part replaces itself
	h.ok(u.put(up.ID, 8, 4, []byte("ijkl"))) // out of order is fine

	for _, tc := range []struct {
		name        string
		off, length int64
		body        []byte
		invalidReq  bool
	}{
		{"overlap", 2, 4, []byte("cdef"), false},
		{"body shorter than length", 4, 4, []byte("efg"), false},
		{"body longer than length", 4, 4, []byte("efghi"), false},
		{"zero length", 4, 0, nil, false},
		{"negative offset", -1, 4, []byte("efgh"), false},
		{"longer than the server takes", 4, 2 * MiB, make([]byte, 2*MiB), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body := u.put(up.ID, tc.off, tc.length, tc.body)
			h.blobErr(st, body, StatusBIMcloudError, BlobErrInvalidBlobContentPart)
		})
	}
	// A gap: 4..8 is missing.
	st, body := u.commitUpload(up.ID)
	h.blobErr(st, body, StatusBIMcloudError, BlobErrIncompleteUpload)
	h.ok(u.put(up.ID, 4, 4, []byte("efgh")))
	h.ok(u.commitUpload(up.ID))
	st, body = u.commitUpload(up.ID)
	h.blobErr(st, body, StatusBIMcloudError, BlobErrUploadSessionNotFound)
	st, body = u.put(up.ID, 12, 1, []byte("m"))
	h.blobErr(st, body, StatusBIMcloudError, BlobErrInvalidBlobContentPart)
	h.ok(u.commitBatch(b.ID, "overwrite"))
	id, _ := h.srv.Lookup("Project Root/f.bin")
	if _, _, got := h.content(u.base, u.sid, id, nil); string(got) != "abcdefghijkl" {
		t.Fatalf("content %q", got)
	}
	// The batch is gone once committed.
	st, body = u.commitBatch(b.ID, "overwrite")
	h.blobErr(st, body, StatusBIMcloudError, BlobErrUploadSessionNotFound)
}

func TestUploadSessionsAndConflicts(t *testing.T) {
	h := newHarness(t, Options{})
	srv := h.srv
	u := h.uploader(srv.DefaultModelServer())
	srv.AddBlob(RootID, "file.txt", Bytes([]byte("x")), "")
	srv.AddFolder(RootID, "dir")

	st, body := u.beginUpload("832DBA54-7E0B-463C-B0EF-DB65DAB25745", "/a.txt")
	h.blobErr(st, body, StatusBIMcloudError, BlobErrBlobNamespaceNotFound)
	b := u.beginBatch()
	st, body = u.beginUpload(b.NamespaceName, "/bad:name.txt")
	h.blobErr(st, body, StatusBIMcloudError, BlobErrGeneric)

	// Another session cannot use this session's batch.
	other := h.uploader(srv.DefaultModelServer())
	st, body = other.beginUpload(b.NamespaceName, "/a.txt")
	h.blobErr(st, body, StatusBIMcloudError, BlobErrBlobNamespaceNotFound)
	st, body = other.commitBatch(b.ID, "overwrite")
	h.blobErr(st, body, StatusBIMcloudError, BlobErrUploadSessionNotFound)

	// Commit failures apply nothing of the batch.
	for _, tc := range []struct {
		name  string
		paths []string
		code  int
	}{
		{"folder part is a file", []string{"/ok.txt", "/file.txt/x.txt"}, BlobErrBatchUploadCommitFailed},
		{"path is a folder", []string{"/ok.txt", "/dir"}, BlobErrBatchUploadCommitFailed},
		{"same path twice", []string{"/ok.txt", "/ok.txt"}, BlobErrBatchUploadCommitFailed},
		{"exists with fail", []string{"/ok.txt", "/file.txt"}, BlobErrBlobAlreadyExists},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := u.beginBatch()
			for _, p := range tc.paths {
				up := u.mustBeginUpload(b.NamespaceName, p)
				h.ok(u.put(up.ID, 0, 2, []byte("hi")))
				h.ok(u.commitUpload(up.ID))
			}
			st, body := u.commitBatch(b.ID, "fail")
			h.blobErr(st, body, StatusBIMcloudError, tc.code)
			if _, ok := srv.Lookup("Project Root/ok.txt"); ok {
				t.Fatal("a failed batch stored part of its uploads")
			}
		})
	}

	// Uncommitted uploads are dropped; a missing conflict-behavior is fail.
	b = u.beginBatch()
	up := u.mustBeginUpload(b.NamespaceName, "/dropped.txt")
	h.ok(u.put(up.ID, 0, 1, []byte("x")))
	up2 := u.mustBeginUpload(b.NamespaceName, "/file.txt")
	h.ok(u.put(up2.ID, 0, 1, []byte("y")))
	h.ok(u.commitUpload(up2.ID))
	st, body = u.commitBatch(b.ID, "")
	h.blobErr(st, body, StatusBIMcloudError, BlobErrBlobAlreadyExists)
	st, body = u.post(withInvalidRequest(context.Background()), "commit-batch-upload",
		url.Values{"batch-upload-session-id": {b.ID}, "conflict-behavior": {"merge"}}, nil, nil)
	h.blobErr(st, body, StatusBIMcloudError, BlobErrGeneric)

	// Expired batch and upload sessions.
	srv.ExpireUploads()
	st, body = u.beginUpload(b.NamespaceName, "/late.txt")
	h.blobErr(st, body, StatusBIMcloudError, BlobErrBlobNamespaceNotFound)
	st, body = u.put(up.ID, 1, 1, []byte("z"))
	h.blobErr(st, body, StatusBIMcloudError, BlobErrUploadSessionNotFound)
	st, body = u.commitBatch(b.ID, "overwrite")
	h.blobErr(st, body, StatusBIMcloudError, BlobErrUploadSessionNotFound)

	// An expired blob-server session ends them all (error 11 first).
	b = u.beginBatch()
	srv.ExpireSessions()
	st, body = u.post(context.Background(), "begin-batch-upload", url.Values{}, nil, nil)
	h.blobErr(st, body, StatusBIMcloudError, BlobErrSessionNotFound)
	st, body = u.commitBatch(b.ID, "overwrite")
	h.blobErr(st, body, StatusBIMcloudError, BlobErrSessionNotFound)
	if _, ok := srv.Lookup("Project Root/dropped.txt"); ok {
		t.Fatal("uncommitted upload stored")
	}
}

func TestInjectedUploadErrors(t *testing.T) {
	h := newHarness(t, Options{})
	u := h.uploader(h.srv.DefaultModelServer())
	b := u.beginBatch()
	up := u.mustBeginUpload(b.NamespaceName, "/x.txt")
	for _, tc := range []struct {
		op   string
		call func() (int, []byte)
	}{
		{"begin-batch-upload", func() (int, []byte) {
			return u.post(context.Background(), "begin-batch-upload", url.Values{}, nil, nil)
		}},
		{"begin-upload", func() (int, []byte) { return u.beginUpload(b.NamespaceName, "/y.txt") }},
		{"put-blob-content-part", func() (int, []byte) { return u.put(up.ID, 0, 1, []byte("x")) }},
		{"commit-upload", func() (int, []byte) { return u.commitUpload(up.ID) }},
		{"commit-batch-upload", func() (int, []byte) { return u.commitBatch(b.ID, "overwrite") }},
	} {
		for _, code := range []int{BlobErrAccessControlTicketExpired, BlobErrSessionNotFound, BlobErrIncompleteUpload} {
			h.srv.InjectError(tc.op, code, 1)
			st, body := tc.call()
			h.blobErr(st, body, StatusBIMcloudError, code)
		}
	}
	// Nothing was served while errors were injected: the upload is intact.
	h.ok(u.put(up.ID, 0, 1, []byte("x")))
	h.ok(u.commitUpload(up.ID))
	h.ok(u.commitBatch(b.ID, "overwrite"))
}

// TestUploadMemory checks that a large upload's bytes are held once: the
// heap grows by about the file size in memory mode and by almost nothing
// when parts spill to disk.
func TestUploadMemory(t *testing.T) {
	const size = 48 * MiB
	for _, spill := range []bool{false, true} {
		t.Run(map[bool]string{false: "Memory", true: "Spill"}[spill], func(t *testing.T) {
			o := Options{}
			if spill {
				o.UploadDir = t.TempDir()
			}
			h := newHarness(t, o)
			u := h.uploader(h.srv.DefaultModelServer())
			heap := func() uint64 {
				runtime.GC()
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				return m.HeapInuse
			}
			before := heap()
			b := u.beginBatch()
			up := u.mustBeginUpload(b.NamespaceName, "/big.bin")
			src := Synthetic(9, size)
			chunk := make([]byte, 4*MiB)
			for off := int64(0); off < size; off += int64(len(chunk)) {
				src.ReadAt(chunk, off)
				h.ok(u.put(up.ID, off, int64(len(chunk)), chunk))
			}
			h.ok(u.commitUpload(up.ID))
			h.ok(u.commitBatch(b.ID, "fail"))
			grew := int64(heap()) - int64(before)
			limit := int64(size + size/2)
			if spill {
				limit = 16 * MiB
			}
			t.Logf("heap grew by %d MiB for a %d MiB upload", grew>>20, size>>20)
			if grew > limit {
				t.Fatalf("heap grew by %d bytes for a %d-byte upload (limit %d)", grew, size, limit)
			}
			id, _ := h.srv.Lookup("Project Root/big.bin")
			info, _ := h.srv.Blob(id)
			got := make([]byte, 64*KiB)
			for _, off := range []int64{0, size/2 + 12345, size - int64(len(got))} {
				info.Content.ReadAt(got, off)
				for i := range got {
					if got[i] != SyntheticByte(9, off+int64(i)) {
						t.Fatalf("byte %d differs", off+int64(i))
					}
				}
			}
			runtime.KeepAlive(info)
			if spill {
				dirs, _ := filepath.Glob(filepath.Join(o.UploadDir, "bimcloud-emulator-uploads-*"))
				if len(dirs) != 1 {
					t.Fatalf("spill dirs %v", dirs)
				}
				h.srv.Close()
				if _, err := os.Stat(dirs[0]); !os.IsNotExist(err) {
					t.Fatalf("spill dir left after Close: %v", err)
				}
			}
		})
	}
}

// ok asserts a 200 answer.
func (h *harness) ok(status int, body []byte) {
	h.t.Helper()
	h.must(status, body, nil)
}

// TestConcurrentParts sends the parts of one upload from several
// goroutines, out of order, next to uploads of other files; run with -race.
func TestConcurrentParts(t *testing.T) {
	h := newHarness(t, Options{})
	u := h.uploader(h.srv.DefaultModelServer())
	const part, parts = 7 * KiB, 24
	data := make([]byte, part*parts-123)
	Synthetic(4, int64(len(data))).ReadAt(data, 0)
	b := u.beginBatch()
	up := u.mustBeginUpload(b.NamespaceName, "/parallel.bin")
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := parts - 1 - w; i >= 0; i -= 4 {
				off := i * part
				end := min(off+part, len(data))
				if st, body := u.put(up.ID, int64(off), int64(end-off), data[off:end]); st != 200 {
					t.Errorf("part %d: %d %s", i, st, body)
				}
			}
		})
	}
	for i := range 3 {
		wg.Go(func() {
			other := h.uploader(h.srv.DefaultModelServer())
			other.upload("/other"+strconv.Itoa(i)+".bin", data[:1000], 100, "fail", false)
		})
	}
	wg.Wait()
	h.ok(u.commitUpload(up.ID))
	h.ok(u.commitBatch(b.ID, "fail"))
	id, _ := h.srv.Lookup("Project Root/parallel.bin")
	if _, _, got := h.content(u.base, u.sid, id, nil); !bytes.Equal(got, data) {
		t.Fatal("content of the parallel upload differs")
	}
}

// BenchmarkPutBlobContentPart measures the emulator's upload throughput
// (memory and spill modes), the ceiling for client upload benchmarks.
func BenchmarkPutBlobContentPart(b *testing.B) {
	for _, spill := range []bool{false, true} {
		b.Run(map[bool]string{false: "Memory", true: "Spill"}[spill], func(b *testing.B) {
			o := Options{}
			if spill {
				o.UploadDir = b.TempDir()
			}
			srv := New(o)
			defer srv.Close()
			ms := srv.DefaultModelServer()
			base := srv.BlobServerURL(ms)
			srv.mu.Lock()
			srv.sessions["bench"] = &session{modelServerID: ms, exp: farFuture}
			srv.mu.Unlock()
			const size, part = 64 * MiB, 8 * MiB
			chunk := make([]byte, part)
			post := func(op string, q url.Values, body []byte) []byte {
				q.Set("session-id", "bench")
				resp, err := http.Post(base+"/blob-store-service/1.0/"+op+"?"+q.Encode(), "application/octet-stream", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				defer resp.Body.Close()
				out, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 {
					b.Fatalf("%s: %d %s", op, resp.StatusCode, out)
				}
				return out
			}
			b.SetBytes(size)
			i := 0
			for b.Loop() {
				var bt struct{ Data batchJSON }
				decodeJSONB(b, post("begin-batch-upload", url.Values{}, nil), &bt)
				var up struct{ Data uploadJSON }
				decodeJSONB(b, post("begin-upload", url.Values{"namespace-name": {bt.Data.NamespaceName}, "blob-name": {"/b" + strconv.Itoa(i)}}, nil), &up)
				for off := 0; off < size; off += part {
					post("put-blob-content-part", url.Values{"upload-session-id": {up.Data.ID}, "offset": {strconv.Itoa(off)}, "length": {strconv.Itoa(part)}}, chunk)
				}
				post("commit-upload", url.Values{"upload-session-id": {up.Data.ID}}, nil)
				post("commit-batch-upload", url.Values{"batch-upload-session-id": {bt.Data.ID}, "conflict-behavior": {"overwrite"}}, nil)
				i++
			}
		})
	}
}

func decodeJSONB(b *testing.B, body []byte, v any) {
	if err := json.Unmarshal(body, v); err != nil {
		b.Fatalf("decode %s: %v", body, err)
	}
}

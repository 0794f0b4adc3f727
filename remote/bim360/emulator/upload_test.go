package emulator

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

func TestUploadFlowCreatesItem(t *testing.T) {
	f := newWriteFixture(t, Options{MinPartSize: 1024})
	parts := [][]byte{bytes.Repeat([]byte("a"), 2048), bytes.Repeat([]byte("b"), 1024), []byte("tail")}
	all := bytes.Join(parts, nil)

	id, bucket, key := createStorage(f.c, f.pid, f.files, "Model A.rvt")
	if bucket != bucketWIP || !strings.HasSuffix(key, ".rvt") || len(key) != 36+4 {
		t.Fatalf("storage id %s", id)
	}
	var u uploadURLs
	f.c.getJSON(uploadPath(bucket, key, "parts=3&minutesExpiration=5"), http.StatusOK, &u)
	if u.UploadKey == "" || len(u.URLs) != 3 {
		t.Fatalf("signeds3upload = %+v", u)
	}
	exp, err1 := time.Parse(time.RFC3339, u.URLExpiration)
	upExp, err2 := time.Parse(time.RFC3339, u.UploadExpiration)
	if err1 != nil || err2 != nil || time.Until(exp) < 4*time.Minute || time.Until(exp) > 6*time.Minute || time.Until(upExp) < 23*time.Hour {
		t.Errorf("expirations %q %q", u.URLExpiration, u.UploadExpiration)
	}
	for i, raw := range u.URLs {
		pu, _ := url.Parse(raw)
		if q := pu.Query(); q.Get("partNumber") != itoa(i+1) || q.Get("X-Amz-Expires") != "300" {
			t.Errorf("URL %d query %v", i, q)
		}
	}
	// Parts may arrive in any order.
	var etags [3]string
	for _, i := range []int{2, 0, 1} {
		resp, b := f.c.putPart(u.URLs[i], parts[i])
		if resp.StatusCode != 200 || len(b) != 0 {
			t.Fatalf("PUT part %d: %d %s", i+1, resp.StatusCode, b)
		}
		etags[i] = resp.Header.Get("ETag")
	}
	var det struct {
		BucketKey, ObjectID, ObjectKey, SHA1, ContentType, Location string
		Size                                                        int64
	}
	b := f.c.complete(bucket, key, obj{"uploadKey": u.UploadKey, "size": len(all), "eTags": etags[:]}, 200)
	if err := json.Unmarshal(b, &det); err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(all)
	if det.ObjectID != id || det.BucketKey != bucket || det.ObjectKey != key || det.Size != int64(len(all)) || det.SHA1 != hex.EncodeToString(sum[:]) {
		t.Errorf("objectDetails = %+v", det)
	}
	// Completing again with the same uploadKey gives the same answer.
	if again := f.c.complete(bucket, key, obj{"uploadKey": u.UploadKey}, 200); !bytes.Equal(again, b) {
		t.Errorf("repeated complete: %s vs %s", again, b)
	}

	var created wireOne
	f.c.sendJSON(http.MethodPost, projPath(f.pid, "/items"), itemBody(f.files, "Model A.rvt", id), http.StatusCreated, &created)
	if created.Data.Type != "items" || created.Data.str("displayName") != "Model A.rvt" || len(created.Included) != 1 || created.Included[0].rel("storage") != id {
		t.Fatalf("created item = %+v", created)
	}
	if created.Data.rel("parent") != f.files || created.Data.rel("tip") != created.Included[0].ID {
		t.Errorf("relationships = %+v", created.Data.Relationships)
	}
	itemID := created.Data.ID
	if got, err := f.s.ReadTip(f.pid, itemID); err != nil || !bytes.Equal(got, all) {
		t.Fatalf("ReadTip = %q, %v", got, err)
	}
	// The new item is listed and downloadable like any other.
	rows, _, _ := listAll(f.c, contentsPath(f.pid, f.files))
	if len(rows) != 1 || rows[0].ID != itemID {
		t.Fatalf("listing = %+v", rows)
	}
	var d s3dl
	f.c.getJSON("/oss/v2/buckets/"+bucket+"/objects/"+url.PathEscape(key)+"/signeds3download", 200, &d)
	resp, got := f.c.do(http.MethodGet, d.URL, nil, http.Header{"Range": {"bytes=2040-3074"}})
	if resp.StatusCode != 206 || !bytes.Equal(got, all[2040:3075]) {
		t.Errorf("range across parts: %d %q", resp.StatusCode, got)
	}
	// A storage object belongs to one version: no more uploads to it.
	if resp, b := f.c.get(uploadPath(bucket, key, "")); resp.StatusCode != 403 || !strings.Contains(string(b), "reason") {
		t.Errorf("signeds3upload for an attached object: %d %s", resp.StatusCode, b)
	}
	if resp, b := f.c.send(http.MethodPost, projPath(f.pid, "/items"), itemBody(f.files, "other.rvt", id), vndJSON); resp.StatusCode != 400 {
		t.Errorf("reusing storage: %d %s", resp.StatusCode, b)
	}
	c := f.s.Counters()
	for op, want := range map[string]int64{OpCreateStorage: 1, OpSignedUpload: 2, OpCompleteUpload: 2, OpS3Put: 3, OpCreateItem: 2} {
		if c[op] != want {
			t.Errorf("counter %q = %d, want %d", op, c[op], want)
		}
	}
}

func TestUploadCompleteChecks(t *testing.T) {
	f := newWriteFixture(t, Options{})
	small := []byte("0123456789")
	for _, tc := range []struct {
		name       string
		put        map[int][]byte // part number → bytes
		body       func(key string, etags map[int]string) obj
		ctype      string
		wantStatus int
		wantReason string
		wantParts  []string // statuses in "parts", if any
	}{
		{name: "one small part is fine", put: map[int][]byte{1: small},
			body: func(k string, e map[int]string) obj { return obj{"uploadKey": k, "size": 10, "eTags": []string{e[1]}} }, wantStatus: 200},
		{name: "too small", put: map[int][]byte{1: small, 2: small},
			body: func(k string, _ map[int]string) obj { return obj{"uploadKey": k} }, wantStatus: 400,
			wantReason: "smaller than 5242880", wantParts: []string{"TooSmall", "Ok"}},
		{name: "missing part", put: map[int][]byte{2: small},
			body: func(k string, _ map[int]string) obj { return obj{"uploadKey": k} }, wantStatus: 400,
			wantReason: "part 1 is missing", wantParts: []string{"Pending", "Ok"}},
		{name: "nothing uploaded", put: nil,
			body: func(k string, _ map[int]string) obj { return obj{"uploadKey": k} }, wantStatus: 400,
			wantReason: "No parts", wantParts: []string{"Pending"}},
		{name: "eTag mismatch", put: map[int][]byte{1: small},
			body: func(k string, _ map[int]string) obj { return obj{"uploadKey": k, "eTags": []string{`"abc"`}} }, wantStatus: 400,
			wantReason: "does not match", wantParts: []string{"Unexpected"}},
		{name: "too small and eTag mismatch", put: map[int][]byte{1: small, 2: small},
			body: func(k string, e map[int]string) obj { return obj{"uploadKey": k, "eTags": []string{"x", e[2]}} }, wantStatus: 400,
			wantParts: []string{"Unexpected+TooSmall", "Ok"}},
		{name: "eTag count", put: map[int][]byte{1: small},
			body: func(k string, e map[int]string) obj { return obj{"uploadKey": k, "eTags": []string{e[1], e[1]}} }, wantStatus: 400,
			wantReason: "eTags lists 2 parts"},
		{name: "size mismatch", put: map[int][]byte{1: small},
			body: func(k string, _ map[int]string) obj { return obj{"uploadKey": k, "size": 11} }, wantStatus: 400,
			wantReason: "size 11 does not match"},
		{name: "unknown uploadKey", put: map[int][]byte{1: small},
			body: func(string, map[int]string) obj { return obj{"uploadKey": "nope"} }, wantStatus: 400, wantReason: "uploadKey"},
		{name: "no uploadKey", put: map[int][]byte{1: small},
			body: func(string, map[int]string) obj { return obj{"size": 1} }, wantStatus: 400, wantReason: "uploadKey"},
		{name: "wrong content type", put: map[int][]byte{1: small}, ctype: "text/plain",
			body: func(k string, _ map[int]string) obj { return obj{"uploadKey": k} }, wantStatus: 400, wantReason: "Content-Type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, bucket, key := createStorage(f.c, f.pid, f.files, "x.bin")
			var u uploadURLs
			f.c.getJSON(uploadPath(bucket, key, "parts=2"), 200, &u)
			etags := map[int]string{}
			for n, data := range tc.put {
				resp, b := f.c.putPart(u.URLs[n-1], data)
				if resp.StatusCode != 200 {
					t.Fatalf("PUT: %d %s", resp.StatusCode, b)
				}
				etags[n] = resp.Header.Get("ETag")
			}
			ct := "application/json"
			if tc.ctype != "" {
				ct = tc.ctype
			}
			resp, b := f.c.send(http.MethodPost, uploadPath(bucket, key, ""), tc.body(u.UploadKey, etags), ct)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, b)
			}
			if tc.wantStatus == 200 {
				return
			}
			var e struct {
				Reason string
				Status string
				Parts  []struct{ Status string }
			}
			if err := json.Unmarshal(b, &e); err != nil || !strings.Contains(e.Reason, tc.wantReason) {
				t.Fatalf("body %s (%v), want reason with %q", b, err, tc.wantReason)
			}
			var statuses []string
			for _, p := range e.Parts {
				statuses = append(statuses, p.Status)
			}
			if strings.Join(statuses, ",") != strings.Join(tc.wantParts, ",") || (len(tc.wantParts) > 0) != (e.Status == "error") {
				t.Errorf("parts %v status %q, want %v", statuses, e.Status, tc.wantParts)
			}
		})
	}
}

func TestSignedUploadRequests(t *testing.T) {
	f := newWriteFixture(t, Options{})
	_, bucket, key := createStorage(f.c, f.pid, f.files, "r.bin")
	for _, q := range []string{"parts=0", "parts=x", "firstPart=0", "parts=3&firstPart=9999", "minutesExpiration=61", "minutesExpiration=0", "useAcceleration=maybe", "uploadKey=unknown"} {
		if resp, b := f.c.get(uploadPath(bucket, key, q)); resp.StatusCode != 400 || !strings.Contains(string(b), `"reason"`) {
			t.Errorf("%s: %d %s", q, resp.StatusCode, b)
		}
	}
	if resp, _ := f.c.get(uploadPath(bucket, "not-reserved.bin", "")); resp.StatusCode != 403 {
		t.Errorf("unreserved key: %d", resp.StatusCode)
	}
	if resp, _ := f.c.get(uploadPath("other-bucket", key, "")); resp.StatusCode != 404 {
		t.Errorf("unknown bucket: %d", resp.StatusCode)
	}
	// Asking again with the uploadKey continues the same session.
	var a, b uploadURLs
	f.c.getJSON(uploadPath(bucket, key, "parts=2&useAcceleration=false"), 200, &a)
	f.c.getJSON(uploadPath(bucket, key, "parts=2&firstPart=2&uploadKey="+url.QueryEscape(a.UploadKey)), 200, &b)
	if b.UploadKey != a.UploadKey || len(b.URLs) != 2 {
		t.Fatalf("resumed = %+v", b)
	}
	pu, _ := url.Parse(b.URLs[1])
	if pu.Query().Get("partNumber") != "3" || pu.Query().Get("X-Amz-Expires") != "120" {
		t.Errorf("resumed URL query %v", pu.Query())
	}
	// Another object's uploadKey is refused.
	_, _, key2 := createStorage(f.c, f.pid, f.files, "s.bin")
	if resp, _ := f.c.get(uploadPath(bucket, key2, "uploadKey="+url.QueryEscape(a.UploadKey))); resp.StatusCode != 400 {
		t.Errorf("foreign uploadKey: %d", resp.StatusCode)
	}
	// A token without data:write may not upload.
	ro, _ := f.s.issueAccess(f.s.Options(), demoUserID, "data:read", true)
	rc := &client{t: t, s: f.s, token: ro, hc: http.DefaultClient}
	if resp, _ := rc.get(uploadPath(bucket, key, "")); resp.StatusCode != 403 {
		t.Errorf("read-only token: %d", resp.StatusCode)
	}
}

func TestS3PutChecks(t *testing.T) {
	f := newWriteFixture(t, Options{UploadURLLifetime: time.Second})
	_, bucket, key := createStorage(f.c, f.pid, f.files, "p.bin")
	var u uploadURLs
	f.c.getJSON(uploadPath(bucket, key, "parts=2"), 200, &u)
	data := []byte("part bytes")
	sum := md5ETag(data)
	rawMD5, _ := hex.DecodeString(strings.Trim(sum, `"`))

	check := func(name string, resp *http.Response, b []byte, status int, code string) {
		t.Helper()
		if resp.StatusCode != status || (code != "" && parseS3Err(t, b).Code != code) {
			t.Errorf("%s: %d %s, want %d %s", name, resp.StatusCode, b, status, code)
		}
	}
	resp, b := f.c.do(http.MethodPut, u.URLs[0], bytes.NewReader(data), http.Header{"Authorization": {"Bearer " + f.c.token}})
	check("with Authorization", resp, b, 400, "InvalidArgument")
	resp, b = f.c.do(http.MethodPut, strings.Replace(u.URLs[0], "partNumber=1", "partNumber=2", 1), bytes.NewReader(data), nil)
	check("tampered partNumber", resp, b, 403, "SignatureDoesNotMatch")
	resp, b = f.c.do(http.MethodGet, u.URLs[0], nil, nil)
	check("GET with a PUT URL", resp, b, 403, "SignatureDoesNotMatch")
	resp, b = f.c.do(http.MethodPut, u.URLs[0], bytes.NewReader(data), http.Header{"Content-MD5": {base64.StdEncoding.EncodeToString(make([]byte, 16))}})
	check("wrong Content-MD5", resp, b, 400, "BadDigest")
	resp, b = f.c.do(http.MethodPut, u.URLs[0], bytes.NewReader(data), http.Header{"Content-MD5": {"??"}})
	check("malformed Content-MD5", resp, b, 400, "InvalidDigest")
	resp, b = f.c.do(http.MethodPut, u.URLs[0], io.MultiReader(bytes.NewReader(data)), nil) // no length: chunked
	check("chunked body", resp, b, 411, "MissingContentLength")
	resp, b = f.c.do(http.MethodPut, u.URLs[0], bytes.NewReader(data), http.Header{"Content-MD5": {base64.StdEncoding.EncodeToString(rawMD5)}})
	check("good PUT", resp, b, 200, "")
	if resp.Header.Get("ETag") != sum {
		t.Errorf("ETag %q, want %q", resp.Header.Get("ETag"), sum)
	}
	// A URL must be started before it expires (UploadURLLifetime 1 s).
	f.s.Advance(2 * time.Second)
	resp, b = f.c.putPart(u.URLs[1], data)
	check("expired URL", resp, b, 403, "AccessDenied")
	if e := parseS3Err(t, b); e.Message != "Request has expired" {
		t.Errorf("expired message %q", e.Message)
	}
	// Fresh URLs for the same session work, and the part's last PUT wins.
	var again uploadURLs
	f.c.getJSON(uploadPath(bucket, key, "uploadKey="+url.QueryEscape(u.UploadKey)), 200, &again)
	resp, b = f.c.putPart(again.URLs[0], []byte("new part 1"))
	check("re-PUT part 1", resp, b, 200, "")
	f.c.complete(bucket, key, obj{"uploadKey": u.UploadKey, "size": 10}, 200)
	// After completion the session is gone.
	resp, b = f.c.putPart(again.URLs[0], data)
	check("PUT after complete", resp, b, 404, "NoSuchUpload")
	id := storagePrefix + bucket + "/" + key
	var it wireOne
	f.c.sendJSON(http.MethodPost, projPath(f.pid, "/items"), itemBody(f.files, "p.bin", id), 201, &it)
	if got, _ := f.s.ReadTip(f.pid, it.Data.ID); string(got) != "new part 1" {
		t.Errorf("content %q", got)
	}
	// An upload session expires after 24 hours.
	_, bucket2, key2 := createStorage(f.c, f.pid, f.files, "q.bin")
	var u2 uploadURLs
	f.c.getJSON(uploadPath(bucket2, key2, ""), 200, &u2)
	f.s.Advance(UploadLifetime + time.Minute)
	f.c.token = f.s.Token()
	f.c.complete(bucket2, key2, obj{"uploadKey": u2.UploadKey}, 400)
	if n, _ := f.s.UploadStats(); n != 0 {
		t.Errorf("%d sessions left after expiry", n)
	}
}

func TestUploadFaults(t *testing.T) {
	f := newWriteFixture(t, Options{FailComplete: 2})
	_, bucket, key := createStorage(f.c, f.pid, f.files, "f.bin")
	var u uploadURLs
	f.c.getJSON(uploadPath(bucket, key, ""), 200, &u)
	data := bytes.Repeat([]byte("z"), 64<<10)

	// RateReset drops the connection part-way through the body: the
	// client sees a transport error and nothing is stored.
	f.s.SetOptions(Options{RateReset: 1})
	req, _ := http.NewRequest(http.MethodPut, u.URLs[0], bytes.NewReader(data))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("PUT under RateReset answered %d", resp.StatusCode)
	}
	f.s.SetOptions(Options{Rate503: 1})
	resp, b := f.c.putPart(u.URLs[0], data)
	if resp.StatusCode != 503 || parseS3Err(t, b).Code != "ServiceUnavailable" {
		t.Errorf("PUT under Rate503: %d %s", resp.StatusCode, b)
	}
	f.s.SetOptions(Options{BytesPerSecond: 4 << 20, FailComplete: 2, FailCompleteStatus: 503})
	if resp, b := f.c.putPart(u.URLs[0], data); resp.StatusCode != 200 {
		t.Fatalf("paced PUT: %d %s", resp.StatusCode, b)
	}
	for i := range 2 {
		resp, b := f.c.send(http.MethodPost, uploadPath(bucket, key, ""), obj{"uploadKey": u.UploadKey}, "application/json")
		if resp.StatusCode != 503 || !strings.Contains(string(b), "reason") {
			t.Fatalf("complete %d: %d %s", i, resp.StatusCode, b)
		}
	}
	f.c.complete(bucket, key, obj{"uploadKey": u.UploadKey, "size": len(data)}, 200)
	// FailComplete defaults to 500.
	f.s.SetOptions(Options{FailComplete: 1})
	if resp, _ := f.c.send(http.MethodPost, uploadPath(bucket, key, ""), obj{"uploadKey": u.UploadKey}, "application/json"); resp.StatusCode != 500 {
		t.Errorf("FailComplete default status %d", resp.StatusCode)
	}
}

func TestUploadPartDirReleasesParts(t *testing.T) {
	dir := t.TempDir()
	s := newServer(t, Options{PartDir: dir, MinPartSize: 1})
	pid := s.AddProject(s.AddHub("H"), "P")
	files := s.TopFolder(pid, "Project Files")
	c := newClient(t, s)
	count := func() int {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	_, bucket, key := createStorage(c, pid, files, "d.bin")
	var u uploadURLs
	c.getJSON(uploadPath(bucket, key, "parts=2"), 200, &u)
	c.putPart(u.URLs[0], []byte("first"))
	c.putPart(u.URLs[1], []byte("second"))
	if n, bytes := s.UploadStats(); count() != 2 || n != 1 || bytes != 11 {
		t.Fatalf("after two parts: %d files, %d sessions, %d bytes", count(), n, bytes)
	}
	c.putPart(u.URLs[0], []byte("FIRST!")) // replaces part 1 and removes its file
	if _, bytes := s.UploadStats(); count() != 2 || bytes != 12 {
		t.Fatalf("after re-PUT: %d files, %d bytes", count(), bytes)
	}
	c.complete(bucket, key, obj{"uploadKey": u.UploadKey}, 200)
	// Uploading the still unused object again replaces and frees the old parts.
	var u2 uploadURLs
	c.getJSON(uploadPath(bucket, key, ""), 200, &u2)
	c.putPart(u2.URLs[0], []byte("v2"))
	c.complete(bucket, key, obj{"uploadKey": u2.UploadKey}, 200)
	if n, bytes := s.UploadStats(); count() != 1 || n != 0 || bytes != 2 {
		t.Fatalf("after overwrite: %d files, %d sessions, %d bytes", count(), n, bytes)
	}
	var it wireOne
	c.sendJSON(http.MethodPost, projPath(pid, "/items"), itemBody(files, "d.bin", storagePrefix+bucket+"/"+key), 201, &it)
	if got, err := s.ReadTip(pid, it.Data.ID); err != nil || string(got) != "v2" {
		t.Fatalf("ReadTip = %q, %v", got, err)
	}
	s.Close()
	if count() != 0 {
		t.Errorf("%d part files left after Close", count())
	}
}

func TestUploadMultipartDefaultPartSize(t *testing.T) {
	f := newWriteFixture(t, Options{})
	const size = 3*DefaultMinPartSize + 12345
	c := Synthetic(77, size)
	all := make([]byte, size)
	if _, err := c.ReadAt(all, 0); err != nil {
		t.Fatal(err)
	}
	var parts [][]byte
	for off := 0; off < size; off += DefaultMinPartSize {
		parts = append(parts, all[off:min(off+DefaultMinPartSize, size)])
	}
	sid := uploadParts(f.c, f.pid, f.files, "big.nwd", parts)
	var it wireOne
	f.c.sendJSON(http.MethodPost, projPath(f.pid, "/items"), itemBody(f.files, "big.nwd", sid), 201, &it)
	tc := f.s.TipContent(f.pid, it.Data.ID)
	if tc.Size() != size {
		t.Fatalf("size %d", tc.Size())
	}
	buf := make([]byte, 1<<20)
	for _, off := range []int64{0, DefaultMinPartSize - 100, 2*DefaultMinPartSize + 7, size - int64(len(buf))} {
		n, _ := tc.ReadAt(buf, off)
		checkSynthetic(t, buf[:n], 77, off)
	}
}

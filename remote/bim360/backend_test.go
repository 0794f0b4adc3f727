package bim360

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/httpx"
)

// fakeAPS is a minimal APS for tests of single behaviours: one item whose
// tip is stored in object bkt/obj, a signeds3download that points at an S3
// handler chosen by the test, and a token endpoint.
type fakeAPS struct {
	api, s3 *httptest.Server
	content []byte
	signs   atomic.Int32
	s3Calls atomic.Int32
	token   http.HandlerFunc // nil: the token endpoint answers 500
	hubs    string           // body of GET hubs
}

func newFakeAPS(t *testing.T, content []byte, s3 http.HandlerFunc) *fakeAPS {
	f := &fakeAPS{content: content}
	f.s3 = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.s3Calls.Add(1)
		if r.Header.Get("Authorization") != "" {
			t.Errorf("S3 request carries an Authorization header")
		}
		s3(w, r)
	}))
	t.Cleanup(f.s3.Close)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /data/v1/projects/{p}/items/{i}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("i") != "urn:item" {
			writeJSON(w, 404, `{"errors":[{"status":"404","code":"NOT_FOUND","title":"no such item"}]}`)
			return
		}
		writeJSON(w, 200, fmt.Sprintf(`{"data":{"type":"items","id":"urn:item","attributes":{"displayName":"x"},
		  "relationships":{"tip":{"data":{"type":"versions","id":"urn:v?version=1"}}}},
		 "included":[{"type":"versions","id":"urn:v?version=1","attributes":{"name":"f.bin","versionNumber":1,"storageSize":%d},
		  "relationships":{"storage":{"data":{"type":"objects","id":"urn:adsk.objects:os.object:bkt/obj"},
		    "meta":{"link":{"href":"https://elsewhere.example/oss/v2/buckets/wipbucket/objects/obj?scopes=x"}}}}}]}`, len(f.content)))
	})
	mux.HandleFunc("GET /oss/v2/buckets/bkt/objects/obj/signeds3download", func(w http.ResponseWriter, r *http.Request) {
		f.signs.Add(1)
		writeJSON(w, 200, fmt.Sprintf(`{"status":"complete","url":"%s/obj?X-Amz-Signature=s3cr3t","params":{},"size":%d}`, f.s3.URL, len(f.content)))
	})
	mux.HandleFunc("GET /project/v1/hubs", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer good" {
			writeJSON(w, 401, `{"developerMessage":"The token is invalid or has expired.","errorCode":"AUTH-006"}`)
			return
		}
		writeJSON(w, 200, f.hubs)
	})
	mux.HandleFunc("POST /authentication/v2/token", func(w http.ResponseWriter, r *http.Request) {
		if f.token == nil {
			writeJSON(w, 500, `{}`)
			return
		}
		f.token(w, r)
	})
	f.api = httptest.NewServer(mux)
	t.Cleanup(f.api.Close)
	f.hubs = `{"data":[]}`
	return f
}

// backend returns a three-legged backend whose stored token is tok.
func (f *fakeAPS) backend(t *testing.T, tok *oauth2.Token) *Backend {
	t.Helper()
	store := &httpx.TokenStore{Path: filepath.Join(t.TempDir(), "tok.json")}
	if err := store.Save(tok); err != nil {
		t.Fatal(err)
	}
	b, err := New(context.Background(), Config{Account: "acct", BaseURL: f.api.URL, ClientID: "cid", TokenStore: store, MaxAttempts: 3, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	fastRetries(b)
	return b
}

func goodToken() *oauth2.Token {
	return &oauth2.Token{AccessToken: "good", RefreshToken: "r1", Expiry: time.Now().Add(time.Hour)}
}

// serveRange answers a Range request correctly from content.
func serveRange(content []byte, w http.ResponseWriter, r *http.Request) {
	var lo, hi int64
	if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &lo, &hi); err != nil {
		w.WriteHeader(400)
		return
	}
	size := int64(len(content))
	if lo >= size {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
		w.WriteHeader(416)
		return
	}
	hi = min(hi, size-1)
	w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", lo, hi, size))
	w.Header().Set("Content-Length", strconv.FormatInt(hi-lo+1, 10))
	w.WriteHeader(206)
	w.Write(content[lo : hi+1])
}

func TestReadRangeResponses(t *testing.T) {
	content := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	id, _ := itemID("b.p", "urn:item")
	tests := []struct {
		name    string
		s3      func(w http.ResponseWriter, r *http.Request)
		off, n  int64
		want    string
		kind    remote.Kind
		signs   int32
		s3Calls int32
	}{
		{name: "206", s3: func(w http.ResponseWriter, r *http.Request) { serveRange(content, w, r) },
			off: 3, n: 5, want: "34567", signs: 1, s3Calls: 1},
		{name: "200 from 0", s3: func(w http.ResponseWriter, r *http.Request) { w.Write(content) },
			off: 0, n: 4, want: "0123", signs: 1, s3Calls: 1},
		{name: "200 at an offset", s3: func(w http.ResponseWriter, r *http.Request) { w.Write(content) },
			off: 4, n: 4, kind: remote.Unavailable, signs: 1, s3Calls: 1},
		{name: "wrong Content-Range", s3: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Range", "bytes 0-3/36")
			w.WriteHeader(206)
			w.Write(content[:4])
		}, off: 2, n: 2, kind: remote.Unavailable, signs: 1, s3Calls: 1},
		{name: "short 206 continues", s3: func(w http.ResponseWriter, r *http.Request) {
			var lo, hi int64
			fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &lo, &hi)
			r.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", lo, min(hi, lo+2))) // at most 3 bytes a response
			serveRange(content, w, r)
		}, off: 1, n: 8, want: "12345678", signs: 1, s3Calls: 3},
		{name: "expired then fresh", s3: func() func(http.ResponseWriter, *http.Request) {
			var n atomic.Int32
			return func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					w.WriteHeader(403)
					io.WriteString(w, `<Error><Code>AccessDenied</Code><Message>Request has expired</Message><StringToSign>s3cr3t</StringToSign></Error>`)
					return
				}
				serveRange(content, w, r)
			}
		}(), off: 0, n: 3, want: "012", signs: 2, s3Calls: 2},
		{name: "always 403", s3: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(403)
			io.WriteString(w, `<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
		}, off: 0, n: 3, kind: remote.Permission, signs: 2, s3Calls: 2},
		{name: "404", s3: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(404)
			io.WriteString(w, `<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`)
		}, off: 0, n: 3, kind: remote.NotFound, signs: 1, s3Calls: 1},
		{name: "416 is EOF", s3: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Range", "bytes */2")
			w.WriteHeader(416)
		}, off: 5, n: 3, want: "", signs: 1, s3Calls: 1},
		{name: "past the signed size", s3: func(w http.ResponseWriter, r *http.Request) { t.Error("S3 called for a read past EOF") },
			off: 36, n: 3, want: "", signs: 1, s3Calls: 0},
		{name: "truncated body", s3: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Range", "bytes 0-9/36")
			w.Header().Set("Content-Length", "10")
			w.WriteHeader(206)
			w.Write(content[:4])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // drop the connection mid-body
		}, off: 0, n: 10, want: "0123", kind: remote.Unavailable, signs: 1, s3Calls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPS(t, content, tt.s3)
			b := f.backend(t, goodToken())
			var got []byte
			r, err := b.ReadRange(context.Background(), id, remote.Version{}, tt.off, tt.n)
			if err == nil {
				got, err = io.ReadAll(r)
				r.Close()
			}
			switch {
			case tt.kind == remote.KindUnknown && err != nil:
				t.Fatalf("err %v", err)
			case tt.kind != remote.KindUnknown && !remote.IsKind(err, tt.kind):
				t.Fatalf("err %v (kind %v), want kind %v", err, remote.KindOf(err), tt.kind)
			}
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error leaks the signature: %v", err)
			}
			if f.signs.Load() != tt.signs || f.s3Calls.Load() != tt.s3Calls {
				t.Errorf("signs %d, S3 calls %d; want %d, %d", f.signs.Load(), f.s3Calls.Load(), tt.signs, tt.s3Calls)
			}
		})
	}
}

// TestReadRangeMissingItem: an item or version that never existed reads as
// NotFound, without a call to S3; a listed version is read through its
// storage object alone.
func TestReadRangeMissingItem(t *testing.T) {
	f := newFakeAPS(t, []byte("abc"), func(w http.ResponseWriter, r *http.Request) { t.Error("S3 called") })
	b := f.backend(t, goodToken())
	id, _ := itemID("b.p", "urn:other")
	for _, v := range []remote.Version{
		{},                      // tip: GET item answers 404
		{ID: "urn:v?version=9"}, // GET version answers 404
		{ID: "urn:v?version=1", Ref: "urn:adsk.objects:os.object:bkt/gone"}, // signeds3download answers 404
	} {
		if _, err := b.ReadRange(context.Background(), id, v, 0, 3); !remote.IsKind(err, remote.NotFound) {
			t.Errorf("ReadRange(%+v): err %v, want NotFound", v, err)
		}
	}
	for _, bad := range []remote.ID{"nonsense", rootID} {
		if _, err := b.ReadRange(context.Background(), bad, remote.Version{}, 0, 3); err == nil {
			t.Errorf("ReadRange(%q) succeeded", bad)
		}
	}
}

// TestConcurrentReadsSignOnce checks that concurrent first reads of one
// object share one signeds3download call.
func TestConcurrentReadsSignOnce(t *testing.T) {
	content := []byte(strings.Repeat("x", 1000))
	f := newFakeAPS(t, content, func(w http.ResponseWriter, r *http.Request) { serveRange(content, w, r) })
	b := f.backend(t, goodToken())
	id, _ := itemID("b.p", "urn:item")
	errs := make(chan error, 20)
	for i := range 20 {
		go func() {
			r, err := b.ReadRange(context.Background(), id, remote.Version{}, int64(i*10), 10)
			if err == nil {
				var got []byte
				got, err = io.ReadAll(r)
				r.Close()
				if err == nil && len(got) != 10 {
					err = fmt.Errorf("%d bytes", len(got))
				}
			}
			errs <- err
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if f.signs.Load() != 1 {
		t.Errorf("%d signs for one object", f.signs.Load())
	}
}

// TestTokenErrors checks how token endpoint failures during a refresh
// reach the caller.
func TestTokenErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		kind   remote.Kind
		has    string
	}{
		{"invalid_grant", 400, `{"error":"invalid_grant","error_description":"refresh token expired"}`, remote.Unauthenticated, "run `bimfs login acct`"},
		{"invalid_client", 401, `{"error":"invalid_client","error_description":"bad client"}`, remote.Unauthenticated, "client ID or secret"},
		{"unavailable", 503, `{}`, remote.Unavailable, "HTTP 503"},
		{"throttled", 429, `{"developerMessage":"Quota limit exceeded."}`, remote.Throttled, "Quota limit exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPS(t, nil, nil)
			var form atomic.Value
			f.token = func(w http.ResponseWriter, r *http.Request) {
				r.ParseForm()
				form.Store(r.PostForm.Encode())
				if tt.status == 429 {
					w.Header().Set("Retry-After", "600")
				}
				writeJSON(w, tt.status, tt.body)
			}
			b := f.backend(t, &oauth2.Token{AccessToken: "old", RefreshToken: "r1", Expiry: time.Now().Add(-time.Minute)})
			_, err := b.List(context.Background(), rootID)
			if !remote.IsKind(err, tt.kind) || !strings.Contains(err.Error(), tt.has) {
				t.Fatalf("err %v (kind %v), want kind %v containing %q", err, remote.KindOf(err), tt.kind, tt.has)
			}
			sent, _ := form.Load().(string)
			if !strings.Contains(sent, "grant_type=refresh_token") || !strings.Contains(sent, "refresh_token=r1") || !strings.Contains(sent, "client_id=cid") {
				t.Errorf("refresh form %q", sent)
			}
		})
	}
}

// TestRefreshOn401 checks that a token the server rejects is refreshed
// once, the rotated refresh token is stored, and the call succeeds.
func TestRefreshOn401(t *testing.T) {
	f := newFakeAPS(t, nil, nil)
	f.hubs = `{"data":[{"type":"hubs","id":"b.1","attributes":{"name":"Acme","extension":{"type":"hubs:autodesk.bim360:Account"}}},
	  {"type":"hubs","id":"a.2","attributes":{"name":"Personal","extension":{"type":"hubs:autodesk.a360:PersonalHub"}}}]}`
	var refreshes atomic.Int32
	f.token = func(w http.ResponseWriter, r *http.Request) {
		refreshes.Add(1)
		writeJSON(w, 200, `{"access_token":"good","token_type":"Bearer","expires_in":3599,"refresh_token":"r2"}`)
	}
	// Looks valid for an hour, but the server no longer accepts it.
	b := f.backend(t, &oauth2.Token{AccessToken: "revoked", RefreshToken: "r1", Expiry: time.Now().Add(time.Hour)})
	list, err := b.List(context.Background(), rootID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "Acme" || !list[0].ReadOnly {
		t.Errorf("hubs %+v (team and personal hubs must be left out)", list)
	}
	if refreshes.Load() != 1 {
		t.Errorf("%d refreshes", refreshes.Load())
	}
	tok, err := b.cfg.TokenStore.Load()
	if err != nil || tok.RefreshToken != "r2" || tok.AccessToken != "good" {
		t.Errorf("stored %+v, %v", tok, err)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []Config{
		{ClientID: "c"},
		{Account: "a"},
		{Account: "a", ClientID: "c", TwoLegged: true},
		{Account: "a", ClientID: "c"}, // three-legged without a token store
	} {
		if _, err := New(context.Background(), cfg); !remote.IsKind(err, remote.Invalid) {
			t.Errorf("New(%+v) = %v, want Invalid", cfg, err)
		}
	}
	err := Login(context.Background(), Config{Account: "a", ClientID: "c", RedirectURI: "http://example.com:80/cb",
		TokenStore: &httpx.TokenStore{Path: filepath.Join(t.TempDir(), "x")}}, nil)
	if !remote.IsKind(err, remote.Invalid) || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("Login with a non-loopback redirect: %v", err)
	}
}

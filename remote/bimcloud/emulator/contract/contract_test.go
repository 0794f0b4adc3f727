package contract

import (
	"context"
	"net/http"
	"testing"
)

func TestSpecLoads(t *testing.T) {
	doc, err := Spec()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(doc.Paths.Map()); n != 27 {
		t.Fatalf("%d paths, want the 27 of 2023.2", n)
	}
}

// failRecorder records Errorf calls instead of failing.
type failRecorder struct {
	testing.TB
	n int
}

func (f *failRecorder) Errorf(string, ...any) { f.n++ }
func (f *failRecorder) Helper()               {}

func TestDeviationsAreRewritten(t *testing.T) {
	rec := &failRecorder{TB: t}
	c := New(rec, "http://127.0.0.1:1")
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	ok := []*Exchange{
		{Method: "POST", Path: "/management/client/get-blob-changes-for-sync", ReqHeader: hdr("Content-Type", "application/json"),
			ReqBody: []byte(`{"path":"Project Root","fromRevision":0}`), Status: 200, RespHeader: hdr("Content-Type", "application/json"),
			RespBody: []byte(`{"endRevision":1,"created":[],"updated":[],"deleted":[]}`)},
		{Method: "POST", Path: "/management/client/oauth2/token", ReqHeader: hdr("Content-Type", "application/x-www-form-urlencoded"),
			ReqBody: []byte(`grant_type=password&client_id=c&username=u&password=p`), Status: 200, RespHeader: hdr("Content-Type", "application/json"),
			RespBody: []byte(`{"access_token":"a","access_token_exp":1,"refresh_token":"r","token_type":"Bearer","user_id":"u"}`)},
		{Method: "POST", Path: "/management/client/ticket-generator/get-ticket", ReqHeader: hdr("Content-Type", "application/json"),
			ReqBody: []byte(`{"type":"freeTicket","resources":["x"],"format":"base64"}`), Status: 200,
			RespHeader: hdr("Content-Type", "application/json"), RespBody: []byte(`QUJD`)},
		{Method: "GET", Path: "/management/client/oauth2/get-authorization-code-by-state", Query: map[string][]string{"state": {"0123456789abcdef"}},
			ReqHeader: hdr(), Status: 200, RespHeader: hdr("Content-Type", "application/json"), RespBody: []byte(`{"status":"pending","code":null}`)},
		{Method: "GET", Path: "/application-server-service/get-runtime-id", ReqHeader: hdr(), Status: 200,
			RespHeader: hdr("Content-Type", "application/json"), RespBody: []byte(`{}`)},
	}
	for i, x := range ok {
		c.Check(context.Background(), x, false)
		if rec.n != 0 {
			t.Fatalf("exchange %d (%s %s) rejected", i, x.Method, x.Path)
		}
	}
	// The same JSON-null code on a non-deviating field is still caught.
	c.Check(context.Background(), &Exchange{Method: "GET", Path: "/management/client/get-resource", ReqHeader: hdr(), Status: 200,
		RespHeader: hdr("Content-Type", "application/json"), RespBody: []byte(`{"id":null}`)}, false)
	if rec.n != 1 {
		t.Fatalf("null id accepted (%d errors)", rec.n)
	}
}

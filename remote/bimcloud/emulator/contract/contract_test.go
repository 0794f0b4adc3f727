package contract

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
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
		{Method: "POST", Path: "/management/client/update-blob-parent", Query: url.Values{"blob-id": {"4d7c7bb1-7aef-4cd2-9146-0286561d6f85"}},
			ReqHeader: hdr("Content-Type", "application/json"), ReqBody: []byte(`{"parentPath":"Project Root/x"}`), Status: 200,
			RespHeader: hdr("Content-Type", "application/json"), RespBody: []byte(`true`)},
		{Method: "POST", Path: "/management/client/delete-resources-by-id-list", ReqHeader: hdr("Content-Type", "application/json"),
			ReqBody: []byte(`{"ids":["a"]}`), Status: 200, RespHeader: hdr("Content-Type", "application/json"),
			RespBody: []byte(`{"id":"j","authorId":null,"isService":false,"startedOn":1,"progressedOn":1,"status":"starting","jobType":"destroyResources",` +
				`"progress":{"min":0,"max":1,"current":0,"phase":""},"result":null,"resultCode":null,"abortable":true}`)},
		putPart("application/octet-stream", []byte("raw chunk")),
		putPart("multipart/form-data; boundary=xyz", []byte("--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nchunk\r\n--xyz--\r\n")),
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
	// A put-blob-content-part exchange still has its query and response checked.
	bad := putPart("application/octet-stream", []byte("x"))
	bad.Query.Set("offset", "first")
	c.Check(context.Background(), bad, false)
	if rec.n != 2 {
		t.Fatalf("non-integer offset accepted (%d errors)", rec.n)
	}
	bad = putPart("application/octet-stream", []byte("x"))
	bad.RespBody = []byte(`{"data-content-type":"x","data":{"uploaded-parts":[{"offset":"0"}]}}`)
	c.Check(context.Background(), bad, false)
	if rec.n != 3 {
		t.Fatalf("string offset in uploaded-parts accepted (%d errors)", rec.n)
	}
}

// putPart is a put-blob-content-part exchange with the given body.
func putPart(contentType string, body []byte) *Exchange {
	return &Exchange{Method: "POST", Path: "/blob-store-service/1.0/put-blob-content-part",
		Query:     url.Values{"session-id": {"s"}, "upload-session-id": {"u"}, "offset": {"0"}, "length": {strconv.Itoa(len(body))}},
		ReqHeader: http.Header{"Content-Type": {contentType}}, ReqBody: body, Status: 200,
		RespHeader: http.Header{"Content-Type": {"application/vnd.graphisoft.teamwork.blob-store-service-1.0.upload-session-1.0+json"}},
		RespBody: []byte(`{"data-content-type":"application/vnd.graphisoft.teamwork.blob-store-service-1.0.upload-session-1.0+json",` +
			`"data":{"id":"u","target-namespace-name":"n","target-blob-name":"/a","target-blob-id":"","last-access-time":1,` +
			`"expiration-time":2,"creation-time":1,"uploaded-parts":[{"offset":0,"length":1}]}}`)}
}

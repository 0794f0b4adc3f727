package bim360

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/bimfs/bimfs/remote"
)

// TestWriteServices calls each write method once and checks the request
// (method, URI, content type, body as JSON) and what the answer decodes
// to. The bodies are the spec's payload schemas as the APS tutorials fill
// them.
func TestWriteServices(t *testing.T) {
	ctx := context.Background()
	hidden := true
	tests := []struct {
		name        string
		call        func(c *Client) (any, error)
		method, uri string
		ctype       string
		body        string // expected request body (JSON)
		status      int
		answer      string
		kind        remote.Kind // expected error kind, if any
		msg         string      // expected in the error's text
		check       func(t *testing.T, got any)
	}{
		{
			name: "Folders.Create",
			call: func(c *Client) (any, error) {
				return c.Folders.Create(ctx, &CreateFolderRequest{ProjectID: "b.p", ParentID: "urn:f:parent", Name: "New"})
			},
			method: "POST", uri: "/data/v1/projects/b.p/folders", ctype: jsonAPIType,
			body: `{"jsonapi":{"version":"1.0"},"data":{"type":"folders","attributes":{"name":"New","extension":{"type":"folders:autodesk.bim360:Folder","version":"1.0"}},
			  "relationships":{"parent":{"data":{"type":"folders","id":"urn:f:parent"}}}}}`,
			status: 201, answer: `{"data":{"type":"folders","id":"urn:f:new","attributes":{"name":"New"}}}`,
			check: func(t *testing.T, got any) {
				if f := got.(*Folder); f.ID != "urn:f:new" || f.Attributes.Name != "New" {
					t.Errorf("%+v", f)
				}
			},
		},
		{
			name: "Folders.Create 409",
			call: func(c *Client) (any, error) {
				return c.Folders.Create(ctx, &CreateFolderRequest{ProjectID: "b.p", ParentID: "urn:f:parent", Name: "New"})
			},
			method: "POST", uri: "/data/v1/projects/b.p/folders", ctype: jsonAPIType,
			status: 409, answer: `{"jsonapi":{"version":"1.0"},"errors":[{"status":"409","code":"CONFLICT","detail":"exists"}]}`, kind: remote.Conflict,
		},
		{
			name: "Folders.Patch rename and move",
			call: func(c *Client) (any, error) {
				return c.Folders.Patch(ctx, &PatchFolderRequest{ProjectID: "b.p", FolderID: "urn:f:a", Name: "B", ParentID: "urn:f:dst"})
			},
			method: "PATCH", uri: "/data/v1/projects/b.p/folders/urn%3Af%3Aa", ctype: jsonAPIType,
			body: `{"jsonapi":{"version":"1.0"},"data":{"type":"folders","id":"urn:f:a","attributes":{"name":"B"},
			  "relationships":{"parent":{"data":{"type":"folders","id":"urn:f:dst"}}}}}`,
			status: 200, answer: `{"data":{"type":"folders","id":"urn:f:a","attributes":{"name":"B"}}}`,
		},
		{
			name: "Folders.Patch hide",
			call: func(c *Client) (any, error) {
				return c.Folders.Patch(ctx, &PatchFolderRequest{ProjectID: "b.p", FolderID: "urn:f:a", Hidden: &hidden})
			},
			method: "PATCH", uri: "/data/v1/projects/b.p/folders/urn%3Af%3Aa", ctype: jsonAPIType,
			body:   `{"jsonapi":{"version":"1.0"},"data":{"type":"folders","id":"urn:f:a","attributes":{"hidden":true}}}`,
			status: 200, answer: `{"data":{"type":"folders","id":"urn:f:a","attributes":{"name":"A","hidden":true}}}`,
		},
		{
			name: "Commands.CreateFolders",
			call: func(c *Client) (any, error) {
				return c.Commands.CreateFolders(ctx, "b.p", []NewFolder{{ParentID: "urn:f:p1", Name: "One"}, {ParentID: "urn:f:p2", Name: "Two"}})
			},
			method: "POST", uri: "/data/v1/projects/b.p/commands", ctype: jsonAPIType,
			body: `{"jsonapi":{"version":"1.0"},"data":{"type":"commands","attributes":{"extension":{"type":"commands:autodesk.core:CreateFolder","version":"1.0.0"}},
			  "relationships":{"resources":{"data":[{"type":"folders","id":"1"},{"type":"folders","id":"2"}]}}},
			 "included":[
			  {"type":"folders","id":"1","attributes":{"name":"One","extension":{"type":"folders:autodesk.bim360:Folder","version":"1.0"}},"relationships":{"parent":{"data":{"type":"folders","id":"urn:f:p1"}}}},
			  {"type":"folders","id":"2","attributes":{"name":"Two","extension":{"type":"folders:autodesk.bim360:Folder","version":"1.0"}},"relationships":{"parent":{"data":{"type":"folders","id":"urn:f:p2"}}}}]}`,
			status: 200,
			// included in a different order than asked: matched by parent and name.
			answer: `{"data":{"type":"commands","id":"c1","attributes":{"status":"committed"},"relationships":{"created":{"data":[{"type":"folders","id":"urn:f:one"},{"type":"folders","id":"urn:f:two"}]}}},
			  "included":[{"type":"folders","id":"urn:f:two","attributes":{"name":"Two"},"relationships":{"parent":{"data":{"type":"folders","id":"urn:f:p2"}}}},
			              {"type":"folders","id":"urn:f:one","attributes":{"name":"One"},"relationships":{"parent":{"data":{"type":"folders","id":"urn:f:p1"}}}}]}`,
			check: func(t *testing.T, got any) {
				fs := got.([]Folder)
				if len(fs) != 2 || fs[0].ID != "urn:f:one" || fs[1].ID != "urn:f:two" {
					t.Errorf("%+v", fs)
				}
			},
		},
		{
			name: "Commands.CreateFolders without included",
			call: func(c *Client) (any, error) {
				return c.Commands.CreateFolders(ctx, "b.p", []NewFolder{{ParentID: "urn:f:p1", Name: "One"}})
			},
			method: "POST", uri: "/data/v1/projects/b.p/commands", ctype: jsonAPIType,
			status: 200, answer: `{"data":{"type":"commands","id":"c1","attributes":{"status":"complete"},"relationships":{"created":{"data":[{"type":"folders","id":"urn:f:one"}]}}}}`,
			check: func(t *testing.T, got any) {
				if fs := got.([]Folder); len(fs) != 1 || fs[0].ID != "urn:f:one" || fs[0].Attributes.Name != "One" {
					t.Errorf("%+v", fs)
				}
			},
		},
		{
			name: "Commands.CreateFolders failed status",
			call: func(c *Client) (any, error) {
				return c.Commands.CreateFolders(ctx, "b.p", []NewFolder{{ParentID: "urn:f:p1", Name: "One"}})
			},
			method: "POST", uri: "/data/v1/projects/b.p/commands", ctype: jsonAPIType,
			status: 200, answer: `{"data":{"type":"commands","id":"c1","attributes":{"status":"failed"}}}`, kind: remote.Unavailable,
		},
		{
			name: "Projects.CreateStorage",
			call: func(c *Client) (any, error) {
				return c.Projects.CreateStorage(ctx, &StorageRequest{ProjectID: "b.p", FolderID: "urn:f:a", Name: "x.rvt"})
			},
			method: "POST", uri: "/data/v1/projects/b.p/storage", ctype: jsonAPIType,
			body: `{"jsonapi":{"version":"1.0"},"data":{"type":"objects","attributes":{"name":"x.rvt"},
			  "relationships":{"target":{"data":{"type":"folders","id":"urn:f:a"}}}}}`,
			status: 201, answer: `{"data":{"type":"objects","id":"urn:adsk.objects:os.object:wip.dm.prod/k.rvt"}}`,
			check: func(t *testing.T, got any) {
				if s := got.(*Storage); s.Bucket() != "wip.dm.prod" || s.Object() != "k.rvt" {
					t.Errorf("%+v", s)
				}
			},
		},
		{
			name: "Projects.CreateStorage without URN",
			call: func(c *Client) (any, error) {
				return c.Projects.CreateStorage(ctx, &StorageRequest{ProjectID: "b.p", FolderID: "urn:f:a", Name: "x.rvt"})
			},
			method: "POST", uri: "/data/v1/projects/b.p/storage", ctype: jsonAPIType,
			status: 201, answer: `{"data":{"type":"objects","id":"nonsense"}}`, kind: remote.Unavailable,
		},
		{
			name: "OSS.SignedUpload",
			call: func(c *Client) (any, error) {
				return c.OSS.SignedUpload(ctx, &SignedUploadRequest{Bucket: "wip.dm.prod", Object: "k.rvt", Parts: 2, FirstPart: 26, UploadKey: "UK", MinutesExpiration: 5})
			},
			method: "GET", uri: "/oss/v2/buckets/wip.dm.prod/objects/k.rvt/signeds3upload?firstPart=26&minutesExpiration=5&parts=2&uploadKey=UK",
			status: 200, answer: `{"uploadKey":"UK","urls":["https://s3/a","https://s3/b"],"urlExpiration":"2026-01-01T00:05:00Z"}`,
			check: func(t *testing.T, got any) {
				if u := got.(*SignedUpload); len(u.URLs) != 2 || u.Expires().Minute() != 5 {
					t.Errorf("%+v", u)
				}
			},
		},
		{
			name: "OSS.SignedUpload short answer",
			call: func(c *Client) (any, error) {
				return c.OSS.SignedUpload(ctx, &SignedUploadRequest{Bucket: "b", Object: "o", Parts: 3, FirstPart: 1})
			},
			method: "GET", uri: "/oss/v2/buckets/b/objects/o/signeds3upload?firstPart=1&minutesExpiration=10&parts=3",
			status: 200, answer: `{"uploadKey":"UK","urls":["https://s3/a"]}`, kind: remote.Unavailable,
		},
		{
			name: "OSS.CompleteUpload",
			call: func(c *Client) (any, error) {
				return c.OSS.CompleteUpload(ctx, &CompleteUploadRequest{Bucket: "b", Object: "o", UploadKey: "UK", Size: 0, ETags: []string{"e1"}})
			},
			method: "POST", uri: "/oss/v2/buckets/b/objects/o/signeds3upload", ctype: "application/json",
			body:   `{"uploadKey":"UK","size":0,"eTags":["e1"]}`,
			status: 200, answer: `{"bucketKey":"b","objectKey":"o","objectId":"urn:adsk.objects:os.object:b/o","size":0}`,
		},
		{
			name: "OSS.CompleteUpload size mismatch",
			call: func(c *Client) (any, error) {
				return c.OSS.CompleteUpload(ctx, &CompleteUploadRequest{Bucket: "b", Object: "o", UploadKey: "UK", Size: 10})
			},
			method: "POST", uri: "/oss/v2/buckets/b/objects/o/signeds3upload", ctype: "application/json",
			body:   `{"uploadKey":"UK","size":10}`,
			status: 200, answer: `{"size":9}`, kind: remote.Unavailable,
		},
		{
			name: "Items.Create",
			call: func(c *Client) (any, error) {
				return c.Items.Create(ctx, &CreateItemRequest{ProjectID: "b.p", FolderID: "urn:f:a", Name: "x.rvt", StorageURN: "urn:adsk.objects:os.object:b/o"})
			},
			method: "POST", uri: "/data/v1/projects/b.p/items", ctype: jsonAPIType,
			body: `{"jsonapi":{"version":"1.0"},"data":{"type":"items","attributes":{"displayName":"x.rvt","extension":{"type":"items:autodesk.bim360:File","version":"1.0"}},
			  "relationships":{"tip":{"data":{"type":"versions","id":"1"}},"parent":{"data":{"type":"folders","id":"urn:f:a"}}}},
			 "included":[{"type":"versions","id":"1","attributes":{"name":"x.rvt","extension":{"type":"versions:autodesk.bim360:File","version":"1.0"}},
			  "relationships":{"storage":{"data":{"type":"objects","id":"urn:adsk.objects:os.object:b/o"}}}}]}`,
			status: 201,
			answer: `{"data":{"type":"items","id":"urn:L","relationships":{"tip":{"data":{"type":"versions","id":"urn:v?version=1"}}}},
			  "included":[{"type":"versions","id":"urn:v?version=1","attributes":{"name":"x.rvt","versionNumber":1}}],"meta":{"bim360DmCommandId":"x"}}`,
			check: func(t *testing.T, got any) {
				if tip, ok := got.(*ItemResponse).Tip(); !ok || tip.Attributes.VersionNumber != 1 {
					t.Errorf("%+v", got)
				}
			},
		},
		{
			name: "Items.Create copyFrom",
			call: func(c *Client) (any, error) {
				return c.Items.Create(ctx, &CreateItemRequest{ProjectID: "b.p", FolderID: "urn:f:b", Name: "y.rvt", CopyFrom: "urn:v?version=3"})
			},
			method: "POST", uri: "/data/v1/projects/b.p/items?copyFrom=urn%3Av%3Fversion%3D3", ctype: jsonAPIType,
			body: `{"jsonapi":{"version":"1.0"},"data":{"type":"items","attributes":{"displayName":"y.rvt","extension":{"type":"items:autodesk.bim360:File","version":"1.0"}},
			  "relationships":{"tip":{"data":{"type":"versions","id":"1"}},"parent":{"data":{"type":"folders","id":"urn:f:b"}}}},
			 "included":[{"type":"versions","id":"1","attributes":{"name":"y.rvt","extension":{"type":"versions:autodesk.bim360:File","version":"1.0"}},"relationships":{}}]}`,
			status: 201, answer: `{"data":{"type":"items","id":"urn:L2"}}`,
		},
		{
			name: "Versions.Create",
			call: func(c *Client) (any, error) {
				return c.Versions.Create(ctx, &CreateVersionRequest{ProjectID: "b.p", ItemID: "urn:L", Name: "x.rvt", StorageURN: "urn:adsk.objects:os.object:b/o2"})
			},
			method: "POST", uri: "/data/v1/projects/b.p/versions", ctype: jsonAPIType,
			body: `{"jsonapi":{"version":"1.0"},"data":{"type":"versions","attributes":{"name":"x.rvt","extension":{"type":"versions:autodesk.bim360:File","version":"1.0"}},
			  "relationships":{"item":{"data":{"type":"items","id":"urn:L"}},"storage":{"data":{"type":"objects","id":"urn:adsk.objects:os.object:b/o2"}}}}}`,
			status: 201, answer: `{"data":{"type":"versions","id":"urn:v?version=2","attributes":{"name":"x.rvt","versionNumber":2}},"included":[{"type":"items","id":"urn:L"}]}`,
			check: func(t *testing.T, got any) {
				if v := got.(*CreatedVersion); v.Data.Attributes.VersionNumber != 2 || len(v.Included) != 1 {
					t.Errorf("%+v", v)
				}
			},
		},
		{
			name: "Versions.Create copyFrom rename",
			call: func(c *Client) (any, error) {
				return c.Versions.Create(ctx, &CreateVersionRequest{ProjectID: "b.p", ItemID: "urn:L", Name: "new.rvt", CopyFrom: "urn:v?version=2"})
			},
			method: "POST", uri: "/data/v1/projects/b.p/versions?copyFrom=urn%3Av%3Fversion%3D2", ctype: jsonAPIType,
			body: `{"jsonapi":{"version":"1.0"},"data":{"type":"versions","attributes":{"name":"new.rvt","extension":{"type":"versions:autodesk.bim360:File","version":"1.0"}},
			  "relationships":{"item":{"data":{"type":"items","id":"urn:L"}}}}}`,
			status: 201, answer: `{"data":{"type":"versions","id":"urn:v?version=3"}}`,
		},
		{
			name: "Versions.Create locked",
			call: func(c *Client) (any, error) {
				return c.Versions.Create(ctx, &CreateVersionRequest{ProjectID: "b.p", ItemID: "urn:L", Name: "x", StorageURN: "urn:adsk.objects:os.object:b/o"})
			},
			method: "POST", uri: "/data/v1/projects/b.p/versions", ctype: jsonAPIType,
			status: 423, answer: `{"errors":[{"status":"423","title":"Locked"}]}`, kind: remote.Conflict,
		},
		{
			name:   "Versions.Delete",
			call:   func(c *Client) (any, error) { return c.Versions.Delete(ctx, "b.p", "urn:L", "a.rvt") },
			method: "POST", uri: "/data/v1/projects/b.p/versions", ctype: jsonAPIType,
			body: `{"jsonapi":{"version":"1.0"},"data":{"type":"versions","attributes":{"name":"a.rvt","extension":{"type":"versions:autodesk.core:Deleted","version":"1.0"}},
			  "relationships":{"item":{"data":{"type":"items","id":"urn:L"}}}}}`,
			status: 201, answer: `{"data":{"type":"versions","id":"urn:v?version=4","attributes":{"extension":{"type":"versions:autodesk.core:Deleted"}}}}`,
			check: func(t *testing.T, got any) {
				if v := got.(*CreatedVersion); !v.Data.Deleted() {
					t.Errorf("%+v", v)
				}
			},
		},
		{
			name: "403 keeps the service's message",
			call: func(c *Client) (any, error) {
				return c.Folders.Create(ctx, &CreateFolderRequest{ProjectID: "b.p", ParentID: "urn:f:ro", Name: "x"})
			},
			method: "POST", uri: "/data/v1/projects/b.p/folders", ctype: jsonAPIType,
			status: 403, answer: `{"jsonapi":{},"data":[],"meta":{"warnings":[{"HttpStatusCode":"403","ErrorCode":"BIM360DM_ERROR","Title":"Forbidden","Detail":"You don't have permission"}]}}`,
			kind: remote.Permission, msg: "You don't have permission",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n int
			c, _ := testClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n++
				if r.Method != tt.method || !sameURI(r.RequestURI, tt.uri) {
					t.Errorf("request %s %s, want %s %s", r.Method, r.RequestURI, tt.method, tt.uri)
				}
				if ct := r.Header.Get("Content-Type"); ct != tt.ctype {
					t.Errorf("Content-Type %q, want %q", ct, tt.ctype)
				}
				got, _ := io.ReadAll(r.Body)
				if tt.body != "" && !sameJSON(got, []byte(tt.body)) {
					t.Errorf("body\n%s\nwant\n%s", got, tt.body)
				}
				writeJSON(w, tt.status, tt.answer)
			}))
			v, err := tt.call(c)
			if n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
			if tt.kind != remote.KindUnknown {
				if !remote.IsKind(err, tt.kind) {
					t.Fatalf("err %v (kind %v), want %v", err, remote.KindOf(err), tt.kind)
				}
				if !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("error %q does not say %q", err, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, v)
			}
		})
	}
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

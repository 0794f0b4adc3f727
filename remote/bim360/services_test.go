package bim360

import (
	"context"
	"net/http"
	"net/url"
	"testing"
)

// TestServices calls each service method once and checks the request it
// sends and what it decodes. Pagination responses send a next link on the
// first page only.
func TestServices(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		call func(c *Client) (any, error)
		// uris are the request URIs expected, in order.
		uris  []string
		pages []string
		check func(t *testing.T, got any)
	}{
		{
			name:  "Hubs.Get",
			call:  func(c *Client) (any, error) { return c.Hubs.Get(ctx, "b.acct") },
			uris:  []string{"/project/v1/hubs/b.acct"},
			pages: []string{`{"data":{"type":"hubs","id":"b.acct","attributes":{"name":"Acme","region":"US","extension":{"type":"hubs:autodesk.bim360:Account"}}}}`},
			check: func(t *testing.T, got any) {
				h := got.(*Hub)
				if h.Attributes.Name != "Acme" || h.Attributes.Region != "US" || h.Attributes.Extension.Type != HubExtensionBIM360 {
					t.Errorf("%+v", h)
				}
			},
		},
		{
			name: "Projects.List",
			call: func(c *Client) (any, error) { return c.Projects.List(ctx, "b.acct") },
			uris: []string{"/project/v1/hubs/b.acct/projects?page%5Blimit%5D=200", "/project/v1/hubs/b.acct/projects?page%5Bnumber%5D=1"},
			pages: []string{
				`{"data":[{"type":"projects","id":"b.p1","attributes":{"name":"One"},"relationships":{"rootFolder":{"data":{"type":"folders","id":"urn:root"}}}}],
				  "links":{"next":{"href":"/project/v1/hubs/b.acct/projects?page%5Bnumber%5D=1"}}}`,
				`{"data":[{"type":"projects","id":"b.p2","attributes":{"name":"Two"}}]}`,
			},
			check: func(t *testing.T, got any) {
				pl := got.(*ProjectList)
				if len(pl.Data) != 2 || pl.Pages != 2 || pl.Data[0].Relationships.RootFolder.Data.ID != "urn:root" || pl.Data[1].Attributes.Name != "Two" {
					t.Errorf("%+v", pl)
				}
			},
		},
		{
			name:  "Projects.Get",
			call:  func(c *Client) (any, error) { return c.Projects.Get(ctx, "b.acct", "b.p1") },
			uris:  []string{"/project/v1/hubs/b.acct/projects/b.p1"},
			pages: []string{`{"data":{"type":"projects","id":"b.p1","attributes":{"name":"One"}}}`},
			check: func(t *testing.T, got any) {
				if p := got.(*Project); p.Attributes.Name != "One" {
					t.Errorf("%+v", p)
				}
			},
		},
		{
			name: "Projects.TopFolders",
			call: func(c *Client) (any, error) {
				return c.Projects.TopFolders(ctx, &TopFoldersRequest{HubID: "b.acct", ProjectID: "b.p1", ExcludeDeleted: true})
			},
			uris:  []string{"/project/v1/hubs/b.acct/projects/b.p1/topFolders?excludeDeleted=true"},
			pages: []string{`{"data":[{"type":"folders","id":"urn:adsk.wipprod:fs.folder:co.A","attributes":{"name":"Project Files","displayName":"reserved","objectCount":3}}]}`},
			check: func(t *testing.T, got any) {
				tl := got.(*TopFolderList)
				if len(tl.Data) != 1 || tl.Data[0].Attributes.Name != "Project Files" || tl.Data[0].Attributes.ObjectCount != 3 {
					t.Errorf("%+v", tl)
				}
			},
		},
		{
			name:  "Folders.Get",
			call:  func(c *Client) (any, error) { return c.Folders.Get(ctx, "b.p1", "urn:adsk.wipprod:fs.folder:co.A") },
			uris:  []string{"/data/v1/projects/b.p1/folders/urn%3Aadsk.wipprod%3Afs.folder%3Aco.A"},
			pages: []string{`{"data":{"type":"folders","id":"urn:adsk.wipprod:fs.folder:co.A","attributes":{"name":"Sub","hidden":true,"lastModifiedTime":"2015-11-27T11:11:23.000Z"}}}`},
			check: func(t *testing.T, got any) {
				f := got.(*Folder)
				if f.Attributes.Name != "Sub" || !f.Attributes.Hidden || f.Attributes.LastModifiedTime.Year() != 2015 {
					t.Errorf("%+v", f)
				}
			},
		},
		{
			name: "Folders.Contents filters",
			call: func(c *Client) (any, error) {
				return c.Folders.Contents(ctx, &ContentsRequest{ProjectID: "b.p1", FolderID: "urn:f", FilterType: "items", IncludeHidden: true, Limit: 50})
			},
			uris:  []string{"/data/v1/projects/b.p1/folders/urn%3Af/contents?filter%5Btype%5D=items&includeHidden=true&page%5Blimit%5D=50"},
			pages: []string{`{"data":[]}`},
			check: func(t *testing.T, got any) {
				if fc := got.(*FolderContents); fc.Pages != 1 || len(fc.Items) != 0 {
					t.Errorf("%+v", fc)
				}
			},
		},
		{
			name: "Items.Get",
			call: func(c *Client) (any, error) { return c.Items.Get(ctx, "b.p1", "urn:adsk.wipprod:dm.lineage:L") },
			uris: []string{"/data/v1/projects/b.p1/items/urn%3Aadsk.wipprod%3Adm.lineage%3AL"},
			pages: []string{`{"data":{"type":"items","id":"urn:adsk.wipprod:dm.lineage:L","attributes":{"displayName":"my_model","hidden":false,"reserved":true},
			  "relationships":{"tip":{"data":{"type":"versions","id":"urn:v?version=2"}}}},
			  "included":[{"type":"versions","id":"urn:v?version=1","attributes":{"name":"other"}},
			              {"type":"versions","id":"urn:v?version=2","attributes":{"name":"my_model.rvt","displayName":"my_model","versionNumber":2}}]}`},
			check: func(t *testing.T, got any) {
				r := got.(*ItemResponse)
				tip, ok := r.Tip()
				if !ok || tip.Attributes.Name != "my_model.rvt" || !r.Data.Attributes.Reserved {
					t.Errorf("%+v tip %+v", r, tip)
				}
			},
		},
		{
			name: "Items.Versions",
			call: func(c *Client) (any, error) {
				return c.Items.Versions(ctx, &VersionsRequest{ProjectID: "b.p1", ItemID: "urn:L", VersionNumber: 2})
			},
			uris: []string{"/data/v1/projects/b.p1/items/urn%3AL/versions?filter%5BversionNumber%5D=2&page%5Blimit%5D=200",
				"/data/v1/projects/b.p1/items/urn%3AL/versions?page%5Bnumber%5D=1"},
			pages: []string{
				`{"data":[{"type":"versions","id":"urn:v?version=2","attributes":{"name":"a","versionNumber":2,"extension":{"type":"versions:autodesk.core:Deleted"}}}],
				  "links":{"next":{"href":"/data/v1/projects/b.p1/items/urn%3AL/versions?page%5Bnumber%5D=1"}}}`,
				`{"data":[]}`,
			},
			check: func(t *testing.T, got any) {
				vl := got.(*VersionList)
				if len(vl.Data) != 1 || vl.Pages != 2 || !vl.Data[0].Deleted() {
					t.Errorf("%+v", vl)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			c, _ := testClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = append(got, r.RequestURI)
				if r.Method != http.MethodGet || r.Header.Get("Accept") != "application/json" {
					t.Errorf("%s with Accept %q", r.Method, r.Header.Get("Accept"))
				}
				i := len(got) - 1
				if i >= len(tt.pages) {
					writeJSON(w, 500, `{}`)
					return
				}
				writeJSON(w, 200, tt.pages[i])
			}))
			v, err := tt.call(c)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.uris) {
				t.Fatalf("requests %q, want %q", got, tt.uris)
			}
			for i := range got {
				if !sameURI(got[i], tt.uris[i]) {
					t.Errorf("request %d: %q, want %q", i, got[i], tt.uris[i])
				}
			}
			tt.check(t, v)
		})
	}
}

// sameURI compares request URIs with their query parameters in any order.
func sameURI(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.EscapedPath() == ub.EscapedPath() && ua.Query().Encode() == ub.Query().Encode()
}

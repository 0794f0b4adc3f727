package emulator

import (
	"net/url"
	"testing"
)

// TestItemVersionsFilters: GET item versions lists newest first and
// honours the spec's filters (versionNumber, id, extension.type).
func TestItemVersionsFilters(t *testing.T) {
	s := New(Options{})
	t.Cleanup(s.Close)
	pid := s.AddProject(s.AddHub("H"), "P")
	top := s.TopFolder(pid, "Project Files")
	item := s.AddFile(pid, top, "a.dwg", Bytes([]byte("1")))
	s.AddVersion(pid, item, "a.dwg", Bytes([]byte("22")))
	s.DeleteItem(pid, item)
	vs := s.ItemVersions(pid, item)
	c := newClient(t, s)
	type list struct {
		Data []struct {
			ID         string `json:"id"`
			Attributes struct {
				VersionNumber int `json:"versionNumber"`
				Extension     struct {
					Type string `json:"type"`
				} `json:"extension"`
			} `json:"attributes"`
		} `json:"data"`
	}
	get := func(query string) list {
		var out list
		c.getJSON(projPath(pid, "/items/"+encodeID(item)+"/versions"+query), 200, &out)
		return out
	}
	all := get("")
	if len(all.Data) != 3 || all.Data[0].Attributes.VersionNumber != 3 || all.Data[2].Attributes.VersionNumber != 1 {
		t.Fatalf("versions %+v, want 3, 2, 1", all.Data)
	}
	if got := get("?filter[versionNumber]=2"); len(got.Data) != 1 || got.Data[0].ID != vs[1].ID {
		t.Errorf("filter[versionNumber]=2: %+v", got.Data)
	}
	if got := get("?filter[id]=" + url.QueryEscape(vs[0].ID)); len(got.Data) != 1 || got.Data[0].Attributes.VersionNumber != 1 {
		t.Errorf("filter[id]: %+v", got.Data)
	}
	deleted := get("?filter[extension.type]=" + url.QueryEscape("versions:autodesk.core:Deleted"))
	if len(deleted.Data) != 1 || deleted.Data[0].Attributes.VersionNumber != 3 {
		t.Errorf("filter[extension.type] Deleted: %+v", deleted.Data)
	}
}

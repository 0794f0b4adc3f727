package emulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Test-side view of JSON:API documents, deliberately independent of the
// emulator's own wire types.
type wireRes struct {
	Type          string         `json:"type"`
	ID            string         `json:"id"`
	Attributes    map[string]any `json:"attributes"`
	Relationships map[string]struct {
		Data *struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		} `json:"data"`
	} `json:"relationships"`
}

type wireList struct {
	Data     []wireRes                        `json:"data"`
	Included []wireRes                        `json:"included"`
	Links    map[string]struct{ Href string } `json:"links"`
}

type wireOne struct {
	Data     wireRes                          `json:"data"`
	Included []wireRes                        `json:"included"`
	Links    map[string]struct{ Href string } `json:"links"`
}

func (r wireRes) rel(name string) string {
	if d := r.Relationships[name].Data; d != nil {
		return d.ID
	}
	return ""
}

func (r wireRes) str(name string) string { s, _ := r.Attributes[name].(string); return s }

func contentsPath(projectID, folderID string) string {
	return "/data/v1/projects/" + encodeID(projectID) + "/folders/" + encodeID(folderID) + "/contents"
}

// listAll follows links.next from path and returns every row and included
// version, plus the number of pages fetched.
func listAll(c *client, path string) (rows, included []wireRes, pages int) {
	c.t.Helper()
	for path != "" {
		var l wireList
		c.getJSON(path, http.StatusOK, &l)
		pages++
		rows = append(rows, l.Data...)
		included = append(included, l.Included...)
		path = l.Links["next"].Href
		if pages > 1000 {
			c.t.Fatal("listing never ends")
		}
	}
	return rows, included, pages
}

func TestBrowseHubsProjectsTopFolders(t *testing.T) {
	s := newServer(t, Options{})
	hubID := s.AddHub("Account")
	pid := s.AddProject(hubID, "P 1")
	c := newClient(t, s)

	var hubs wireList
	c.getJSON("/project/v1/hubs", http.StatusOK, &hubs)
	if len(hubs.Data) != 1 || hubs.Data[0].ID != hubID || hubs.Data[0].Type != "hubs" || !strings.HasPrefix(hubID, "b.") {
		t.Fatalf("hubs = %+v", hubs.Data)
	}
	if ext := hubs.Data[0].Attributes["extension"].(map[string]any)["type"]; ext != extHub {
		t.Errorf("hub extension type = %v", ext)
	}

	var projects wireList
	c.getJSON("/project/v1/hubs/"+encodeID(hubID)+"/projects", http.StatusOK, &projects)
	if len(projects.Data) != 1 || projects.Data[0].ID != pid || projects.Data[0].str("name") != "P 1" {
		t.Fatalf("projects = %+v", projects.Data)
	}
	if projects.Data[0].rel("rootFolder") != s.RootFolder(pid) {
		t.Errorf("rootFolder = %q, want %q", projects.Data[0].rel("rootFolder"), s.RootFolder(pid))
	}

	var top wireList
	c.getJSON("/project/v1/hubs/"+encodeID(hubID)+"/projects/"+encodeID(pid)+"/topFolders", http.StatusOK, &top)
	var names []string
	for _, f := range top.Data {
		names = append(names, f.str("name"))
		if f.rel("parent") != s.RootFolder(pid) {
			t.Errorf("top folder %s parent = %q", f.str("name"), f.rel("parent"))
		}
	}
	if strings.Join(names, ",") != "Project Files,Plans" {
		t.Errorf("top folders = %v", names)
	}
	if top.Data[0].ID != s.TopFolder(pid, "Project Files") || !strings.HasPrefix(top.Data[0].ID, "urn:adsk.wipprod:fs.folder:co.") {
		t.Errorf("Project Files ID = %q", top.Data[0].ID)
	}

	// A project of another hub is not found under this hub.
	other := s.AddProject(s.AddHub("Other"), "X")
	resp, _ := c.get("/project/v1/hubs/" + encodeID(hubID) + "/projects/" + encodeID(other) + "/topFolders")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("foreign project: status %d", resp.StatusCode)
	}
}

func TestProjectsPaging(t *testing.T) {
	s := newServer(t, Options{})
	h := s.AddHub("H")
	want := map[string]bool{}
	for i := range 5 {
		want[s.AddProject(h, "p"+itoa(i))] = true
	}
	c := newClient(t, s)
	rows, _, pages := listAll(c, "/project/v1/hubs/"+encodeID(h)+"/projects?page%5Blimit%5D=2")
	if pages != 3 || len(rows) != 5 {
		t.Fatalf("pages %d rows %d, want 3 and 5", pages, len(rows))
	}
	for _, r := range rows {
		if !want[r.ID] {
			t.Errorf("unexpected project %s", r.ID)
		}
		delete(want, r.ID)
	}
}

func TestFolderItemVersionShapes(t *testing.T) {
	s := newServer(t, Options{})
	pid := s.AddProject(s.AddHub("H"), "P")
	pf := s.TopFolder(pid, "Project Files")
	sub := s.AddFolder(pid, pf, "Sub Folder")
	itemID := s.AddFile(pid, sub, "plan v.pdf", Bytes([]byte("hello")))
	v2 := s.AddVersion(pid, itemID, "plan renamed.pdf", Bytes([]byte("hello, world")))
	c := newClient(t, s)

	var f wireOne
	c.getJSON("/data/v1/projects/"+encodeID(pid)+"/folders/"+encodeID(sub), http.StatusOK, &f)
	if f.Data.str("name") != "Sub Folder" || f.Data.Attributes["objectCount"] != float64(1) || f.Data.rel("parent") != pf {
		t.Errorf("folder = %+v", f.Data)
	}

	var l wireList
	c.getJSON(contentsPath(pid, sub), http.StatusOK, &l)
	if len(l.Data) != 1 || len(l.Included) != 1 {
		t.Fatalf("contents: %d rows, %d included", len(l.Data), len(l.Included))
	}
	it, tip := l.Data[0], l.Included[0]
	if it.Type != "items" || it.ID != itemID || !strings.HasPrefix(itemID, "urn:adsk.wipprod:dm.lineage:") {
		t.Errorf("item row = %+v", it)
	}
	if it.rel("tip") != tip.ID || tip.ID != v2 || !strings.HasSuffix(v2, "?version=2") {
		t.Errorf("tip join: item tip %q, included %q, AddVersion %q", it.rel("tip"), tip.ID, v2)
	}
	if tip.str("name") != "plan renamed.pdf" || tip.Attributes["storageSize"] != float64(12) || tip.Attributes["versionNumber"] != float64(2) {
		t.Errorf("tip attributes = %v", tip.Attributes)
	}
	if st := tip.rel("storage"); !strings.HasPrefix(st, "urn:adsk.objects:os.object:wip.dm.prod/") || !strings.HasSuffix(st, ".pdf") || st != s.StorageID(pid, v2) {
		t.Errorf("storage = %q", st)
	}
	if _, ok := l.Links["next"]; ok {
		t.Error("single page has links.next")
	}

	var one wireOne
	c.getJSON("/data/v1/projects/"+encodeID(pid)+"/items/"+encodeID(itemID)+"?includePathInProject=true", http.StatusOK, &one)
	if one.Data.ID != itemID || len(one.Included) != 1 || one.Included[0].ID != v2 || one.Data.str("pathInProject") != "/Project Files/Sub Folder" {
		t.Errorf("item = %+v included %+v", one.Data, one.Included)
	}

	var tipDoc wireOne
	c.getJSON("/data/v1/projects/"+encodeID(pid)+"/items/"+encodeID(itemID)+"/tip", http.StatusOK, &tipDoc)
	if tipDoc.Data.ID != v2 {
		t.Errorf("tip = %q", tipDoc.Data.ID)
	}

	var vers wireList
	c.getJSON("/data/v1/projects/"+encodeID(pid)+"/items/"+encodeID(itemID)+"/versions", http.StatusOK, &vers)
	if len(vers.Data) != 2 || vers.Data[0].ID != v2 || vers.Data[1].Attributes["versionNumber"] != float64(1) || vers.Data[1].str("name") != "plan v.pdf" {
		t.Errorf("versions = %+v", vers.Data)
	}

	// Version IDs are URL-encoded in paths: ? and = become %3F and %3D.
	p := "/data/v1/projects/" + encodeID(pid) + "/versions/" + encodeID(v2)
	if !strings.Contains(p, "%3Fversion%3D2") {
		t.Fatalf("encoded path %s", p)
	}
	var v wireOne
	c.getJSON(p, http.StatusOK, &v)
	if v.Data.ID != v2 || v.Data.rel("item") != itemID {
		t.Errorf("version = %+v", v.Data)
	}
	// Unencoded, the ?version=2 is a query string and the version is unknown.
	resp, _ := c.get("/data/v1/projects/" + encodeID(pid) + "/versions/" + strings.ReplaceAll(v2, ":", "%3A"))
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unencoded version ID: status %d", resp.StatusCode)
	}
}

// TestContentsEmptyMiddlePages builds a folder whose second page holds only
// deleted items: it comes back empty, yet links.next leads to more rows.
func TestContentsEmptyMiddlePages(t *testing.T) {
	s := newServer(t, Options{})
	pid := s.AddProject(s.AddHub("H"), "P")
	pf := s.TopFolder(pid, "Project Files")
	var ids []string
	for i := range 7 {
		ids = append(ids, s.AddFile(pid, pf, "f"+itoa(i)+".txt", Bytes([]byte{byte(i)})))
	}
	s.DeleteItem(pid, ids[2])
	s.DeleteItem(pid, ids[3])
	c := newClient(t, s)

	var page1 wireList
	c.getJSON(contentsPath(pid, pf)+"?page%5Bnumber%5D=1&page%5Blimit%5D=2", http.StatusOK, &page1)
	if len(page1.Data) != 0 || page1.Data == nil {
		t.Fatalf("page 1 should be an empty array, got %d rows", len(page1.Data))
	}
	if page1.Links["next"].Href == "" || page1.Links["prev"].Href == "" || page1.Links["first"].Href == "" {
		t.Fatalf("page 1 links = %+v", page1.Links)
	}

	rows, inc, pages := listAll(c, contentsPath(pid, pf)+"?page%5Blimit%5D=2")
	if pages != 4 || len(rows) != 5 || len(inc) != 5 {
		t.Fatalf("pages %d rows %d included %d; want 4, 5, 5", pages, len(rows), len(inc))
	}
	for _, r := range rows {
		if r.ID == ids[2] || r.ID == ids[3] {
			t.Errorf("hidden item %s listed", r.ID)
		}
	}

	rows, _, _ = listAll(c, contentsPath(pid, pf)+"?page%5Blimit%5D=2&includeHidden=true")
	if len(rows) != 7 {
		t.Fatalf("includeHidden: %d rows, want 7", len(rows))
	}
	var deleted wireOne
	c.getJSON("/data/v1/projects/"+encodeID(pid)+"/items/"+encodeID(ids[2]), http.StatusOK, &deleted)
	if deleted.Data.Attributes["hidden"] != true || deleted.Included[0].Attributes["extension"].(map[string]any)["type"] != extDeleted ||
		deleted.Included[0].rel("storage") != "" || deleted.Data.str("displayName") != "f2.txt" {
		t.Errorf("deleted item = %+v / %+v", deleted.Data.Attributes, deleted.Included[0])
	}
}

func TestContentsFiltersAndLimits(t *testing.T) {
	s := newServer(t, Options{})
	pid := s.AddProject(s.AddHub("H"), "P")
	pf := s.TopFolder(pid, "Project Files")
	s.AddFolder(pid, pf, "d1")
	s.AddFolder(pid, pf, "d2")
	s.AddFile(pid, pf, "a.txt", Bytes(nil))
	c := newClient(t, s)

	var l wireList
	c.getJSON(contentsPath(pid, pf)+"?filter%5Btype%5D=folders", http.StatusOK, &l)
	if len(l.Data) != 2 || l.Data[0].Type != "folders" || len(l.Included) != 0 {
		t.Errorf("filter[type]=folders: %+v", l.Data)
	}
	c.getJSON(contentsPath(pid, pf)+"?filter%5Btype%5D=items", http.StatusOK, &l)
	if len(l.Data) != 1 || l.Data[0].Type != "items" {
		t.Errorf("filter[type]=items: %+v", l.Data)
	}
	for _, q := range []string{"page%5Blimit%5D=201", "page%5Blimit%5D=0", "page%5Bnumber%5D=-1", "includeHidden=maybe", "filter%5Btype%5D=versions"} {
		resp, b := c.get(contentsPath(pid, pf) + "?" + q)
		var e struct {
			Errors []struct{ Status string } `json:"errors"`
		}
		if resp.StatusCode != http.StatusBadRequest || json.Unmarshal(b, &e) != nil || len(e.Errors) != 1 || e.Errors[0].Status != "400" {
			t.Errorf("%s: status %d body %s", q, resp.StatusCode, b)
		}
	}
	c.getJSON(contentsPath(pid, pf)+"?page%5Blimit%5D=200", http.StatusOK, nil)
}

func TestNotFound(t *testing.T) {
	s := newServer(t, Options{})
	h := s.AddHub("H")
	pid := s.AddProject(h, "P")
	pf := s.TopFolder(pid, "Project Files")
	c := newClient(t, s)
	p := "/data/v1/projects/" + encodeID(pid)
	for _, path := range []string{
		"/project/v1/hubs/b.nope/projects",
		"/project/v1/hubs/b.nope/projects/" + encodeID(pid) + "/topFolders",
		"/data/v1/projects/b.nope/folders/" + encodeID(pf),
		p + "/folders/" + encodeID("urn:adsk.wipprod:fs.folder:co.nope"),
		p + "/folders/" + encodeID("urn:adsk.wipprod:fs.folder:co.nope") + "/contents",
		p + "/items/" + encodeID("urn:adsk.wipprod:dm.lineage:nope"),
		p + "/items/" + encodeID("urn:adsk.wipprod:dm.lineage:nope") + "/tip",
		p + "/items/" + encodeID("urn:adsk.wipprod:dm.lineage:nope") + "/versions",
		p + "/versions/" + encodeID("urn:adsk.wipprod:fs.file:vf.nope?version=1"),
		"/data/v1/nothing/here",
	} {
		resp, b := c.get(path)
		var e struct {
			JSONAPI struct{ Version string } `json:"jsonapi"`
			Errors  []struct {
				Status, Code, Detail string
			} `json:"errors"`
		}
		if resp.StatusCode != http.StatusNotFound || json.Unmarshal(b, &e) != nil || len(e.Errors) != 1 || e.Errors[0].Status != "404" || e.JSONAPI.Version != "1.0" {
			t.Errorf("GET %s: status %d body %s", path, resp.StatusCode, b)
		}
	}
}

func TestRelativeLinks(t *testing.T) {
	s := newServer(t, Options{RelativeLinks: true})
	pid := s.AddProject(s.AddHub("H"), "P")
	pf := s.TopFolder(pid, "Project Files")
	for i := range 3 {
		s.AddFile(pid, pf, "f"+itoa(i), Bytes(nil))
	}
	c := newClient(t, s)
	var l wireList
	c.getJSON(contentsPath(pid, pf)+"?page%5Blimit%5D=2", http.StatusOK, &l)
	next := l.Links["next"].Href
	if !strings.HasPrefix(next, "/data/v1/projects/") {
		t.Fatalf("next = %q, want a relative path", next)
	}
	u, err := url.Parse(next)
	if err != nil || u.Query().Get("page[number]") != "1" || u.Query().Get("page[limit]") != "2" {
		t.Fatalf("next = %q", next)
	}
	rows, _, _ := listAll(c, contentsPath(pid, pf)+"?page%5Blimit%5D=2")
	if len(rows) != 3 {
		t.Errorf("rows = %d", len(rows))
	}
}

func TestFolderIfModifiedSince(t *testing.T) {
	s := newServer(t, Options{})
	pid := s.AddProject(s.AddHub("H"), "P")
	pf := s.TopFolder(pid, "Project Files")
	c := newClient(t, s)
	path := "/data/v1/projects/" + encodeID(pid) + "/folders/" + encodeID(pf)
	future := s.now().Add(time.Hour).UTC().Format(time.RFC3339)
	resp, _ := c.do(http.MethodGet, path, nil, http.Header{"Authorization": {"Bearer " + c.token}, "If-Modified-Since": {future}})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-Modified-Since in the future: status %d", resp.StatusCode)
	}
	past := s.now().Add(-time.Hour).UTC().Format(time.RFC3339)
	resp, _ = c.do(http.MethodGet, path, nil, http.Header{"Authorization": {"Bearer " + c.token}, "If-Modified-Since": {past}})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("If-Modified-Since in the past: status %d", resp.StatusCode)
	}
	resp, _ = c.do(http.MethodGet, path, nil, http.Header{"Authorization": {"Bearer " + c.token}, "If-Modified-Since": {time.Now().UTC().Format(http.TimeFormat)}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("If-Modified-Since as an HTTP date: status %d, want 400 (the spec says date-time)", resp.StatusCode)
	}
}

func TestHiddenTopFolder(t *testing.T) {
	s := newServer(t, Options{})
	h := s.AddHub("H")
	pid := s.AddProject(h, "P")
	s.HideFolder(pid, s.TopFolder(pid, "Plans"))
	c := newClient(t, s)
	path := "/project/v1/hubs/" + encodeID(h) + "/projects/" + encodeID(pid) + "/topFolders"
	var all, visible wireList
	c.getJSON(path, http.StatusOK, &all)
	c.getJSON(path+"?excludeDeleted=true", http.StatusOK, &visible)
	if len(all.Data) != 2 || len(visible.Data) != 1 || visible.Data[0].str("name") != "Project Files" {
		t.Errorf("topFolders: all %d, excludeDeleted %d", len(all.Data), len(visible.Data))
	}
}

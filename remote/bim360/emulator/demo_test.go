package emulator

import (
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestDemo(t *testing.T) {
	s := newServer(t, Options{})
	s.Demo()
	c := newClient(t, s)

	var hubs wireList
	c.getJSON("/project/v1/hubs", http.StatusOK, &hubs)
	if len(hubs.Data) != 2 {
		t.Fatalf("%d hubs", len(hubs.Data))
	}
	var projects wireList
	c.getJSON("/project/v1/hubs/"+encodeID(hubs.Data[0].ID)+"/projects", http.StatusOK, &projects)
	var tower string
	for _, p := range projects.Data {
		if p.str("name") == "Tower A" {
			tower = p.ID
		}
	}
	if tower == "" {
		t.Fatal("no Tower A project")
	}
	pf := s.TopFolder(tower, "Project Files")
	rows, inc, _ := listAll(c, contentsPath(tower, pf))
	sizes := map[string]float64{}
	count := map[string]int{}
	for _, v := range inc {
		sizes[v.str("name")] = v.Attributes["storageSize"].(float64)
		count[v.str("name")]++
	}
	var large string
	for _, r := range rows {
		if r.Type == "folders" && r.str("name") == DemoLargeFolder {
			large = r.ID
		}
		if r.str("displayName") == "old draft.dwg" {
			t.Error("deleted item listed")
		}
	}
	if sizes["empty.txt"] != 0 || sizes["federated model 3GiB.nwd"] != float64(3*GiB) || sizes["north/south elevations.dwg"] == 0 || count["Duplicate.docx"] != 2 {
		t.Errorf("demo files: sizes %v counts %v", sizes, count)
	}
	if large == "" {
		t.Fatal("no large folder")
	}
	var f wireOne
	c.getJSON("/data/v1/projects/"+encodeID(tower)+"/folders/"+encodeID(large), http.StatusOK, &f)
	if f.Data.Attributes["objectCount"] != float64(10000) {
		t.Errorf("large folder objectCount = %v", f.Data.Attributes["objectCount"])
	}
	var last wireList
	c.getJSON(contentsPath(tower, large)+"?page%5Bnumber%5D=49", http.StatusOK, &last)
	if len(last.Data) != 200 || last.Links["next"].Href != "" || last.Links["prev"].Href == "" || last.Included[199].str("name") != "file-09999.txt" {
		t.Errorf("last page: %d rows, links %v", len(last.Data), last.Links)
	}
}

// TestDemoLargeFolderWalk follows links.next through the 10,000-file
// folder (unchecked server: TestDemo contract-checks the same pages).
func TestDemoLargeFolderWalk(t *testing.T) {
	s := newUncheckedServer(t, Options{})
	s.Demo()
	c := newClient(t, s)
	var tower string
	for _, p := range s.st.projects {
		if p.name == "Tower A" {
			tower = p.id
		}
	}
	var large string
	s.st.mu.RLock()
	for _, f := range s.st.projects[tower].folders {
		if f.name == DemoLargeFolder {
			large = f.id
		}
	}
	s.st.mu.RUnlock()
	rows, inc, pages := listAll(c, contentsPath(tower, large))
	if len(rows) != 10000 || len(inc) != 10000 || pages != 50 {
		t.Fatalf("large folder: %d rows, %d included, %d pages", len(rows), len(inc), pages)
	}
	seen := map[string]bool{}
	for i, v := range inc {
		if want := "file-" + pad5(i) + ".txt"; v.str("name") != want || rows[i].rel("tip") != v.ID || seen[v.ID] {
			t.Fatalf("row %d: %q (tip %q vs %q)", i, v.str("name"), rows[i].rel("tip"), v.ID)
		}
		seen[v.ID] = true
	}
}

func pad5(i int) string {
	s := itoa(i)
	return strings.Repeat("0", 5-len(s)) + s
}

// TestBuildWhileServing exercises the builders concurrently with listings
// (meaningful under -race; unchecked server, see newUncheckedServer).
func TestBuildWhileServing(t *testing.T) {
	s := newUncheckedServer(t, Options{})
	pid := s.AddProject(s.AddHub("H"), "P")
	pf := s.TopFolder(pid, "Project Files")
	c := newClient(t, s)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 200 {
			it := s.AddFile(pid, pf, "f"+itoa(i), Bytes([]byte{1}))
			if i%3 == 0 {
				s.AddVersion(pid, it, "", Bytes([]byte{2}))
			}
			if i%5 == 0 {
				s.DeleteItem(pid, it)
			}
		}
	}()
	for range 20 {
		listAll(c, contentsPath(pid, pf)+"?page%5Blimit%5D=50")
	}
	wg.Wait()
	rows, _, _ := listAll(c, contentsPath(pid, pf)+"?includeHidden=true")
	if len(rows) != 200 {
		t.Errorf("%d rows, want 200", len(rows))
	}
}

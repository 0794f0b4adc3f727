package emulator

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/bimfs/bimfs/remote/internal/seedex"
)

const seedProject = "f6a1e3b5-abaa-4b01-b33a-5d55f36ba047"

func serve(t *testing.T, s *Service) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	s.Routes(func(pattern, op string, public bool, h http.HandlerFunc) { mux.HandleFunc(pattern, h) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, method, u, body string, want int) any {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, u, resp.StatusCode, b, want)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	return v
}

// TestSeedContract replays every call of seed 002 (under its /bim360/
// prefix and the current /construction/ one) and checks that the answers
// have every field the seed shows and no others beyond documented ones.
func TestSeedContract(t *testing.T) {
	text, err := seedex.Seed("002")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{}, nil)
	s.Demo(seedProject)
	srv := serve(t, s)
	r := seedex.Extract(text)
	if len(r.Examples) != 8 {
		t.Fatalf("seed 002: %d examples, skipped %q", len(r.Examples), r.Skipped)
	}
	allowed := []string{"pagination.limit", "pagination.offset", "pagination.cursorState", "pagination.nextUrl",
		"results[].description", "results[].barcode", "results[].values", "results[].customAttributes"}
	for _, ex := range r.Examples {
		u, _ := url.Parse(ex.URL)
		// The seed's locations container stands for the project's; the
		// emulator keys location trees by project.
		path := strings.Replace(u.Path, "73807878-39c0-42f1-a8f9-29b3d3eb1c5f", seedProject, 1)
		paths := []string{path}
		if strings.HasPrefix(path, "/bim360/assets/") {
			paths = append(paths, "/construction/assets/"+strings.TrimPrefix(path, "/bim360/assets/"))
		}
		for _, p := range paths {
			got := call(t, ex.Method, srv.URL+p+"?"+u.RawQuery, ex.Body, 200)
			if m := seedex.MissingFields(ex.Response, got); len(m) > 0 {
				t.Errorf("%s: emulator lacks the seed's fields %q", p, m)
			}
			if e := seedex.ExtraFields(ex.Response, got, allowed...); len(e) > 0 {
				t.Errorf("%s: emulator has fields the seed does not show: %q", p, e)
			}
		}
	}
}

// TestCursorPagination follows nextUrl through the v2 assets listing: the
// cursor decodes to {"limit","offset"} as in the seed, nextUrl points at
// v1 and keeps the filters, and offset cannot be sent.
func TestCursorPagination(t *testing.T) {
	s := New(Options{}, nil)
	s.Demo(seedProject)
	srv := serve(t, s)
	u := srv.URL + "/bim360/assets/v2/projects/" + seedProject + "/assets?includeCustomAttributes=true&limit=100"
	seen := map[string]bool{}
	pages := 0
	for u != "" {
		page := call(t, "GET", u, "", 200).(map[string]any)
		pages++
		for _, a := range page["results"].([]any) {
			id := a.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("asset %s twice", id)
			}
			seen[id] = true
			if _, ok := a.(map[string]any)["customAttributes"]; !ok {
				t.Fatal("filter lost on a later page: no customAttributes")
			}
		}
		pg := page["pagination"].(map[string]any)
		u, _ = pg["nextUrl"].(string)
		if u != "" {
			if !strings.Contains(u, "/v1/projects/") {
				t.Errorf("nextUrl %s does not point at v1", u)
			}
			raw, err := base64.StdEncoding.DecodeString(pg["cursorState"].(string))
			var c map[string]any
			if err != nil || json.Unmarshal(raw, &c) != nil || c["limit"] == nil || c["offset"] == nil {
				t.Errorf("cursorState %v does not decode to {limit, offset}", pg["cursorState"])
			}
		}
	}
	if len(seen) != DemoAssets || pages != (DemoAssets+99)/100 {
		t.Errorf("%d assets in %d pages", len(seen), pages)
	}
	call(t, "GET", srv.URL+"/bim360/assets/v2/projects/"+seedProject+"/assets?offset=25", "", 400)
	call(t, "GET", srv.URL+"/bim360/assets/v2/projects/"+seedProject+"/assets?cursorState=bm9wZQ", "", 400)
	call(t, "POST", srv.URL+"/bim360/assets/v1/projects/"+seedProject+"/category-status-step-sets/status-step-sets:batch-get", `{"id":["10"]}`, 400)
}

func TestFaultKnobs(t *testing.T) {
	s := New(Options{PageSize: 10, EmptyPages: true, OpaqueCursors: true}, nil)
	s.Demo(seedProject)
	srv := serve(t, s)
	first := call(t, "GET", srv.URL+"/construction/assets/v1/projects/"+seedProject+"/assets", "", 200).(map[string]any)
	cur := first["pagination"].(map[string]any)["cursorState"].(string)
	if _, err := base64.StdEncoding.DecodeString(cur); err == nil && strings.Contains(cur, "=") {
		t.Errorf("opaque cursor %q looks like base64 JSON", cur)
	}
	second := call(t, "GET", first["pagination"].(map[string]any)["nextUrl"].(string), "", 200).(map[string]any)
	if n := len(second["results"].([]any)); n != 0 || second["pagination"].(map[string]any)["nextUrl"] == nil {
		t.Errorf("second page: %d results, next %v; want an empty page that goes on", n, second["pagination"])
	}
	s.FailNext(http.StatusTooManyRequests, 1)
	resp, err := http.Get(srv.URL + "/construction/assets/v1/projects/" + seedProject + "/categories")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("injected 429: %d %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

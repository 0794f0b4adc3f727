package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote/internal/seedex"
)

// serve runs the service on a loopback test server without the host's
// authentication.
func serve(t *testing.T, s *Service) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	s.Routes(func(pattern, op string, public bool, h http.HandlerFunc) { mux.HandleFunc(pattern, h) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func getJSON(t *testing.T, u string, want int) any {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d %s, want %d", u, resp.StatusCode, b, want)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return v
}

type demoIDs struct{ account, request, job string }

func demo(t *testing.T) (*Service, *httptest.Server, demoIDs) {
	s := New(Options{}, nil)
	const account = "872264f8-2433-498d-8d36-16649ecb13fe"
	s.Demo(account, []string{"ffffffff-1f51-4b26-a6b7-6ac0639cb138"})
	srv := serve(t, s)
	reqs := getJSON(t, srv.URL+"/data-connector/v1/accounts/"+account+"/requests", 200).(map[string]any)["results"].([]any)
	req := reqs[0].(map[string]any)["id"].(string)
	jobs := getJSON(t, srv.URL+"/data-connector/v1/accounts/"+account+"/requests/"+req+"/jobs?sort=desc", 200).(map[string]any)["results"].([]any)
	var job string
	for _, j := range jobs {
		if j.(map[string]any)["status"] == "complete" {
			job = j.(map[string]any)["id"].(string)
			break
		}
	}
	return s, srv, demoIDs{account, req, job}
}

// TestSeedContract replays seed 001's calls against the emulator and
// checks that its answers have exactly the seed's fields.
func TestSeedContract(t *testing.T) {
	text, err := seedex.Seed("001")
	if err != nil {
		t.Fatal(err)
	}
	_, srv, ids := demo(t)
	r := seedex.Extract(text)
	if len(r.Examples) != 3 {
		t.Fatalf("seed 001: %d examples", len(r.Examples))
	}
	for _, ex := range r.Examples {
		u, _ := url.Parse(ex.URL)
		path := strings.NewReplacer("<accountId>", ids.account, "<requestId>", ids.request, "<jobId>", ids.job).Replace(u.Path)
		got := getJSON(t, srv.URL+path+"?"+u.RawQuery, 200)
		if m := seedex.MissingFields(ex.Response, got); len(m) > 0 {
			t.Errorf("%s: emulator lacks the seed's fields %q", u.Path, m)
		}
		if e := seedex.ExtraFields(ex.Response, got); len(e) > 0 {
			t.Errorf("%s: emulator has fields the seed does not show: %q", u.Path, e)
		}
	}
}

// TestCollectionContract checks the emulator against the Postman
// collection: the fields its create/patch bodies send come back in GET
// requests, and the fields its test scripts read are there.
func TestCollectionContract(t *testing.T) {
	dir, err := seedex.SharedDir()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "specs", "aps-extra", "data-connector.postman_collection.json"))
	if err != nil {
		t.Fatal(err)
	}
	var coll struct {
		Item []json.RawMessage `json:"item"`
	}
	if err := json.Unmarshal(raw, &coll); err != nil {
		t.Fatal(err)
	}
	type item struct {
		Name    string            `json:"name"`
		Item    []json.RawMessage `json:"item"`
		Request struct {
			Method string `json:"method"`
			Body   struct {
				Raw string `json:"raw"`
			} `json:"body"`
		} `json:"request"`
		Event []struct {
			Script struct {
				Exec []string `json:"exec"`
			} `json:"script"`
		} `json:"event"`
	}
	bodyKeys := map[string]bool{}
	scriptReads := map[string]map[string]bool{} // kind of call → fields read
	comment := regexp.MustCompile(`(?m)//.*$`)
	reads := regexp.MustCompile(`\b(?:body|d|find)\.([a-zA-Z]+)\b`)
	var walk func([]json.RawMessage)
	walk = func(items []json.RawMessage) {
		for _, r := range items {
			var it item
			if err := json.Unmarshal(r, &it); err != nil {
				t.Fatal(err)
			}
			walk(it.Item)
			if it.Request.Body.Raw != "" && (it.Request.Method == "POST" || it.Request.Method == "PATCH") {
				var m map[string]any
				if err := json.Unmarshal([]byte(comment.ReplaceAllString(it.Request.Body.Raw, "")), &m); err != nil {
					t.Fatalf("%s body: %v", it.Name, err)
				}
				for k := range m {
					bodyKeys[k] = true
				}
			}
			kind := ""
			switch n := strings.ToLower(it.Name); {
			case strings.Contains(n, "jobs"):
				kind = "jobs"
			case strings.Contains(n, "data list"):
				kind = "listing"
			case strings.Contains(n, "signed url"):
				kind = "data"
			}
			for _, ev := range it.Event {
				for _, m := range reads.FindAllStringSubmatch(strings.Join(ev.Script.Exec, "\n"), -1) {
					if kind != "" && m[1] != "length" && m[1] != "find" && m[1] != "results" && m[1] != "includes" && m[1] != "split" {
						if scriptReads[kind] == nil {
							scriptReads[kind] = map[string]bool{}
						}
						scriptReads[kind][m[1]] = true
					}
				}
			}
		}
	}
	walk(coll.Item)
	if len(bodyKeys) < 5 || len(scriptReads) != 3 {
		t.Fatalf("collection parse found body keys %v, script reads %v", bodyKeys, scriptReads)
	}
	_, srv, ids := demo(t)
	base := srv.URL + "/data-connector/v1/accounts/" + ids.account
	req := getJSON(t, base+"/requests/"+ids.request, 200).(map[string]any)
	for k := range bodyKeys {
		if _, ok := req[k]; !ok && k != "projectId" { // projectId only on project-level requests
			t.Errorf("GET request lacks %q, which the collection's bodies send", k)
		}
	}
	calls := map[string]any{
		"jobs":    getJSON(t, base+"/requests/"+ids.request+"/jobs", 200).(map[string]any)["results"].([]any)[0],
		"listing": getJSON(t, base+"/jobs/"+ids.job+"/data-listing", 200).([]any)[0],
		"data":    getJSON(t, base+"/jobs/"+ids.job+"/data/README.html", 200),
	}
	for kind, fields := range scriptReads {
		for f := range fields {
			if _, ok := calls[kind].(map[string]any)[f]; !ok {
				t.Errorf("%s answer lacks %q, which the collection's tests read", kind, f)
			}
		}
	}
	su := calls["data"].(map[string]any)["signedUrl"].(string)
	_, q, _ := strings.Cut(su, "?")
	params := strings.Split(q, "&")
	if len(params) != 4 || !strings.HasPrefix(params[0], "AWSAccessKeyId=") || !strings.HasPrefix(params[1], "Expires=") ||
		!strings.HasPrefix(params[2], "Signature=") || !strings.HasPrefix(params[3], "x-amz-security-token=") {
		t.Errorf("signed URL query %q: the collection reads four parameters by position", q)
	}
}

func TestSignedURLExpiry(t *testing.T) {
	var offset time.Duration
	now := func() time.Time { return time.Now().Add(offset) }
	s := New(Options{}, now)
	s.Demo("acc", nil)
	srv := serve(t, s)
	var job string
	s.mu.Lock()
	for id, j := range s.jobs {
		if j.completion == "success" {
			job = id
			break
		}
	}
	s.mu.Unlock()
	d := getJSON(t, srv.URL+"/data-connector/v1/accounts/acc/jobs/"+job+"/data/admin_users.csv", 200).(map[string]any)
	get := func(rng string) (int, string) {
		req, _ := http.NewRequest("GET", d["signedUrl"].(string), nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	want, _ := s.FileData(job, "admin_users.csv")
	if code, body := get("bytes=5-14"); code != 206 || body != string(want[5:15]) {
		t.Errorf("range: %d %q", code, body)
	}
	offset = 61 * time.Second
	if code, body := get(""); code != 403 || !strings.Contains(body, "expired") {
		t.Errorf("after 61 s: %d %q; want 403 expired", code, body)
	}
	tampered := strings.Replace(d["signedUrl"].(string), "admin_users", "admin_projects", 1)
	resp, err := http.Get(tampered)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("URL for another file: %d", resp.StatusCode)
	}
}

func TestFaultsAndBadInput(t *testing.T) {
	s := New(Options{}, nil)
	s.Demo("acc", nil)
	s.Forbid("nope")
	srv := serve(t, s)
	getJSON(t, srv.URL+"/data-connector/v1/accounts/nope/requests", 403)
	getJSON(t, srv.URL+"/data-connector/v1/accounts/acc/requests?limit=1000", 400)
	getJSON(t, srv.URL+"/data-connector/v1/accounts/acc/requests?sort=sideways", 400)
	s.FailNext(429, 1)
	s.FailNext(503, 1)
	resp, err := http.Get(srv.URL + "/data-connector/v1/accounts/acc/requests")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("first injected fault: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	getJSON(t, srv.URL+"/data-connector/v1/accounts/acc/requests", 503)
	page := getJSON(t, srv.URL+"/data-connector/v1/accounts/acc/requests?limit=1&offset=1", 200).(map[string]any)
	if n := len(page["results"].([]any)); n != 1 || page["pagination"].(map[string]any)["totalResults"].(float64) != 2 {
		t.Errorf("second page: %v", page)
	}
}

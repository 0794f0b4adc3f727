package assets

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote/internal/seedex"

	"github.com/bimfs/bimfs/remote/bim360/assets/emulator"
	"github.com/bimfs/bimfs/remote/httpx"
)

const pid = "f6a1e3b5-abaa-4b01-b33a-5d55f36ba047"

// legacyOnly serves the emulator but refuses the current prefix like a
// server that predates it (404 without an error code).
func legacyOnly(t *testing.T, s *emulator.Service) (string, *atomic.Int64) {
	t.Helper()
	mux := http.NewServeMux()
	s.Routes(func(pattern, op string, public bool, h http.HandlerFunc) { mux.HandleFunc(pattern, h) })
	refused := new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, DefaultPrefix) {
			refused.Add(1)
			http.NotFound(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, refused
}

func TestPrefixFallbackAndSnapshot(t *testing.T) {
	s := emulator.New(emulator.Options{}, nil)
	s.Demo(pid)
	u, refused := legacyOnly(t, s)
	c, err := NewClient(u, "", &httpx.Client{BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}, "")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := Fetch(context.Background(), c, "b."+pid, pid, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if refused.Load() != 1 {
		t.Errorf("current prefix tried %d times; want once, then remembered", refused.Load())
	}
	if snap.Assets != emulator.DemoAssets {
		t.Errorf("%d assets", snap.Assets)
	}
	rows, err := csv.NewReader(bytes.NewReader(snap.Files[FileAssetsCSV])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != emulator.DemoAssets+1 {
		t.Errorf("%d CSV rows", len(rows))
	}
	for _, want := range s.CustomAttributeNames(pid) {
		found := false
		for _, h := range rows[0][len(BuiltinColumns):] {
			found = found || h == want
		}
		if !found {
			t.Errorf("no column %q in %q", want, rows[0])
		}
	}
	var locs []map[string]any
	if err := json.Unmarshal(snap.Files[FileLocations], &locs); err != nil || len(locs) <= emulator.DefaultLimit {
		t.Errorf("locations: %d nodes (more than one page expected), %v", len(locs), err)
	}
	var rels []any
	if err := json.Unmarshal(snap.Files[FileRelationships], &rels); err != nil || len(rels) <= emulator.DefaultLimit {
		t.Errorf("relationships: %d, %v", len(rels), err)
	}
}

func TestCSVRendering(t *testing.T) {
	assets := []json.RawMessage{
		json.RawMessage(`{"id":"a1","categoryId":"3","statusId":"s1","version":2,"isActive":true,"customAttributes":{"ca1":"x, \"y\"\nz","ca2":true,"ca3":12.5,"ca4":["A","B"]}}`),
		json.RawMessage(`{"id":"a2","categoryId":"2","statusId":"s9"}`),
	}
	cats := []categoryView{{ID: "1", Name: "ROOT", IsRoot: true}, {ID: "2", Name: "Electrical", ParentID: "1"}, {ID: "3", Name: "Light", ParentID: "2"}}
	statuses := []json.RawMessage{json.RawMessage(`{"id":"s1","label":"Installed"}`)}
	attrs := []json.RawMessage{
		json.RawMessage(`{"name":"ca1","displayName":"Notes","dataType":"paragraph"}`),
		json.RawMessage(`{"name":"ca2","displayName":"Notes","dataType":"boolean"}`),
		json.RawMessage(`{"name":"ca3","displayName":"status","dataType":"numeric"}`),
		json.RawMessage(`{"name":"ca4","displayName":"Certs","dataType":"multi_select"}`),
	}
	b, err := assetsCSV(assets, categoryPaths(cats), statuses, nil, attrs)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	h := rows[0][len(BuiltinColumns):]
	if strings.Join(h, "|") != "Notes|Notes (ca2)|status (ca3)|Certs" {
		t.Errorf("custom columns %q", h)
	}
	get := func(row int, col string) string {
		for i, c := range rows[0] {
			if c == col {
				return rows[row][i]
			}
		}
		t.Fatalf("no column %q", col)
		return ""
	}
	if get(1, "categoryPath") != "Electrical > Light" || get(1, "status") != "Installed" || get(1, "version") != "2" ||
		get(1, "Notes") != "x, \"y\"\nz" || get(1, "Notes (ca2)") != "true" || get(1, "status (ca3)") != "12.5" || get(1, "Certs") != "A; B" {
		t.Errorf("row 1 %q", rows[1])
	}
	if get(2, "status") != "" || get(2, "Notes") != "" || get(2, "categoryPath") != "Electrical" {
		t.Errorf("row 2 %q", rows[2])
	}
}

// TestClientRequestsMatchSeed records the client's calls during a fetch
// and checks them against seed 002: the same paths (under the configured
// prefix), the seed's query switches, and a batch-get body with the seed's
// fields.
func TestClientRequestsMatchSeed(t *testing.T) {
	text, err := seedex.Seed("002")
	if err != nil {
		t.Fatal(err)
	}
	s := emulator.New(emulator.Options{}, nil)
	s.Demo(pid)
	mux := http.NewServeMux()
	s.Routes(func(pattern, op string, public bool, h http.HandlerFunc) { mux.HandleFunc(pattern, h) })
	var mu sync.Mutex
	type rec struct {
		method, path string
		query        url.Values
		body         []byte
	}
	var calls []rec
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		mu.Lock()
		calls = append(calls, rec{r.Method, r.URL.Path, r.URL.Query(), b})
		mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, _ := NewClient(srv.URL, LegacyPrefix, &httpx.Client{}, "")
	if _, err := Fetch(context.Background(), c, pid, pid, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, ex := range seedex.Extract(text).Examples {
		u, _ := url.Parse(ex.URL)
		found := false
		for _, call := range calls {
			if call.method != ex.Method || call.path != u.Path {
				continue
			}
			found = true
			for k, v := range u.Query() {
				if call.query.Get(k) != v[0] {
					t.Errorf("%s: query %s=%q, seed sends %q", u.Path, k, call.query.Get(k), v[0])
				}
			}
			if ex.Body != "" {
				var want, got any
				if err := json.Unmarshal([]byte(ex.Body), &want); err != nil {
					t.Fatalf("seed body: %v", err)
				}
				if err := json.Unmarshal(call.body, &got); err != nil {
					t.Fatalf("client body %q: %v", call.body, err)
				}
				if m, e := seedex.MissingFields(want, got), seedex.ExtraFields(want, got); len(m)+len(e) > 0 {
					t.Errorf("%s body: lacks %q, adds %q", u.Path, m, e)
				}
			}
			break
		}
		if !found && !strings.Contains(u.Path, "73807878") {
			t.Errorf("the client never calls %s %s", ex.Method, u.Path)
		}
	}
}

// TestServerRefusesPageSize: a server that answers 400 to our limit is
// asked again without it, once per client.
func TestServerRefusesPageSize(t *testing.T) {
	s := emulator.New(emulator.Options{}, nil)
	s.Demo(pid)
	mux := http.NewServeMux()
	s.Routes(func(pattern, op string, public bool, h http.HandlerFunc) { mux.HandleFunc(pattern, h) })
	var refused atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/assets/") && r.URL.Query().Has("limit") {
			refused.Add(1)
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"type":"BadInput","title":"Bad Request","detail":"limit"}`))
			return
		}
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, _ := NewClient(srv.URL, "", &httpx.Client{}, "")
	snap, err := Fetch(context.Background(), c, pid, pid, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Assets != emulator.DemoAssets || refused.Load() != 1 {
		t.Errorf("%d assets, %d refusals; want %d and 1", snap.Assets, refused.Load(), emulator.DemoAssets)
	}
}

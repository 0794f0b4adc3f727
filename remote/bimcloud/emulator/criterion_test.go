package emulator

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func (h *harness) query(tok string, q url.Values, criterion any) (int, []resourceJSON, []byte) {
	h.t.Helper()
	op := "get-resources-by-criterion"
	if len(q) > 0 {
		op += "?" + q.Encode()
	}
	st, b := h.api("POST", op, tok, nil, criterion)
	var out []resourceJSON
	if st == 200 {
		h.must(st, b, &out)
	}
	return st, out, b
}

func names(rs []resourceJSON) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

type obj = map[string]any

func TestCriterionOperators(t *testing.T) {
	h := newHarness(t, Options{})
	srv, tok := h.srv, h.srv.Token()
	docs := srv.AddFolder(RootID, "Docs")
	sub := srv.AddFolder(docs, "Sub")
	srv.AddBlob(docs, "a.png", Bytes(make([]byte, 10)), "")
	srv.AddBlob(docs, "B.PNG", Bytes(make([]byte, 20)), "")
	srv.AddBlob(docs, "c.txt", Bytes(make([]byte, 30)), "")
	srv.AddBlob(sub, "d.png", Bytes(make([]byte, 40)), "")
	srv.AddBlob(docs, "50%_off.txt", Bytes(nil), "")

	in := obj{"$eq": obj{"$parentId": docs}}
	cases := []struct {
		name string
		crit any
		want []string
	}{
		{"parent", in, []string{"50%_off.txt", "B.PNG", "Sub", "a.png", "c.txt"}},
		{"parentId alias (spec example)", obj{"$eq": obj{"parentId": docs}}, []string{"50%_off.txt", "B.PNG", "Sub", "a.png", "c.txt"}},
		{"and name", obj{"$and": []any{in, obj{"$eq": obj{"name": "a.png"}}}}, []string{"a.png"}},
		{"or", obj{"$or": []any{obj{"$eq": obj{"name": "a.png"}}, obj{"$eq": obj{"name": "d.png"}}}}, []string{"a.png", "d.png"}},
		{"ne type", obj{"$and": []any{in, obj{"$ne": obj{"type": "blob"}}}}, []string{"Sub"}},
		{"not", obj{"$and": []any{in, obj{"$not": obj{"$eq": obj{"type": "blob"}}}}}, []string{"Sub"}},
		{"like, case-insensitive", obj{"$like": obj{"name": "%.png"}}, []string{"B.PNG", "a.png", "d.png"}},
		{"like underscore", obj{"$like": obj{"name": "_.txt"}}, []string{"c.txt"}},
		{"like escaped percent", obj{"$like": obj{"name": `50\%\_off%`}}, []string{"50%_off.txt"}},
		{"gt size", obj{"$gt": obj{"$size": 20}}, []string{"c.txt", "d.png"}},
		{"gte size", obj{"$gte": obj{"$size": 20}}, []string{"B.PNG", "c.txt", "d.png"}},
		{"lt size", obj{"$and": []any{obj{"$lt": obj{"$size": 20}}, obj{"$eq": obj{"type": "blob"}}}}, []string{"50%_off.txt", "a.png"}},
		{"lte size", obj{"$lte": obj{"$size": 10}}, []string{"50%_off.txt", "a.png"}},
		{"path", obj{"$eq": obj{"$path": "Project Root/Docs/Sub/d.png"}}, []string{"d.png"}},
		{"lowered path", obj{"$eq": obj{"$loweredPath": "project root/docs/b.png"}}, []string{"B.PNG"}},
		{"root by path", obj{"$eq": obj{"$path": "Project Root"}}, []string{"Project Root"}},
		{"root has no parent", obj{"$and": []any{obj{"$eq": obj{"$parentId": nil}}, obj{"$eq": obj{"type": "resourceGroup"}}}}, []string{"Project Root"}},
		{"two fields in one $eq", obj{"$eq": obj{"$parentId": docs, "name": "c.txt"}}, []string{"c.txt"}},
		{"model servers", obj{"$eq": obj{"type": "modelServer"}}, []string{DefaultModelServerName}},
		{"by model server", obj{"$and": []any{obj{"$eq": obj{"modelServerId": srv.DefaultModelServer()}}, obj{"$like": obj{"name": "d%"}}}}, []string{"d.png"}},
		{"empty $or matches nothing", obj{"$or": []any{}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, got, b := h.query(tok, url.Values{"sort-by": {"name"}}, c.crit)
			if st != 200 {
				t.Fatalf("%d %s", st, b)
			}
			if !slices.Equal(names(got), c.want) {
				t.Fatalf("got %q, want %q", names(got), c.want)
			}
		})
	}

	bad := []any{
		obj{"$regex": obj{"name": "x"}},
		obj{"$eq": obj{"nonsense": "x"}},
		obj{"$and": obj{"$eq": obj{"name": "x"}}},
		obj{"$eq": "name"},
		obj{"$like": obj{"name": 5}},
		obj{"$eq": obj{"name": []any{"x"}}},
		[]any{},
		obj{"$not": []any{}},
	}
	for i, c := range bad {
		// Only the array body breaks the request schema, but all are bad on purpose.
		st, b := h.apiCtx(withInvalidRequest(context.Background()), "POST", "get-resources-by-criterion", tok, nil, c)
		if st != StatusBIMcloudError {
			t.Errorf("bad criterion %d: %d %s", i, st, b)
			continue
		}
		h.managerErr(st, b, ErrEntityValidation)
	}
	for _, q := range []url.Values{{"skip": {"-1"}}, {"limit": {"x"}}, {"sort-by": {"colour"}}} {
		st, _, b := h.query(tok, q, in)
		h.managerErr(st, b, ErrEntityValidation)
	}
}

// TestPagingOverTheCap lists a folder larger than the page cap the way
// workflow.py does, and shows that asking for more than the cap is
// silently capped.
func TestPagingOverTheCap(t *testing.T) {
	h := newHarness(t, Options{PageCap: 100})
	srv, tok := h.srv, h.srv.Token()
	dir := srv.AddFolder(RootID, "Many")
	const n = 250
	want := map[string]bool{}
	for i := range n {
		srv.AddBlob(dir, fmt.Sprintf("f%03d", i), Bytes(nil), "")
		want[fmt.Sprintf("f%03d", i)] = true
	}
	crit := obj{"$eq": obj{"$parentId": dir}}

	// No limit: the cap applies.
	if _, got, _ := h.query(tok, nil, crit); len(got) != 100 {
		t.Fatalf("no limit: %d results", len(got))
	}
	// A limit above the cap is capped too: a client stopping at the first
	// page shorter than its limit would wrongly stop here.
	if _, got, _ := h.query(tok, url.Values{"limit": {"5000"}}, crit); len(got) != 100 {
		t.Fatalf("limit 5000: %d results", len(got))
	}

	for _, limit := range []int{100, 40} {
		seen := map[string]bool{}
		var pages []int
		var prev string
		for skip := 0; ; skip += limit {
			_, got, _ := h.query(tok, url.Values{"sort-by": {"name"}, "skip": {fmt.Sprint(skip)}, "limit": {fmt.Sprint(limit)}}, crit)
			pages = append(pages, len(got))
			for _, r := range got {
				if seen[r.Name] || r.Name <= prev {
					t.Fatalf("limit %d: %q out of order or repeated", limit, r.Name)
				}
				seen[r.Name], prev = true, r.Name
			}
			if len(got) < limit {
				break
			}
		}
		if len(seen) != n {
			t.Fatalf("limit %d: saw %d of %d (pages %v)", limit, len(seen), n, pages)
		}
	}
	// Skip past the end: empty array, not an error.
	if st, got, b := h.query(tok, url.Values{"skip": {"1000"}}, crit); st != 200 || len(got) != 0 || string(b) != "[]" {
		t.Fatalf("skip past end: %d %s", st, b)
	}
	// Sorting by another field with ties stays total (ties by id).
	_, bySize, _ := h.query(tok, url.Values{"sort-by": {"$size"}, "limit": {"100"}}, crit)
	if !slices.IsSortedFunc(bySize, func(a, b resourceJSON) int { return strings.Compare(a.ID, b.ID) }) {
		t.Fatal("equal sizes are not ordered by id")
	}
}

package seedex

import "testing"

func TestExtractSeeds(t *testing.T) {
	for seed, n := range map[string]int{"001": 3, "002": 8} {
		text, err := Seed(seed)
		if err != nil {
			t.Fatal(err)
		}
		r := Extract(text)
		if len(r.Examples) != n || len(r.Skipped) != 0 {
			t.Errorf("seed %s: %d examples (want %d), skipped %q", seed, len(r.Examples), n, r.Skipped)
		}
		for _, ex := range r.Examples {
			t.Logf("seed %s: %s %s", seed, ex.Method, ex.URL)
		}
		for _, s := range r.Skipped {
			t.Logf("seed %s: skipped %s", seed, s)
		}
	}
}

func TestFieldSets(t *testing.T) {
	want := map[string]any{"results": []any{map[string]any{"id": "1", "a": map[string]any{"x": 1.0}}}}
	got := map[string]any{"results": []any{map[string]any{"id": "2"}, map[string]any{"a": map[string]any{"y": 1.0}, "z": true}}}
	m := MissingFields(want, got)
	if len(m) != 1 || m[0] != "results[].a.x" {
		t.Errorf("missing %q", m)
	}
	e := ExtraFields(want, got, "results[].z")
	if len(e) != 1 || e[0] != "results[].a.y" {
		t.Errorf("extra %q", e)
	}
}

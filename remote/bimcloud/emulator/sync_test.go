package emulator

import (
	"slices"
	"testing"
)

func (h *harness) changes(tok string, body map[string]any) syncResponse {
	h.t.Helper()
	st, b := h.api("PUT", "get-blob-changes-for-sync", tok, nil, body)
	var r syncResponse
	h.must(st, b, &r)
	return r
}

func ids(items []syncItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.ID)
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

func TestBlobChangesForSync(t *testing.T) {
	h := newHarness(t, Options{})
	srv, tok := h.srv, h.srv.Token()
	watched := srv.AddFolder(RootID, "Watched")
	inner := srv.AddFolder(watched, "Inner")
	other := srv.AddFolder(RootID, "Other")
	a := srv.AddBlob(watched, "a.txt", Bytes([]byte("a")), "")
	b := srv.AddBlob(inner, "b.txt", Bytes([]byte("b")), "")
	srv.AddBlob(other, "x.txt", Bytes([]byte("x")), "")

	// Revision 0: everything below the folder, recursively, in "created".
	r0 := h.changes(tok, map[string]any{"resourceGroupId": watched, "fromRevision": 0})
	if got := ids(r0.Created); !slices.Equal(got, sorted(a, b)) || len(r0.Updated)+len(r0.Deleted) != 0 {
		t.Fatalf("rev 0: %+v", r0)
	}
	if r0.Created[0].Path != "Project Root/Watched/Inner/b.txt" || r0.Created[0].Revision == nil || r0.Created[0].Timestamp == nil {
		t.Fatalf("rev 0 item: %+v", r0.Created[0])
	}
	// By path gives the same.
	if rp := h.changes(tok, map[string]any{"path": "Project Root/Watched", "resourceGroupId": nil, "fromRevision": 0}); !slices.Equal(ids(rp.Created), ids(r0.Created)) {
		t.Fatalf("by path: %+v", rp)
	}

	// Nothing new: endRevision stays.
	if r := h.changes(tok, map[string]any{"resourceGroupId": watched, "fromRevision": r0.EndRevision}); r.EndRevision != r0.EndRevision ||
		len(r.Created)+len(r.Updated)+len(r.Deleted) != 0 {
		t.Fatalf("no change: %+v", r)
	}

	c := srv.AddBlob(inner, "c.txt", Bytes([]byte("c")), "")
	srv.UpdateBlob(a, Bytes([]byte("a2")))
	srv.DeleteResource(b)
	srv.AddBlob(other, "y.txt", Bytes([]byte("y")), "") // outside the folder
	tmp := srv.AddBlob(watched, "tmp.txt", Bytes(nil), "")
	srv.DeleteResource(tmp)
	srv.UpdateBlob(c, Bytes([]byte("c2"))) // created then updated: reported created

	r1 := h.changes(tok, map[string]any{"resourceGroupId": watched, "fromRevision": r0.EndRevision})
	if !slices.Equal(ids(r1.Created), []string{c}) || !slices.Equal(ids(r1.Updated), []string{a}) ||
		!slices.Equal(ids(r1.Deleted), sorted(b, tmp)) || r1.EndRevision <= r0.EndRevision {
		t.Fatalf("changes: %+v", r1)
	}
	if r1.Deleted[0].Path == "" {
		t.Fatalf("deleted entry without path: %+v", r1.Deleted)
	}

	// Deleting a folder reports its blobs.
	srv.DeleteResource(inner)
	r2 := h.changes(tok, map[string]any{"resourceGroupId": watched, "fromRevision": r1.EndRevision})
	if !slices.Equal(ids(r2.Deleted), []string{c}) {
		t.Fatalf("folder delete: %+v", r2)
	}

	// A restored database: old revisions are refused with 9 until reset.
	srv.ObsoleteRevisions()
	st, body := h.api("PUT", "get-blob-changes-for-sync", tok, nil, map[string]any{"resourceGroupId": watched, "fromRevision": r2.EndRevision})
	h.managerErr(st, body, ErrRevisionObsoleted)
	r3 := h.changes(tok, map[string]any{"resourceGroupId": watched, "fromRevision": 0})
	if !slices.Equal(ids(r3.Created), []string{a}) || r3.EndRevision <= r2.EndRevision {
		t.Fatalf("after reset: %+v", r3)
	}
	r4 := h.changes(tok, map[string]any{"resourceGroupId": watched, "fromRevision": r3.EndRevision})
	if len(r4.Created)+len(r4.Updated)+len(r4.Deleted) != 0 {
		t.Fatalf("after reset, no changes expected: %+v", r4)
	}
	srv.UpdateBlob(a, Bytes([]byte("a3")))
	if r5 := h.changes(tok, map[string]any{"resourceGroupId": watched, "fromRevision": r4.EndRevision}); !slices.Equal(ids(r5.Updated), []string{a}) {
		t.Fatalf("after reset, update: %+v", r5)
	}
}

func TestBlobChangesErrors(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.srv.Token()
	f := h.srv.AddFolder(RootID, "F")
	blob := h.srv.AddBlob(f, "b", Bytes(nil), "")
	cases := []struct {
		name string
		body any
		code int
	}{
		{"neither id nor path", map[string]any{"fromRevision": 0}, ErrEntityValidation},
		{"unknown folder", map[string]any{"resourceGroupId": "nope", "fromRevision": 0}, ErrEntityNotFound},
		{"unknown path", map[string]any{"path": "Project Root/nope", "fromRevision": 0}, ErrEntityNotFound},
		{"blob instead of folder", map[string]any{"resourceGroupId": blob, "fromRevision": 0}, ErrEntityNotFound},
		{"negative revision", map[string]any{"resourceGroupId": f, "fromRevision": -1}, ErrEntityValidation},
		{"fractional revision", map[string]any{"resourceGroupId": f, "fromRevision": 1.5}, ErrEntityValidation},
		{"revision from the future", map[string]any{"resourceGroupId": f, "fromRevision": 1e6}, ErrRevisionObsoleted},
	}
	for _, c := range cases {
		st, b := h.api("PUT", "get-blob-changes-for-sync", tok, nil, c.body)
		if st != StatusBIMcloudError {
			t.Errorf("%s: %d %s", c.name, st, b)
			continue
		}
		h.managerErr(st, b, c.code)
	}
	// The root works by ID and by path.
	if r := h.changes(tok, map[string]any{"resourceGroupId": RootID, "fromRevision": 0}); len(r.Created) != 1 {
		t.Fatalf("root: %+v", r)
	}
	if r := h.changes(tok, map[string]any{"path": RootName, "fromRevision": 0}); len(r.Created) != 1 {
		t.Fatalf("root by path: %+v", r)
	}
}

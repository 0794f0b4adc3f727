package emulator

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestInsertResourceGroup(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.srv.Token()
	site := h.srv.AddFolder(RootID, "Site")
	insert := func(parent string, body any) (int, []byte) {
		q := url.Values{}
		if parent != "" {
			q.Set("parent-id", parent)
		}
		ctx := context.Background()
		if g, ok := body.(groupRequest); ok && g.Type != typeGroup {
			ctx = withInvalidRequest(ctx) // the spec's pattern refuses it too
		}
		return h.apiCtx(ctx, "POST", "insert-resource-group", tok, q, body)
	}

	st, b := insert(RootID, groupRequest{Name: "folder2", Type: "resourceGroup"})
	var id string
	h.must(st, b, &id) // a bare JSON string
	r := h.resource(tok, id)
	if r.Type != typeGroup || r.Name != "folder2" || r.Path != "Project Root/folder2" || r.ParentID != RootID || r.Size != nil {
		t.Fatalf("created folder: %+v", r)
	}
	st, b = insert(site, groupRequest{Name: "Ünïcødé & spaces", Type: "resourceGroup"})
	h.must(st, b, &id)
	if r := h.resource(tok, id); r.Path != "Project Root/Site/Ünïcødé & spaces" || r.ParentID != site {
		t.Fatalf("nested folder: %+v", r)
	}

	for _, tc := range []struct {
		name   string
		parent string
		body   any
		code   int
	}{
		{"sibling name taken", RootID, groupRequest{Name: "folder2", Type: "resourceGroup"}, ErrEntityExists},
		{"name with colon", RootID, groupRequest{Name: "a:b", Type: "resourceGroup"}, ErrEntityValidation},
		{"name with slash", RootID, groupRequest{Name: "a/b", Type: "resourceGroup"}, ErrEntityValidation},
		{"empty name", RootID, groupRequest{Name: "", Type: "resourceGroup"}, ErrEntityValidation},
		{"wrong type", RootID, groupRequest{Name: "x", Type: "blob"}, ErrEntityValidation},
		{"unknown parent", "8b4989f6-8c31-12f9-1ae0-75b1da4142fd", groupRequest{Name: "x", Type: "resourceGroup"}, ErrEntityNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, b := insert(tc.parent, tc.body)
			h.managerErr(st, b, tc.code)
		})
	}
	if h.srv.Counters()["insert-resource-group"] != 8 {
		t.Fatalf("counters %v", h.srv.Counters())
	}
}

func TestDeleteResourceGroupAndBlob(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.srv.Token()
	full := h.srv.AddFolder(RootID, "Full")
	blob := h.srv.AddBlob(full, "a.txt", Bytes([]byte("a")), "")
	empty := h.srv.AddFolder(RootID, "Empty")
	start := h.changes(tok, map[string]any{"path": RootName, "fromRevision": 0}).EndRevision

	q := func(id string) url.Values { return url.Values{"resource-id": {id}} }
	st, b := h.api("DELETE", "delete-resource-group", tok, q(full), nil)
	h.managerErr(st, b, ErrProhibitDelete)
	st, b = h.api("DELETE", "delete-resource-group", tok, q(blob), nil)
	h.managerErr(st, b, ErrEntityNotFound)
	st, b = h.api("DELETE", "delete-resource-group", tok, q(RootID), nil)
	h.managerErr(st, b, ErrNotAllowed)
	st, b = h.api("DELETE", "delete-blob", tok, q(full), nil)
	h.managerErr(st, b, ErrEntityNotFound)

	st, b = h.api("DELETE", "delete-resource-group", tok, q(empty), nil)
	h.must(st, b, nil)
	if string(b) != "{}" {
		t.Fatalf("delete-resource-group answered %s", b)
	}
	st, b = h.api("DELETE", "delete-blob", tok, q(blob), nil)
	h.must(st, b, nil)
	st, b = h.api("DELETE", "delete-resource-group", tok, q(full), nil)
	h.must(st, b, nil)
	for _, id := range []string{full, blob, empty} {
		st, b := h.api("GET", "get-resource", tok, url.Values{"resource-id": {id}}, nil)
		h.managerErr(st, b, ErrEntityNotFound)
	}
	ch := h.changes(tok, map[string]any{"path": RootName, "fromRevision": start})
	if len(ch.Deleted) != 1 || ch.Deleted[0].ID != blob || ch.Deleted[0].Path != "Project Root/Full/a.txt" {
		t.Fatalf("change feed after deletes: %+v", ch)
	}
}

func TestUpdateBlobRenames(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.srv.Token()
	dir := h.srv.AddFolder(RootID, "D")
	blob := h.srv.AddBlob(dir, "text1.txt", Bytes([]byte("hello")), "")
	h.srv.AddBlob(dir, "taken.txt", Bytes(nil), "")
	before := h.resource(tok, blob)
	start := h.changes(tok, map[string]any{"path": RootName, "fromRevision": 0}).EndRevision

	st, b := h.api("PUT", "update-blob", tok, nil, map[string]any{"id": blob, "name": "text1_rename.txt", "type": "blob"})
	h.must(st, b, nil)
	if string(b) != "{}" {
		t.Fatalf("update-blob answered %s", b)
	}
	after := h.resource(tok, blob)
	if after.Name != "text1_rename.txt" || after.Path != "Project Root/D/text1_rename.txt" || after.ModifiedDate != before.ModifiedDate {
		t.Fatalf("renamed blob %+v (before %+v)", after, before)
	}
	// POST is no verb of update-blob (spec and demo both say PUT).
	if st, b = h.api("POST", "update-blob", tok, nil, map[string]any{"id": blob, "name": "again.txt"}); st != http.StatusNotFound {
		t.Fatalf("POST update-blob answered %d %s", st, b)
	}
	// The demo's body has no type.
	st, b = h.api("PUT", "update-blob", tok, nil, map[string]any{"id": blob, "name": "again.txt"})
	h.must(st, b, nil)

	for _, tc := range []struct {
		name string
		body map[string]any
		code int
	}{
		{"name taken", map[string]any{"id": blob, "name": "taken.txt", "type": "blob"}, ErrEntityExists},
		{"bad name", map[string]any{"id": blob, "name": "a?b", "type": "blob"}, ErrEntityValidation},
		{"folder id", map[string]any{"id": dir, "name": "x", "type": "blob"}, ErrEntityNotFound},
		{"wrong type", map[string]any{"id": blob, "name": "x", "type": "resourceGroup"}, ErrEntityValidation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.body["type"] != "blob" {
				ctx = withInvalidRequest(ctx) // the spec's pattern refuses it too
			}
			st, b := h.apiCtx(ctx, "PUT", "update-blob", tok, nil, tc.body)
			h.managerErr(st, b, tc.code)
		})
	}
	ch := h.changes(tok, map[string]any{"path": RootName, "fromRevision": start})
	if len(ch.Updated) != 1 || ch.Updated[0].ID != blob || ch.Updated[0].Path != "Project Root/D/again.txt" {
		t.Fatalf("change feed after renames: %+v", ch)
	}
}

func TestUpdateBlobParentMoves(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.srv.Token()
	a := h.srv.AddFolder(RootID, "A")
	bdir := h.srv.AddFolder(a, "B")
	blob := h.srv.AddBlob(bdir, "text2.txt", Bytes([]byte("x")), "")
	h.srv.AddBlob(RootID, "text2.txt", Bytes(nil), "")
	q := url.Values{"blob-id": {blob}}

	// managerapi.py: POST with parentPath; refused by a spec-strict server,
	// served with AcceptDemoForms.
	st, b := h.api("POST", "update-blob-parent", tok, q, map[string]any{"parentPath": "Project Root/A"})
	if st != http.StatusNotFound {
		t.Fatalf("strict server: POST update-blob-parent answered %d %s", st, b)
	}
	if r := h.resource(tok, blob); r.ParentID != bdir {
		t.Fatalf("a refused call moved the blob: %+v", r)
	}
	o := h.srv.Options()
	o.AcceptDemoForms = true
	h.srv.SetOptions(o)
	st, b = h.api("POST", "update-blob-parent", tok, q, map[string]any{"parentPath": "Project Root/A"})
	var ok bool
	h.must(st, b, &ok)
	if r := h.resource(tok, blob); !ok || r.ParentID != a || r.Path != "Project Root/A/text2.txt" {
		t.Fatalf("moved by path: %v %+v", ok, r)
	}
	// The spec: PUT with parentId; moving to the same parent is true too.
	for range 2 {
		st, b = h.api("PUT", "update-blob-parent", tok, q, map[string]any{"parentId": bdir, "parentPath": nil})
		h.must(st, b, &ok)
		if r := h.resource(tok, blob); !ok || r.ParentID != bdir {
			t.Fatalf("moved by id: %v %+v", ok, r)
		}
	}
	for _, tc := range []struct {
		name string
		q    url.Values
		body map[string]any
		code int
	}{
		{"name taken in target", q, map[string]any{"parentId": RootID}, ErrEntityExists},
		{"unknown parent", q, map[string]any{"parentPath": "Project Root/nope"}, ErrEntityNotFound},
		{"blob as parent", q, map[string]any{"parentId": blob}, ErrEntityNotFound},
		{"neither field", q, map[string]any{}, ErrEntityValidation},
		{"both fields", q, map[string]any{"parentId": a, "parentPath": "Project Root/A"}, ErrEntityValidation},
		{"unknown blob", url.Values{"blob-id": {a}}, map[string]any{"parentId": RootID}, ErrEntityNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, b := h.api("PUT", "update-blob-parent", tok, tc.q, tc.body)
			h.managerErr(st, b, tc.code)
		})
	}
}

func (h *harness) job(tok, method, op, id string) (int, jobJSON, []byte) {
	h.t.Helper()
	st, b := h.api(method, op, tok, url.Values{"job-id": {id}}, nil)
	var j jobJSON
	if st == 200 {
		h.must(st, b, &j)
	}
	return st, j, b
}

func TestDeleteJobs(t *testing.T) {
	h := newHarness(t, Options{})
	srv := h.srv
	tok := srv.Token()
	tree := srv.AddFolder(RootID, "example_root")
	sub := srv.AddFolder(tree, "sub1")
	srv.AddFolder(sub, "sub1_sub1")
	blob := srv.AddBlob(sub, "f.bin", Synthetic(1, 10), "")
	start := h.changes(tok, map[string]any{"path": RootName, "fromRevision": 0}).EndRevision

	st, b := h.api("POST", "delete-resources-by-id-list", tok, nil, map[string]any{"ids": []string{tree}})
	var j jobJSON
	h.must(st, b, &j)
	if j.Status != JobStarting || j.JobType != "destroyResources" || !j.Abortable || j.AuthorID == nil || j.Progress.Max != 1 {
		t.Fatalf("new job %s", b)
	}
	// workflow.py polls until completed or failed.
	var seen []string
	for range 5 {
		_, j, _ = h.job(tok, "GET", "get-job", j.ID)
		seen = append(seen, j.Status)
		if j.Status == JobCompleted || j.Status == JobFailed {
			break
		}
	}
	if len(seen) != 2 || seen[0] != JobRunning || seen[1] != JobCompleted || j.ResultCode == nil || *j.ResultCode != "0" ||
		j.Progress.Current != 1 || j.Abortable {
		t.Fatalf("job states %v, last %+v", seen, j)
	}
	if _, ok := srv.Lookup("Project Root/example_root"); ok {
		t.Fatal("folder still there after the job completed")
	}
	ch := h.changes(tok, map[string]any{"path": RootName, "fromRevision": start})
	if len(ch.Deleted) != 1 || ch.Deleted[0].ID != blob {
		t.Fatalf("feed after recursive delete: %+v", ch)
	}
	// Finished jobs stay for a while, then disappear: error 6.
	if st, j2, _ := h.job(tok, "GET", "get-job", j.ID); st != 200 || j2.Status != JobCompleted {
		t.Fatalf("finished job: %d %+v", st, j2)
	}
	st, b = h.api("POST", "abort-job", tok, url.Values{"job-id": {j.ID}}, nil)
	var aborted bool
	h.must(st, b, &aborted)
	if aborted {
		t.Fatal("abort of a completed job answered true")
	}
	srv.ExpireJobs()
	st, _, b = h.job(tok, "GET", "get-job", j.ID)
	h.managerErr(st, b, ErrEntityNotFound)
	st, b = h.api("POST", "abort-job", tok, url.Values{"job-id": {j.ID}}, nil)
	h.managerErr(st, b, ErrEntityNotFound)

	// Abort: nothing is deleted; the job ends aborted.
	keep := srv.AddFolder(RootID, "keep")
	st, b = h.api("POST", "delete-resources-by-id-list", tok, nil, []string{keep}) // bare array (emulator)
	h.must(st, b, &j)
	st, b = h.api("POST", "abort-job", tok, url.Values{"job-id": {j.ID}}, nil)
	h.must(st, b, &aborted)
	if !aborted {
		t.Fatal("abort of a starting job answered false")
	}
	if _, j, _ = h.job(tok, "GET", "get-job", j.ID); j.Status != JobAborted {
		t.Fatalf("aborted job: %+v", j)
	}
	if _, ok := srv.Lookup("Project Root/keep"); !ok {
		t.Fatal("aborted job deleted its resource")
	}

	// A resource that vanishes before the job runs fails the job.
	gone := srv.AddBlob(RootID, "gone.txt", Bytes(nil), "")
	other := srv.AddBlob(RootID, "other.txt", Bytes(nil), "")
	st, b = h.api("POST", "delete-resources-by-id-list", tok, nil, idList{IDs: []string{gone, other}})
	h.must(st, b, &j)
	srv.DeleteResource(gone)
	h.job(tok, "GET", "get-job", j.ID)
	if _, j, _ = h.job(tok, "GET", "get-job", j.ID); j.Status != JobFailed || j.ResultCode == nil || *j.ResultCode != "6" || j.Result == nil {
		t.Fatalf("job with a vanished resource: %+v", j)
	}
	if _, ok := srv.Blob(other); ok {
		t.Fatal("the resource that still existed was not deleted")
	}

	for _, tc := range []struct {
		name string
		body any
		code int
	}{
		{"unknown id", idList{IDs: []string{"00000000-0000-4000-8000-000000000000"}}, ErrEntityNotFound},
		{"root", idList{IDs: []string{RootID}}, ErrNotAllowed},
		{"no ids", idList{}, ErrEntityValidation},
		{"not json", []byte("ids=1"), ErrEntityValidation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, b := h.api("POST", "delete-resources-by-id-list", tok, nil, tc.body)
			h.managerErr(st, b, tc.code)
		})
	}
}

// TestJobFinishesUnpolled checks a job nobody polls still runs.
func TestJobFinishesUnpolled(t *testing.T) {
	h := newHarness(t, Options{JobDuration: time.Millisecond})
	tok := h.srv.Token()
	f := h.srv.AddFolder(RootID, "f")
	st, b := h.api("POST", "delete-resources-by-id-list", tok, nil, idList{IDs: []string{f}})
	var j jobJSON
	h.must(st, b, &j)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := h.srv.Lookup("Project Root/f"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("unpolled job never ran")
		}
		time.Sleep(time.Millisecond)
	}
	if _, j, _ = h.job(tok, "GET", "get-job", j.ID); j.Status != JobCompleted {
		t.Fatalf("job after its own completion: %+v", j)
	}
}

func TestInjectedWriteErrors(t *testing.T) {
	h := newHarness(t, Options{})
	tok := h.srv.Token()
	blob := h.srv.AddBlob(RootID, "a.txt", Bytes(nil), "")
	for _, tc := range []struct {
		op, method string
		q          url.Values
		body       any
	}{
		{"insert-resource-group", "POST", url.Values{"parent-id": {RootID}}, groupRequest{Name: "x", Type: "resourceGroup"}},
		{"delete-resource-group", "DELETE", url.Values{"resource-id": {RootID}}, nil},
		{"delete-blob", "DELETE", url.Values{"resource-id": {blob}}, nil},
		{"update-blob", "PUT", nil, map[string]any{"id": blob, "name": "b.txt"}},
		{"update-blob-parent", "PUT", url.Values{"blob-id": {blob}}, map[string]any{"parentId": RootID}},
		{"delete-resources-by-id-list", "POST", nil, idList{IDs: []string{blob}}},
		{"get-job", "GET", url.Values{"job-id": {"x"}}, nil},
		{"abort-job", "POST", url.Values{"job-id": {"x"}}, nil},
	} {
		h.srv.InjectError(tc.op, ErrAccessDenied, 1)
		st, b := h.api(tc.method, tc.op, tok, tc.q, tc.body)
		h.managerErr(st, b, ErrAccessDenied)
		if _, ok := h.srv.Blob(blob); !ok {
			t.Fatalf("%s: an injected error still changed the tree", tc.op)
		}
	}
	if n := h.srv.Counters()["fault.injected"]; n != 8 {
		t.Fatalf("fault.injected = %d", n)
	}
}

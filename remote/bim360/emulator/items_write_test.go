package emulator

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func TestCreateItemRefusals(t *testing.T) {
	f := newWriteFixture(t, Options{MinPartSize: 1})
	createFile(f.c, f.pid, f.files, "taken.txt", []byte("x"))
	ro := f.s.AddFolder(f.pid, f.files, "Read only")
	f.s.SetFolderReadOnly(f.pid, ro)
	roSub := f.s.AddFolder(f.pid, ro, "Below")
	gone := f.s.AddFolder(f.pid, f.files, "Deleted")
	f.s.HideFolder(f.pid, gone)
	other := f.s.AddProject(f.s.AddHub("H2"), "Other")
	otherFolder := f.s.TopFolder(other, "Project Files")
	// A reserved but never uploaded storage object.
	pending, _, _ := createStorage(f.c, f.pid, f.files, "pending.txt")

	for _, tc := range []struct {
		name   string
		body   func(sid string) obj
		ctype  string
		status int
		code   string
		detail string
	}{
		{"name taken", func(sid string) obj { return itemBody(f.files, "taken.txt", sid) }, "", 409, "CONFLICT", msgNameConflict},
		{"project root", func(sid string) obj { return itemBody(f.s.RootFolder(f.pid), "a.txt", sid) }, "", 403, "BIM360DM_ERROR", "root folder"},
		{"read-only folder", func(sid string) obj { return itemBody(ro, "a.txt", sid) }, "", 403, "BIM360DM_ERROR", "permission"},
		{"below a read-only folder", func(sid string) obj { return itemBody(roSub, "a.txt", sid) }, "", 403, "BIM360DM_ERROR", "permission"},
		{"deleted folder", func(sid string) obj { return itemBody(gone, "a.txt", sid) }, "", 404, "NOT_FOUND", ""},
		{"unknown folder", func(sid string) obj { return itemBody("urn:adsk.wipprod:fs.folder:co.nope", "a.txt", sid) }, "", 404, "NOT_FOUND", ""},
		{"other project's folder", func(sid string) obj { return itemBody(otherFolder, "a.txt", sid) }, "", 400, "BAD_INPUT", "another project"},
		{"reserved character", func(sid string) obj { return itemBody(f.files, "a?.txt", sid) }, "", 400, "BAD_INPUT", "reserved character '?'"},
		{"not uploaded", func(string) obj { return itemBody(f.files, "a.txt", pending) }, "", 400, "BAD_INPUT", "has no content"},
		{"unknown storage", func(string) obj { return itemBody(f.files, "a.txt", storagePrefix+"wip.dm.prod/nope.txt") }, "", 404, "NOT_FOUND", ""},
		{"core extension", func(sid string) obj {
			b := itemBody(f.files, "a.txt", sid)
			b["data"].(obj)["attributes"].(obj)["extension"] = obj{"type": "items:autodesk.core:File", "version": "1.0"}
			return b
		}, "", 400, "BAD_INPUT", extItem},
		{"tip does not match included", func(sid string) obj {
			b := itemBody(f.files, "a.txt", sid)
			b["data"].(obj)["relationships"].(obj)["tip"] = ref("versions", "2")
			return b
		}, "", 400, "BAD_INPUT", "included"},
		{"no jsonapi member", func(sid string) obj {
			b := itemBody(f.files, "a.txt", sid)
			delete(b, "jsonapi")
			return b
		}, "", 400, "BAD_INPUT", "jsonapi"},
		{"form content type", func(sid string) obj { return itemBody(f.files, "a.txt", sid) }, "application/x-www-form-urlencoded", 400, "BAD_INPUT", "Content-Type"},
		{"application/json is accepted", func(sid string) obj { return itemBody(f.files, "json.txt", sid) }, "application/json", 201, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sid := uploadParts(f.c, f.pid, f.files, "a.txt", [][]byte{[]byte("data")})
			ct := vndJSON
			if tc.ctype != "" {
				ct = tc.ctype
			}
			resp, b := f.c.send(http.MethodPost, projPath(f.pid, "/items"), tc.body(sid), ct)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if tc.status == 201 {
				return
			}
			code, detail := dmErr(t, b)
			if code != tc.code || !strings.Contains(detail, tc.detail) {
				t.Errorf("error %s %q, want %s with %q", code, detail, tc.code, tc.detail)
			}
		})
	}
	// Nothing but the one accepted item was created.
	var names []string
	for _, ch := range f.s.Children(f.pid, f.files) {
		if ch.Type == "items" {
			names = append(names, ch.Name)
		}
	}
	if strings.Join(names, ",") != "taken.txt,json.txt" {
		t.Errorf("items = %v", names)
	}
	// A token without data:create may not create items.
	tok, _ := f.s.issueAccess(f.s.Options(), demoUserID, "data:read data:write", true)
	rc := &client{t: t, s: f.s, token: tok, hc: http.DefaultClient}
	if resp, _ := rc.send(http.MethodPost, projPath(f.pid, "/items"), itemBody(f.files, "z.txt", pending), vndJSON); resp.StatusCode != 403 {
		t.Errorf("token without data:create: %d", resp.StatusCode)
	}
}

func TestCreateItemCopyFrom(t *testing.T) {
	f := newWriteFixture(t, Options{})
	src := f.s.AddFile(f.pid, f.files, "spec.pdf", Bytes([]byte("source bytes")))
	srcV := f.s.TipVersion(f.pid, src)
	dst := f.s.AddFolder(f.pid, f.files, "Copies")
	copyBody := func(folder, name string) obj {
		b := itemBody(folder, name, "")
		inc := b["included"].([]obj)[0]
		delete(inc, "relationships")
		if name == "" {
			delete(b["data"].(obj)["attributes"].(obj), "displayName")
			delete(inc["attributes"].(obj), "name")
		}
		return b
	}
	path := projPath(f.pid, "/items?copyFrom="+url.QueryEscape(srcV))
	var out wireOne
	f.c.sendJSON(http.MethodPost, path, copyBody(dst, ""), 201, &out)
	if out.Data.str("displayName") != "spec.pdf" || out.Data.rel("parent") != dst {
		t.Fatalf("copy = %+v", out.Data)
	}
	if out.Included[0].rel("storage") == f.s.StorageID(f.pid, srcV) || out.Included[0].rel("storage") == "" {
		t.Errorf("the copy must get its own storage object, got %q", out.Included[0].rel("storage"))
	}
	if got, _ := f.s.ReadTip(f.pid, out.Data.ID); string(got) != "source bytes" {
		t.Errorf("copied content %q", got)
	}
	out = wireOne{}
	f.c.sendJSON(http.MethodPost, path, copyBody(dst, "renamed.pdf"), 201, &out)
	if out.Data.str("displayName") != "renamed.pdf" {
		t.Errorf("name override: %q", out.Data.str("displayName"))
	}
	if resp, b := f.c.send(http.MethodPost, path, copyBody(dst, ""), vndJSON); resp.StatusCode != 409 {
		t.Errorf("copy onto a taken name: %d %s", resp.StatusCode, b)
	}
	other := f.s.AddProject(f.s.AddHub("H2"), "Other")
	if resp, b := f.c.send(http.MethodPost, projPath(other, "/items?copyFrom="+url.QueryEscape(srcV)), copyBody(f.s.TopFolder(other, "Project Files"), ""), vndJSON); resp.StatusCode != 400 {
		t.Errorf("cross-project copy: %d %s", resp.StatusCode, b)
	}
	f.s.DeleteItem(f.pid, src)
	delV := f.s.TipVersion(f.pid, src)
	if resp, b := f.c.send(http.MethodPost, projPath(f.pid, "/items?copyFrom="+url.QueryEscape(delV)), copyBody(dst, "x.pdf"), vndJSON); resp.StatusCode != 400 {
		t.Errorf("copy of a Deleted version: %d %s", resp.StatusCode, b)
	}
}

var guidName = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestCreateVersionUploadRenameDeleteRestore(t *testing.T) {
	f := newWriteFixture(t, Options{})
	it := createFile(f.c, f.pid, f.files, "plan.dwg", []byte("v1"))
	createFile(f.c, f.pid, f.files, "other.dwg", []byte("other"))
	versions := projPath(f.pid, "/versions")

	// A new version from a new upload (storage targeted at the item).
	sid := func(name, data string) string {
		var st struct {
			Data struct {
				ID            string `json:"id"`
				Relationships struct {
					Target struct {
						Data typeID `json:"data"`
					} `json:"target"`
				} `json:"relationships"`
			} `json:"data"`
		}
		body := storageBody(it, name)
		body["data"].(obj)["relationships"] = obj{"target": ref("items", it)}
		f.c.sendJSON(http.MethodPost, projPath(f.pid, "/storage"), body, 201, &st)
		if st.Data.Relationships.Target.Data.ID != f.files {
			t.Fatalf("storage target = %+v, want the item's folder", st.Data.Relationships.Target.Data)
		}
		bucket, key, _ := strings.Cut(strings.TrimPrefix(st.Data.ID, storagePrefix), "/")
		var u uploadURLs
		f.c.getJSON(uploadPath(bucket, key, ""), 200, &u)
		f.c.putPart(u.URLs[0], []byte(data))
		f.c.complete(bucket, key, obj{"uploadKey": u.UploadKey}, 200)
		return st.Data.ID
	}
	var out wireOne
	post := func(path string, body obj) wireOne {
		t.Helper()
		out := wireOne{}
		f.c.sendJSON(http.MethodPost, path, body, 201, &out)
		return out
	}
	out = post(versions, versionBody(it, "plan.dwg", sid("plan.dwg", "v2")))
	if out.Data.Type != "versions" || out.Data.Attributes["versionNumber"] != float64(2) || len(out.Included) != 1 || out.Included[0].ID != it {
		t.Fatalf("created version = %+v", out)
	}
	// Rename = a new version with a new name; a taken name is refused.
	post(versions, versionBody(it, "plan B.dwg", sid("plan B.dwg", "v3")))
	if resp, b := f.c.send(http.MethodPost, versions, versionBody(it, "other.dwg", sid("other.dwg", "v4")), vndJSON); resp.StatusCode != 409 {
		t.Errorf("rename onto a taken name: %d %s", resp.StatusCode, b)
	}
	if got, _ := f.s.ReadTip(f.pid, it); string(got) != "v3" || f.s.FindChild(f.pid, f.files, "plan B.dwg") != it {
		t.Errorf("after rename: %q", got)
	}
	// A locked item refuses new versions.
	f.s.LockItem(f.pid, it)
	if resp, b := f.c.send(http.MethodPost, versions, deleteBody(it, "plan B.dwg"), vndJSON); resp.StatusCode != 423 {
		t.Errorf("locked: %d %s", resp.StatusCode, b)
	}
	f.s.UnlockItem(f.pid, it)

	// The delete tutorial's body has no name: a spec-strict server refuses
	// it (400) without touching the item.
	if resp, b := f.c.send(http.MethodPost, versions, tutorialDeleteBody(it), vndJSON); resp.StatusCode != 400 {
		t.Errorf("Deleted version without a name: %d %s", resp.StatusCode, b)
	}
	// Delete: a Deleted tip without storage, named by a GUID; the item
	// leaves the default listing.
	out = post(versions, deleteBody(it, "plan B.dwg"))
	if out.Data.rel("storage") != "" || !guidName.MatchString(out.Data.str("name")) || out.Included[0].Attributes["hidden"] != true {
		t.Errorf("Deleted version = %+v", out)
	}
	rows, _, _ := listAll(f.c, contentsPath(f.pid, f.files))
	for _, r := range rows {
		if r.ID == it {
			t.Error("deleted item still listed")
		}
	}
	if resp, _ := f.c.send(http.MethodPost, versions, deleteBody(it, "plan B.dwg"), vndJSON); resp.StatusCode != 409 {
		t.Errorf("deleting twice: %d", resp.StatusCode)
	}
	vs := f.s.ItemVersions(f.pid, it)
	if len(vs) != 4 || !vs[3].Deleted || vs[2].Name != "plan B.dwg" || vs[2].Size != 2 {
		t.Fatalf("versions = %+v", vs)
	}
	// Restore: copyFrom the version before the Deleted one, with the
	// tutorial's bare body.
	restore := projPath(f.pid, "/versions?copyFrom="+url.QueryEscape(vs[2].ID))
	out = post(restore, obj{"data": obj{"type": "versions"}})
	if out.Data.str("name") != "plan B.dwg" || out.Included[0].Attributes["hidden"] != false {
		t.Errorf("restored = %+v", out)
	}
	if got, _ := f.s.ReadTip(f.pid, it); string(got) != "v3" {
		t.Errorf("restored content %q", got)
	}
	if resp, _ := f.c.send(http.MethodPost, projPath(f.pid, "/versions?copyFrom="+url.QueryEscape(vs[3].ID)), obj{"data": obj{"type": "versions"}}, vndJSON); resp.StatusCode != 400 {
		t.Errorf("copyFrom a Deleted version: %d", resp.StatusCode)
	}
}

func TestCreateVersionCopyFromAnotherItem(t *testing.T) {
	f := newWriteFixture(t, Options{})
	a := f.s.AddFile(f.pid, f.files, "a.txt", Bytes([]byte("content of a")))
	b := f.s.AddFile(f.pid, f.files, "b.txt", Bytes([]byte("content of b")))
	// rename a.txt over b.txt: b gets a's content as a new version ...
	body := obj{"jsonapi": obj{"version": "1.0"}, "data": obj{"type": "versions",
		"attributes":    obj{"name": "b.txt", "extension": obj{"type": extVersion, "version": "1.0"}},
		"relationships": obj{"item": ref("items", b)}}}
	var out wireOne
	f.c.sendJSON(http.MethodPost, projPath(f.pid, "/versions?copyFrom="+url.QueryEscape(f.s.TipVersion(f.pid, a))), body, 201, &out)
	if out.Included[0].ID != b || out.Data.Attributes["versionNumber"] != float64(2) {
		t.Fatalf("copy = %+v", out)
	}
	// ... and a is deleted.
	f.c.sendJSON(http.MethodPost, projPath(f.pid, "/versions"), deleteBody(a, "a.txt"), 201, nil)
	if got, _ := f.s.ReadTip(f.pid, b); string(got) != "content of a" {
		t.Errorf("b = %q", got)
	}
	ch := f.s.Children(f.pid, f.files)
	if len(ch) != 2 || !ch[0].Hidden || ch[1].Hidden || ch[1].Name != "b.txt" || ch[1].VersionCount != 2 {
		t.Errorf("children = %+v", ch)
	}
	// Without a name the copy keeps the source's name, which is taken.
	delete(body["data"].(obj)["attributes"].(obj), "name")
	c := f.s.AddFile(f.pid, f.files, "c.txt", Bytes([]byte("c")))
	if resp, _ := f.c.send(http.MethodPost, projPath(f.pid, "/versions?copyFrom="+url.QueryEscape(f.s.TipVersion(f.pid, c))), body, vndJSON); resp.StatusCode != 409 {
		t.Errorf("copy keeping a taken name: %d", resp.StatusCode)
	}
	if resp, _ := f.c.send(http.MethodPost, projPath(f.pid, "/versions?copyFrom=urn%3Anope"), body, vndJSON); resp.StatusCode != 404 {
		t.Errorf("unknown copyFrom: %d", resp.StatusCode)
	}
}

// TestDeleteTutorialFormWithDemoForms: AcceptDemoForms takes the delete
// tutorial's body, which has no attributes.name.
func TestDeleteTutorialFormWithDemoForms(t *testing.T) {
	f := newWriteFixture(t, Options{AcceptDemoForms: true})
	a := f.s.AddFile(f.pid, f.files, "a.txt", Bytes([]byte("a")))
	f.c.sendJSON(http.MethodPost, projPath(f.pid, "/versions"), tutorialDeleteBody(a), 201, nil)
	if vs := f.s.ItemVersions(f.pid, a); len(vs) != 2 || !vs[1].Deleted {
		t.Fatalf("versions after delete: %+v", vs)
	}
}

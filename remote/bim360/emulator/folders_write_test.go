package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestCreateFolder(t *testing.T) {
	f := newWriteFixture(t, Options{})
	var out wireOne
	f.c.sendJSON(http.MethodPost, projPath(f.pid, "/folders"), folderBody(f.files, "Drawings"), 201, &out)
	if out.Data.Type != "folders" || out.Data.str("name") != "Drawings" || out.Data.rel("parent") != f.files || out.Links["self"].Href == "" {
		t.Fatalf("created = %+v", out)
	}
	newID := out.Data.ID
	var got wireOne
	f.c.getJSON(projPath(f.pid, "/folders/"+encodeID(newID)), 200, &got)
	if got.Data.str("name") != "Drawings" {
		t.Errorf("GET folder = %+v", got.Data)
	}
	// A hidden (deleted) sibling's name may be reused.
	gone := f.s.AddFolder(f.pid, f.files, "Old")
	f.s.HideFolder(f.pid, gone)
	f.c.sendJSON(http.MethodPost, projPath(f.pid, "/folders"), folderBody(f.files, "Old"), 201, nil)

	ro := f.s.AddFolder(f.pid, f.files, "Locked down")
	f.s.SetFolderReadOnly(f.pid, ro)
	roChild := f.s.AddFolder(f.pid, ro, "Child")
	// A chain reaching level 25 (Project Files is level 1).
	deep, level24 := f.files, ""
	for i := 2; i <= 25; i++ {
		level24 = deep
		deep = f.s.AddFolder(f.pid, deep, fmt.Sprintf("L%d", i))
	}
	other := f.s.AddProject(f.s.AddHub("H2"), "Other")

	for _, tc := range []struct {
		name   string
		body   obj
		status int
		code   string
		detail string
	}{
		{"sibling name taken", folderBody(f.files, "Drawings"), 409, "CONFLICT", "already exists"},
		{"project root", folderBody(f.s.RootFolder(f.pid), "X"), 403, "BIM360DM_ERROR", "root folder"},
		{"read-only parent", folderBody(ro, "X"), 403, "BIM360DM_ERROR", "permission"},
		{"read-only inherited", folderBody(roChild, "X"), 403, "BIM360DM_ERROR", "permission"},
		{"deleted parent", folderBody(gone, "X"), 404, "NOT_FOUND", ""},
		{"unknown parent", folderBody("urn:adsk.wipprod:fs.folder:co.none", "X"), 404, "NOT_FOUND", ""},
		{"parent in another project", folderBody(f.s.TopFolder(other, "Plans"), "X"), 400, "BAD_INPUT", "another project"},
		{"level 26", folderBody(deep, "Too deep"), 400, "BAD_INPUT", "25 levels"},
		{"empty name", folderBody(f.files, ""), 400, "BAD_INPUT", "1-255"},
		{"256 characters", folderBody(f.files, strings.Repeat("é", 256)), 400, "BAD_INPUT", "1-255"},
		{"core extension", func() obj {
			b := folderBody(f.files, "X")
			b["data"].(obj)["attributes"].(obj)["extension"] = obj{"type": extFolderCore, "version": "1.0"}
			return b
		}(), 400, "BAD_INPUT", extFolder},
		{"no extension", func() obj {
			b := folderBody(f.files, "X")
			delete(b["data"].(obj)["attributes"].(obj), "extension")
			return b
		}(), 400, "BAD_INPUT", "extension"},
		{"not JSON", nil, 400, "BAD_INPUT", "JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any = tc.body
			if tc.body == nil {
				body = "{not json"
			}
			resp, b := f.c.send(http.MethodPost, projPath(f.pid, "/folders"), body, vndJSON)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			code, detail := dmErr(t, b)
			if code != tc.code || !strings.Contains(detail, tc.detail) {
				t.Errorf("error %s %q, want %s with %q", code, detail, tc.code, tc.detail)
			}
		})
	}
	// Level 25 itself is allowed, and so are 255 characters.
	f.c.sendJSON(http.MethodPost, projPath(f.pid, "/folders"), folderBody(level24, "level 25"), 201, nil)
	f.c.sendJSON(http.MethodPost, projPath(f.pid, "/folders"), folderBody(f.files, strings.Repeat("é", 255)), 201, nil)
}

func TestFolderNameRules(t *testing.T) {
	f := newWriteFixture(t, Options{})
	for _, r := range []string{"<", ">", ":", `"`, "/", `\`, "|", "?", "*", "`", "\n", "\r", "\t", "\x00", "\f"} {
		resp, b := f.c.send(http.MethodPost, projPath(f.pid, "/folders"), folderBody(f.files, "a"+r+"b"), vndJSON)
		if resp.StatusCode != 400 {
			t.Errorf("%q: %d %s", r, resp.StatusCode, b)
			continue
		}
		if _, detail := dmErr(t, b); !strings.Contains(detail, fmt.Sprintf("reserved character %q", []rune(r)[0])) {
			t.Errorf("%q: detail %q", r, detail)
		}
	}
	// The spec asks clients to avoid ' $ ¢ ™ ®; the service accepts them.
	for _, ok := range []string{"Level 1 & 2", "#1 (rev B) [final]", "日本語", "a.b.c", "100%", "Owner's", "$ budget", "¢™®"} {
		f.c.sendJSON(http.MethodPost, projPath(f.pid, "/folders"), folderBody(f.files, ok), 201, nil)
	}
	if n := len(f.s.Children(f.pid, f.files)); n != 8 {
		t.Errorf("%d folders created, want 8", n)
	}
}

func patchBody(folderID string, attrs obj, parent string) obj {
	d := obj{"type": "folders", "id": folderID}
	if attrs != nil {
		d["attributes"] = attrs
	}
	if parent != "" {
		d["relationships"] = obj{"parent": ref("folders", parent)}
	}
	return obj{"jsonapi": obj{"version": "1.0"}, "data": d}
}

func TestPatchFolder(t *testing.T) {
	f := newWriteFixture(t, Options{})
	a := f.s.AddFolder(f.pid, f.files, "A")
	b := f.s.AddFolder(f.pid, f.files, "B")
	aSub := f.s.AddFolder(f.pid, a, "A1")
	f.s.AddFile(f.pid, aSub, "inside.txt", Bytes([]byte("x")))
	patch := func(id string, body obj, want int) wireOne {
		t.Helper()
		var out wireOne
		resp, raw := f.c.send(http.MethodPatch, projPath(f.pid, "/folders/"+encodeID(id)), body, vndJSON)
		if resp.StatusCode != want {
			t.Fatalf("PATCH %v: %d, want %d: %s", body["data"], resp.StatusCode, want, raw)
		}
		if want == 200 {
			if err := json.Unmarshal(raw, &out); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	listed := func(folder string) []string {
		rows, _, _ := listAll(f.c, contentsPath(f.pid, folder))
		var names []string
		for _, r := range rows {
			names = append(names, r.str("displayName"))
		}
		return names
	}

	out := patch(a, patchBody(a, obj{"name": "A renamed"}, ""), 200)
	if out.Data.str("name") != "A renamed" || out.Data.ID != a {
		t.Errorf("rename = %+v", out.Data)
	}
	patch(a, patchBody(a, obj{"name": "B"}, ""), 409)
	patch(a, patchBody(a, obj{"name": "bad|name"}, ""), 400)

	// Move A under B, with its subtree.
	out = patch(a, patchBody(a, nil, b), 200)
	if out.Data.rel("parent") != b || strings.Join(listed(b), ",") != "A renamed" || f.s.FindChild(f.pid, aSub, "inside.txt") == "" {
		t.Errorf("move: parent %s, B lists %v", out.Data.rel("parent"), listed(b))
	}
	patch(b, patchBody(b, nil, aSub), 400)                         // into its own subtree
	patch(b, patchBody(b, nil, b), 400)                            // into itself
	patch(a, patchBody(a, nil, f.s.RootFolder(f.pid)), 403)        // into the root
	patch(f.files, patchBody(f.files, obj{"name": "PF"}, ""), 403) // a top folder
	other := f.s.AddProject(f.s.AddHub("H2"), "Other")
	patch(a, patchBody(a, nil, f.s.TopFolder(other, "Project Files")), 400)
	patch(a, patchBody(b, obj{"name": "x"}, ""), 400) // data.id differs from the URL

	// Hide (delete): the folder leaves default listings; includeHidden shows it.
	c := f.s.AddFolder(f.pid, f.files, "C")
	out = patch(c, patchBody(c, obj{"hidden": true}, ""), 200)
	if out.Data.Attributes["hidden"] != true {
		t.Errorf("hidden = %v", out.Data.Attributes["hidden"])
	}
	if names := listed(f.files); strings.Contains(strings.Join(names, ","), "C") {
		t.Errorf("hidden folder listed: %v", names)
	}
	if rows, _, _ := listAll(f.c, contentsPath(f.pid, f.files)+"?includeHidden=true"); len(rows) != 2 {
		t.Errorf("includeHidden lists %d rows", len(rows))
	}
	// A new folder takes the name; restoring the old one then conflicts
	// until it gets a new name.
	f.c.sendJSON(http.MethodPost, projPath(f.pid, "/folders"), folderBody(f.files, "C"), 201, nil)
	resp, raw := f.c.send(http.MethodPatch, projPath(f.pid, "/folders/"+encodeID(c)), patchBody(c, obj{"hidden": false}, ""), vndJSON)
	if _, detail := dmErr(t, raw); resp.StatusCode != 409 || !strings.Contains(detail, "new name") {
		t.Errorf("restore onto a taken name: %d %s", resp.StatusCode, raw)
	}
	out = patch(c, patchBody(c, obj{"hidden": false, "name": "C (restored)"}, ""), 200)
	if out.Data.Attributes["hidden"] != false || out.Data.str("name") != "C (restored)" {
		t.Errorf("restore = %+v", out.Data.Attributes)
	}

	// Read-only folders cannot be changed, nor receive moved folders.
	ro := f.s.AddFolder(f.pid, f.files, "RO")
	f.s.SetFolderReadOnly(f.pid, ro)
	patch(ro, patchBody(ro, obj{"name": "RW"}, ""), 403)
	patch(b, patchBody(b, nil, ro), 403)

	// Depth: a two-level subtree cannot move under level 24.
	deep := f.files
	for i := 2; i <= 24; i++ {
		deep = f.s.AddFolder(f.pid, deep, fmt.Sprintf("L%d", i))
	}
	patch(b, patchBody(b, nil, deep), 400) // B/A renamed/A1 is three levels
	patch(aSub, patchBody(aSub, nil, deep), 200)
}

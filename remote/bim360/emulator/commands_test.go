package emulator

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// createFolderCommand builds seed 004's body for folders given as
// temporary ID → (parent, name), in order.
func createFolderCommand(folders ...[3]string) obj {
	var res, inc []obj
	for _, f := range folders {
		res = append(res, obj{"type": "folders", "id": f[0]})
		inc = append(inc, obj{"type": "folders", "id": f[0],
			"attributes":    obj{"name": f[2], "extension": obj{"type": extFolder, "version": "1.0"}},
			"relationships": obj{"parent": ref("folders", f[1])}})
	}
	return obj{"jsonapi": obj{"version": "1.0"},
		"data": obj{"type": "commands",
			"attributes":    obj{"extension": obj{"type": extCommandCreateFolder, "version": "1.0.0"}},
			"relationships": obj{"resources": obj{"data": res}}},
		"included": inc}
}

func TestCreateFolderCommand(t *testing.T) {
	f := newWriteFixture(t, Options{})
	plans := f.s.TopFolder(f.pid, "Plans")
	cmds := projPath(f.pid, "/commands")
	var out struct {
		Data struct {
			Type          string `json:"type"`
			ID            string `json:"id"`
			Relationships struct {
				Resources struct {
					Data []typeID `json:"data"`
				} `json:"resources"`
			} `json:"relationships"`
		} `json:"data"`
		Included []wireRes `json:"included"`
	}
	f.c.sendJSON(http.MethodPost, cmds, createFolderCommand([3]string{"2", f.files, "API Folder1"}, [3]string{"1", plans, "API Folder2"}), 200, &out)
	res := out.Data.Relationships.Resources.Data
	if out.Data.Type != "commands" || out.Data.ID == "" || len(res) != 2 || len(out.Included) != 2 {
		t.Fatalf("answer = %+v", out)
	}
	// Answers follow the order of the request's resources.
	if out.Included[0].str("name") != "API Folder1" || out.Included[0].rel("parent") != f.files ||
		out.Included[1].str("name") != "API Folder2" || out.Included[1].rel("parent") != plans {
		t.Errorf("included = %+v", out.Included)
	}
	if res[0].ID != out.Included[0].ID || f.s.FindChild(f.pid, f.files, "API Folder1") != res[0].ID || f.s.FindChild(f.pid, plans, "API Folder2") != res[1].ID {
		t.Errorf("resources %v do not name the created folders", res)
	}

	// All or nothing: one conflict refuses the whole command.
	resp, b := f.c.send(http.MethodPost, cmds, createFolderCommand([3]string{"a", f.files, "Fresh"}, [3]string{"b", f.files, "API Folder1"}), vndJSON)
	if code, detail := dmErr(t, b); resp.StatusCode != 409 || code != "CONFLICT" || !strings.Contains(detail, "folder b") {
		t.Errorf("conflict: %d %s", resp.StatusCode, b)
	}
	resp, b = f.c.send(http.MethodPost, cmds, createFolderCommand([3]string{"a", f.files, "Twin"}, [3]string{"b", f.files, "Twin"}), vndJSON)
	if resp.StatusCode != 409 {
		t.Errorf("two folders of one name: %d %s", resp.StatusCode, b)
	}
	if f.s.FindChild(f.pid, f.files, "Fresh") != "" || f.s.FindChild(f.pid, f.files, "Twin") != "" {
		t.Error("a refused command created folders")
	}
	// Temporary IDs must match between resources and included.
	body := createFolderCommand([3]string{"1", f.files, "X"})
	body["included"].([]obj)[0]["id"] = "2"
	if resp, b := f.c.send(http.MethodPost, cmds, body, vndJSON); resp.StatusCode != 400 {
		t.Errorf("mismatched temporary IDs: %d %s", resp.StatusCode, b)
	}
	if resp, _ := f.c.send(http.MethodPost, cmds, createFolderCommand([3]string{"1", f.s.RootFolder(f.pid), "X"}), vndJSON); resp.StatusCode != 403 {
		t.Errorf("command into the root: %d", resp.StatusCode)
	}
	if resp, _ := f.c.send(http.MethodPost, cmds, createFolderCommand([3]string{"1", f.files, "a*b"}), vndJSON); resp.StatusCode != 400 {
		t.Errorf("command with a reserved character: %d", resp.StatusCode)
	}

	// A project that does not take the command refuses it like an unknown
	// command; POST folders still works there.
	f.s.SetProjectCommands(f.pid, false)
	resp, b = f.c.send(http.MethodPost, cmds, createFolderCommand([3]string{"1", f.files, "Y"}), vndJSON)
	if code, detail := dmErr(t, b); resp.StatusCode != 400 || code != "BAD_INPUT" || !strings.Contains(detail, extCommandCreateFolder) {
		t.Errorf("refused command: %d %s", resp.StatusCode, b)
	}
	f.c.sendJSON(http.MethodPost, projPath(f.pid, "/folders"), folderBody(f.files, "Y"), 201, nil)
	if f.s.Counters()[OpCommand] != 7 {
		t.Errorf("command counter %d", f.s.Counters()[OpCommand])
	}

	// A project that makes folders only by command refuses POST folders.
	f.s.SetProjectCommands(f.pid, true)
	f.s.SetProjectPostFolders(f.pid, false)
	resp, b = f.c.send(http.MethodPost, projPath(f.pid, "/folders"), folderBody(f.files, "Z"), vndJSON)
	if code, _ := dmErr(t, b); resp.StatusCode != 400 || code != "BAD_INPUT" {
		t.Errorf("refused POST folders: %d %s", resp.StatusCode, b)
	}
	f.c.sendJSON(http.MethodPost, cmds, createFolderCommand([3]string{"1", f.files, "Z"}), 200, nil)
}

func TestWriteRateLimits(t *testing.T) {
	// A long window: the 51st POST folders in it gets 429 with Retry-After.
	s := newUncheckedServer(t, Options{RateLimits: true, RateWindow: time.Hour})
	pid := s.AddProject(s.AddHub("H"), "P")
	files := s.TopFolder(pid, "Project Files")
	c := newClient(t, s)
	for i := range 50 {
		c.sendJSON(http.MethodPost, projPath(pid, "/folders"), folderBody(files, "F"+itoa(i)), 201, nil)
	}
	resp, b := c.send(http.MethodPost, projPath(pid, "/folders"), folderBody(files, "F50"), vndJSON)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), "Quota limit exceeded") {
		t.Fatalf("51st POST folders: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	// Limits are per endpoint: PATCH folder and POST storage still pass.
	if resp, b := c.send(http.MethodPatch, projPath(pid, "/folders/"+encodeID(s.FindChild(pid, files, "F0"))), patchBody(s.FindChild(pid, files, "F0"), obj{"name": "G"}, ""), vndJSON); resp.StatusCode != 200 {
		t.Errorf("PATCH folder: %d %s", resp.StatusCode, b)
	}
	createStorage(c, pid, files, "x.bin")
	for op, want := range map[string]int{OpCreateItem: 50, OpPatchFolder: 50, OpCreateStorage: 300, OpCreateVersion: 300, OpCommand: 300, OpSignedUpload: 1000, OpCompleteUpload: 1000} {
		if rateLimits[op].perMinute != want {
			t.Errorf("limit of %q = %d, want %d", op, rateLimits[op].perMinute, want)
		}
	}
	if rateLimits[OpSignedUpload].group != rateLimits[OpSignedDownload].group {
		t.Error("signeds3upload must share the OSS-wide quota")
	}
}

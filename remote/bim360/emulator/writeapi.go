package emulator

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Shared request decoding and error answers of the Data Management write
// operations (POST storage/items/versions/folders/commands, PATCH folder).

// maxJSONBody bounds DM and OSS request bodies; real payloads are a few KiB.
const maxJSONBody = 1 << 20

// maxFolderDepth is the deepest folder level POST folders accepts; the top
// folders ("Project Files", "Plans") are level 1.
const maxFolderDepth = 25

// Extension types accepted by the write operations for BIM 360 Docs.
const (
	extCommandCreateFolder = "commands:autodesk.core:CreateFolder"
	extFolderCore          = "folders:autodesk.core:Folder"
)

// Wire types of request bodies: only the members the emulator reads.

type typeIDIn struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type relIn struct {
	Data *typeIDIn `json:"data"`
}

type extIn struct {
	Type    string         `json:"type"`
	Version string         `json:"version"`
	Data    map[string]any `json:"data"`
}

type jsonAPIIn struct {
	Version string `json:"version"`
}

// decodeDM reads a DM JSON:API request body into v. The spec declares
// application/vnd.api+json; application/json is accepted too (API-NOTES
// §10). requireJSONAPI demands the "jsonapi":{"version":"1.0"} member every
// DM payload schema requires. It answers 400 itself and reports success.
func decodeDM(w http.ResponseWriter, r *http.Request, v any, requireJSONAPI bool) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/vnd.api+json" && mt != "application/json") {
		badRequest(w, "Content-Type must be application/vnd.api+json")
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err != nil {
		badRequest(w, "cannot read the request body")
		return false
	}
	if len(body) > maxJSONBody {
		badRequest(w, "the request body is too large")
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		badRequest(w, "the request body is not valid JSON:API: "+err.Error())
		return false
	}
	if requireJSONAPI {
		var head struct {
			JSONAPI *jsonAPIIn `json:"jsonapi"`
		}
		_ = json.Unmarshal(body, &head)
		if head.JSONAPI == nil || head.JSONAPI.Version != "1.0" {
			badRequest(w, `the request body must have "jsonapi": {"version": "1.0"}`)
			return false
		}
	}
	return true
}

// writeForbidden sends the DM spec's declared 403 body (403-general): an
// empty document with PascalCase warnings.
func writeForbidden(w http.ResponseWriter, title, detail string) {
	type warning struct {
		ID             *string `json:"Id"`
		HTTPStatusCode string  `json:"HttpStatusCode"`
		ErrorCode      string  `json:"ErrorCode"`
		Title          string  `json:"Title"`
		Detail         string  `json:"Detail"`
		AboutLink      *string `json:"AboutLink"`
		Source         *string `json:"Source"`
		Meta           any     `json:"meta"`
	}
	writeJSON(w, http.StatusForbidden, map[string]any{
		"jsonapi": map[string]any{},
		"links":   map[string]any{},
		"data":    []any{},
		"meta": map[string]any{"warnings": []warning{{
			HTTPStatusCode: "403", ErrorCode: "BIM360DM_ERROR", Title: title, Detail: detail,
		}}},
	})
}

// msgNameConflict is the service's text for a name already taken in a
// folder (seen in third-party clients that fall back to POST versions).
const msgNameConflict = "Another object with the same name already exists in this container"

func writeConflict(w http.ResponseWriter, detail string) {
	writeDMError(w, http.StatusConflict, "CONFLICT", "Conflict", detail)
}

func writeLocked(w http.ResponseWriter, detail string) {
	writeDMError(w, http.StatusLocked, "LOCKED", "Locked", detail)
}

// writeCreated sends a JSON:API document with status 201.
func writeCreated(w http.ResponseWriter, d any) {
	writeJSON(w, http.StatusCreated, d)
}

// reservedRunes are the characters the service refuses in folder and file
// names (Autodesk's product table for BIM 360 and ACC Docs: < > : " / \ |
// ? * and the backtick) and control characters. The DM spec's payload
// texts also tell clients to *avoid* ' $ ¢ ™ ®; the service accepts them
// (real names carry apostrophes), and so does the emulator.
const reservedRunes = "<>:\"/\\|?*`\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\f\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f"

// nameProblem returns why name is not a valid folder or file name, or "".
func nameProblem(name string) string {
	if !utf8.ValidString(name) {
		return "the name is not valid UTF-8"
	}
	if n := utf8.RuneCountInString(name); n < 1 || n > 255 {
		return fmt.Sprintf("the name must be 1-255 characters long (it has %d)", n)
	}
	if i := strings.IndexAny(name, reservedRunes); i >= 0 {
		r, _ := utf8.DecodeRuneInString(name[i:])
		return fmt.Sprintf("the name %q contains the reserved character %q; names may not contain < > : \" / \\ | ? * ` or control characters", name, r)
	}
	return ""
}

// depth is the folder's level: the root is 0, top folders 1.
func (f *folder) depth() int {
	d := 0
	for p := f.parent; p != nil; p = p.parent {
		d++
	}
	return d
}

// height is the number of levels in the folder's subtree, itself included.
func (f *folder) height() int {
	h := 0
	for _, c := range f.folders {
		h = max(h, c.height())
	}
	return h + 1
}

// isReadOnly reports whether writes are refused in f: it or an ancestor
// was marked read-only (permissions are inherited in BIM 360 Docs).
func (f *folder) isReadOnly() bool {
	for p := f; p != nil; p = p.parent {
		if p.readOnly {
			return true
		}
	}
	return false
}

// isVisible reports whether f and all its ancestors are not hidden.
func (f *folder) isVisible() bool {
	for p := f; p != nil; p = p.parent {
		if p.hidden {
			return false
		}
	}
	return true
}

// contains reports whether g is f or lies below it.
func (f *folder) contains(g *folder) bool {
	for p := g; p != nil; p = p.parent {
		if p == f {
			return true
		}
	}
	return false
}

// visibleFolder returns the visible subfolder named name, other than skip.
func (f *folder) visibleFolder(name string, skip *folder) *folder {
	for _, c := range f.folders {
		if c != skip && !c.hidden && c.name == name {
			return c
		}
	}
	return nil
}

// visibleItem returns the visible item named name, other than skip.
func (f *folder) visibleItem(name string, skip *item) *item {
	for _, it := range f.items {
		if it != skip && !it.hidden && it.displayName() == name {
			return it
		}
	}
	return nil
}

// writableFolder checks that new content may be put into f and answers
// the failure itself: hidden (deleted) folders are not found, the root
// folder and read-only folders are forbidden.
func writableFolder(w http.ResponseWriter, f *folder) bool {
	switch {
	case !f.isVisible():
		notFound(w, "folder", f.id)
		return false
	case f.parent == nil:
		writeForbidden(w, "Forbidden", "Content cannot be created in the project's root folder; use a top folder such as Project Files")
		return false
	case f.isReadOnly():
		writeForbidden(w, "Forbidden", "You don't have permission to create content in folder "+f.id)
		return false
	}
	return true
}

// findVersionAnywhere looks a version up in every project, to tell a
// cross-project reference (400) from an unknown one (404). Caller holds
// the store lock.
func (st *store) findVersionAnywhere(id string) *version {
	for _, p := range st.projects {
		if v := p.versions[id]; v != nil {
			return v
		}
	}
	return nil
}

// findFolderAnywhere is findVersionAnywhere for folders.
func (st *store) findFolderAnywhere(id string) *folder {
	for _, p := range st.projects {
		if f := p.folders[id]; f != nil {
			return f
		}
	}
	return nil
}

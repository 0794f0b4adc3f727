package emulator

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Helpers for the write-path tests: JSON:API bodies built as plain maps
// (independent of the emulator's own types) and a full upload.

const vndJSON = "application/vnd.api+json"

// send sends an authenticated request with a JSON body of the given
// content type and returns the response and its body.
func (c *client) send(method, path string, body any, contentType string) (*http.Response, []byte) {
	c.t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			c.t.Fatal(err)
		}
	}
	h := http.Header{"Authorization": {"Bearer " + c.token}}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return c.do(method, path, bytes.NewReader(b), h)
}

// sendJSON sends a JSON:API body, requires status want and decodes the
// answer into v (if not nil).
func (c *client) sendJSON(method, path string, body any, want int, v any) []byte {
	c.t.Helper()
	resp, b := c.send(method, path, body, vndJSON)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: status %d, want %d; body %.600s", method, path, resp.StatusCode, want, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			c.t.Fatalf("%s %s: decoding %.200s: %v", method, path, b, err)
		}
	}
	return b
}

type obj = map[string]any

func ref(typ, id string) obj { return obj{"data": obj{"type": typ, "id": id}} }

func projPath(pid, rest string) string { return "/data/v1/projects/" + encodeID(pid) + rest }

func storageBody(folderID, name string) obj {
	return obj{"jsonapi": obj{"version": "1.0"}, "data": obj{
		"type": "objects", "attributes": obj{"name": name},
		"relationships": obj{"target": ref("folders", folderID)},
	}}
}

func itemBody(folderID, name, storageID string) obj {
	return obj{"jsonapi": obj{"version": "1.0"},
		"data": obj{"type": "items",
			"attributes":    obj{"displayName": name, "extension": obj{"type": extItem, "version": "1.0"}},
			"relationships": obj{"tip": ref("versions", "1"), "parent": ref("folders", folderID)}},
		"included": []obj{{"type": "versions", "id": "1",
			"attributes":    obj{"name": name, "extension": obj{"type": extVersion, "version": "1.0"}},
			"relationships": obj{"storage": ref("objects", storageID)}}},
	}
}

func versionBody(itemID, name, storageID string) obj {
	return obj{"jsonapi": obj{"version": "1.0"}, "data": obj{"type": "versions",
		"attributes":    obj{"name": name, "extension": obj{"type": extVersion, "version": "1.0"}},
		"relationships": obj{"item": ref("items", itemID), "storage": ref("objects", storageID)}}}
}

// deleteBody is the spec's form of a delete: VersionPayload with the
// item's name.
func deleteBody(itemID, name string) obj {
	return obj{"jsonapi": obj{"version": "1.0"}, "data": obj{"type": "versions",
		"attributes":    obj{"name": name, "extension": obj{"type": extDeleted, "version": "1.0"}},
		"relationships": obj{"item": ref("items", itemID)}}}
}

// tutorialDeleteBody is the delete tutorial's form, without the name
// VersionPayload requires.
func tutorialDeleteBody(itemID string) obj {
	return obj{"jsonapi": obj{"version": "1.0"}, "data": obj{"type": "versions",
		"attributes":    obj{"extension": obj{"type": extDeleted, "version": "1.0"}},
		"relationships": obj{"item": ref("items", itemID)}}}
}

func folderBody(parentID, name string) obj {
	return obj{"jsonapi": obj{"version": "1.0"}, "data": obj{"type": "folders",
		"attributes":    obj{"name": name, "extension": obj{"type": extFolder, "version": "1.0"}},
		"relationships": obj{"parent": ref("folders", parentID)}}}
}

// createStorage reserves a storage object and returns its URN, bucket and key.
func createStorage(c *client, pid, folderID, name string) (id, bucket, key string) {
	c.t.Helper()
	var st struct {
		Data struct{ ID string } `json:"data"`
	}
	c.sendJSON(http.MethodPost, projPath(pid, "/storage"), storageBody(folderID, name), http.StatusCreated, &st)
	bucket, key, _ = strings.Cut(strings.TrimPrefix(st.Data.ID, storagePrefix), "/")
	return st.Data.ID, bucket, key
}

type uploadURLs struct {
	UploadKey        string   `json:"uploadKey"`
	URLs             []string `json:"urls"`
	URLExpiration    string   `json:"urlExpiration"`
	UploadExpiration string   `json:"uploadExpiration"`
}

func uploadPath(bucket, key, query string) string {
	p := "/oss/v2/buckets/" + bucket + "/objects/" + url.PathEscape(key) + "/signeds3upload"
	if query != "" {
		p += "?" + query
	}
	return p
}

// putPart PUTs data to a part URL the way a client must: no Authorization.
func (c *client) putPart(u string, data []byte) (*http.Response, []byte) {
	c.t.Helper()
	return c.do(http.MethodPut, u, bytes.NewReader(data), nil)
}

func md5ETag(b []byte) string {
	h := md5.Sum(b)
	return `"` + hex.EncodeToString(h[:]) + `"`
}

// uploadParts runs signeds3upload, the part PUTs and completion for the
// given parts and returns the storage URN.
func uploadParts(c *client, pid, folderID, name string, parts [][]byte) string {
	c.t.Helper()
	id, bucket, key := createStorage(c, pid, folderID, name)
	var u uploadURLs
	c.getJSON(uploadPath(bucket, key, "parts="+itoa(len(parts))), http.StatusOK, &u)
	if len(u.URLs) != len(parts) {
		c.t.Fatalf("%d URLs for %d parts", len(u.URLs), len(parts))
	}
	var etags []string
	var size int
	for i, p := range parts {
		resp, b := c.putPart(u.URLs[i], p)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != md5ETag(p) {
			c.t.Fatalf("PUT part %d: %d ETag %q; %s", i+1, resp.StatusCode, resp.Header.Get("ETag"), b)
		}
		etags = append(etags, resp.Header.Get("ETag"))
		size += len(p)
	}
	c.complete(bucket, key, obj{"uploadKey": u.UploadKey, "size": size, "eTags": etags}, http.StatusOK)
	return id
}

// complete POSTs the completion body and requires status want.
func (c *client) complete(bucket, key string, body obj, want int) []byte {
	c.t.Helper()
	resp, b := c.send(http.MethodPost, uploadPath(bucket, key, ""), body, "application/json")
	if resp.StatusCode != want {
		c.t.Fatalf("complete: status %d, want %d; %s", resp.StatusCode, want, b)
	}
	return b
}

// createFile uploads data in one part and creates an item from it.
func createFile(c *client, pid, folderID, name string, data []byte) (itemID string) {
	c.t.Helper()
	sid := uploadParts(c, pid, folderID, name, [][]byte{data})
	var out wireOne
	c.sendJSON(http.MethodPost, projPath(pid, "/items"), itemBody(folderID, name, sid), http.StatusCreated, &out)
	return out.Data.ID
}

// dmErr decodes a JSON:API error document's first error.
func dmErr(t *testing.T, b []byte) (code, detail string) {
	t.Helper()
	var e struct {
		Errors []struct{ Code, Detail string } `json:"errors"`
		Meta   struct {
			Warnings []struct{ ErrorCode, Detail string } `json:"warnings"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body %q: %v", b, err)
	}
	switch {
	case len(e.Errors) > 0:
		return e.Errors[0].Code, e.Errors[0].Detail
	case len(e.Meta.Warnings) > 0:
		return e.Meta.Warnings[0].ErrorCode, e.Meta.Warnings[0].Detail
	}
	t.Fatalf("no error in %s", b)
	return "", ""
}

// writeFixture is a hub with one project and its Project Files folder.
type writeFixture struct {
	s     *Server
	c     *client
	pid   string
	files string
}

func newWriteFixture(t *testing.T, opts Options) writeFixture {
	t.Helper()
	s := newServer(t, opts)
	pid := s.AddProject(s.AddHub("H"), "P")
	return writeFixture{s: s, c: newClient(t, s), pid: pid, files: s.TopFolder(pid, "Project Files")}
}

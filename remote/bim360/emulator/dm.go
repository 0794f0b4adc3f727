package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

const (
	defaultPageLimit = 200
	maxPageLimit     = 200
)

func itoa(i int) string { return strconv.Itoa(i) }

func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// renderer turns store objects into wire resources. base prefixes every
// link ("" for relative links). Callers hold the store's read lock.
type renderer struct{ base string }

func (s *Server) renderer() renderer {
	if s.Options().RelativeLinks {
		return renderer{}
	}
	return renderer{base: s.URL}
}

func (rd renderer) link(p string) link { return link{Href: rd.base + p} }

func (rd renderer) ext(typ string) extension {
	kind := typ[:strings.IndexByte(typ, ':')]
	return extension{Type: typ, Version: "1.0", Schema: rd.link("/schema/v1/" + kind + "/" + encodeID(typ) + "-1.0"), Data: map[string]any{}}
}

func projectPath(p *project) string { return "/data/v1/projects/" + encodeID(p.id) }

func (rd renderer) webView(p *project, f *folder) *link {
	l := rd.link("/docs/projects/" + strings.TrimPrefix(p.id, "b.") + "/folders/" + encodeID(f.id) + "/detail")
	return &l
}

func (rd renderer) hub(h *hub) resource {
	self := "/project/v1/hubs/" + encodeID(h.id)
	return resource{
		Type: "hubs", ID: h.id,
		Attributes:    hubAttributes{Name: h.name, Extension: rd.ext(extHub), Region: "US"},
		Links:         selfLinks{Self: rd.link(self)},
		Relationships: hubRelationships{Projects: linksOnly{relatedLinks{rd.link(self + "/projects")}}},
	}
}

func (rd renderer) project(p *project) resource {
	hubPath := "/project/v1/hubs/" + encodeID(p.hub.id)
	self := hubPath + "/projects/" + encodeID(p.id)
	return resource{
		Type: "projects", ID: p.id,
		Attributes: projectAttributes{Name: p.name, Scopes: []string{"b360project." + strings.TrimPrefix(p.id, "b."), "global"}, Extension: rd.ext(extProject)},
		Links:      selfLinks{Self: rd.link(self), WebView: &link{Href: rd.base + "/docs/projects/" + strings.TrimPrefix(p.id, "b.")}},
		Relationships: projectRelationships{
			Hub:        rel{Data: &typeID{"hubs", p.hub.id}, Links: &relatedLinks{rd.link(self + "/hub")}},
			RootFolder: rel{Data: &typeID{"folders", p.root.id}, Meta: &metaLink{rd.link(projectPath(p) + "/folders/" + encodeID(p.root.id))}},
			TopFolders: linksOnly{relatedLinks{rd.link(self + "/topFolders")}},
		},
	}
}

// refsAndLinks returns the refs and links relationships that folders, items
// and versions all carry, under the resource's own path self.
func (rd renderer) refsAndLinks(self string) (refs refsRel, links selfRel) {
	refs.Links.Self = rd.link(self + "/relationships/refs")
	refs.Links.Related = rd.link(self + "/refs")
	links.Links.Self = rd.link(self + "/relationships/links")
	return refs, links
}

func (rd renderer) folder(f *folder) resource {
	p := f.project
	self := projectPath(p) + "/folders/" + encodeID(f.id)
	rels := folderRelationships{
		Parent:   rel{Links: &relatedLinks{rd.link(self + "/parent")}},
		Contents: linksOnly{relatedLinks{rd.link(self + "/contents")}},
	}
	if f.parent != nil {
		rels.Parent.Data = &typeID{"folders", f.parent.id}
	}
	rels.Refs, rels.Links = rd.refsAndLinks(self)
	return resource{
		Type: "folders", ID: f.id,
		Attributes: folderAttributes{
			Name: f.name, DisplayName: f.name, ObjectCount: f.visibleCount(),
			auditAttributes:        demoAudit(f.created, f.modified),
			LastModifiedTimeRollup: dmTime(f.rollup()), Hidden: f.hidden, Extension: rd.ext(extFolder),
		},
		Links:         selfLinks{Self: rd.link(self), WebView: rd.webView(p, f)},
		Relationships: rels,
	}
}

func (rd renderer) item(it *item, withPath bool) resource {
	p := it.project
	self := projectPath(p) + "/items/" + encodeID(it.id)
	tip := it.tip()
	attrs := itemAttributes{
		DisplayName:     it.displayName(),
		auditAttributes: demoAudit(it.created, it.modified),
		Hidden:          it.hidden,
		Extension:       rd.ext(extItem),
	}
	if withPath {
		attrs.PathInProject = it.parent.pathInProject()
	}
	rels := itemRelationships{
		Tip:      rel{Data: &typeID{"versions", tip.id}, Links: &relatedLinks{rd.link(self + "/tip")}},
		Versions: linksOnly{relatedLinks{rd.link(self + "/versions")}},
		Parent:   rel{Data: &typeID{"folders", it.parent.id}, Links: &relatedLinks{rd.link(self + "/parent")}},
	}
	rels.Refs, rels.Links = rd.refsAndLinks(self)
	return resource{
		Type: "items", ID: it.id, Attributes: attrs,
		Links:         selfLinks{Self: rd.link(self), WebView: rd.webView(p, it.parent)},
		Relationships: rels,
	}
}

func (rd renderer) version(v *version) resource {
	it := v.item
	p := it.project
	self := projectPath(p) + "/versions/" + encodeID(v.id)
	attrs := versionAttributes{
		Name: v.name, DisplayName: v.name, VersionNumber: v.number,
		auditAttributes: demoAudit(v.created, v.created),
		Extension:       rd.ext(v.ext),
	}
	rels := versionRelationships{
		Item: rel{Data: &typeID{"items", it.id}, Links: &relatedLinks{rd.link(projectPath(p) + "/items/" + encodeID(it.id))}},
	}
	rels.Refs, rels.Links = rd.refsAndLinks(self)
	if o := v.object; o != nil {
		size := o.content.Size()
		attrs.StorageSize = &size
		attrs.MimeType = o.contentType
		attrs.FileType = strings.TrimPrefix(strings.ToLower(path.Ext(v.name)), ".")
		rels.Storage = &rel{
			Data: &typeID{"objects", o.storageID()},
			Meta: &metaLink{rd.link("/oss/v2/buckets/" + o.bucket + "/objects/" + url.PathEscape(o.key) + "?scopes=b360project." + strings.TrimPrefix(p.id, "b.") + ",global")},
		}
	}
	return resource{
		Type: "versions", ID: v.id, Attributes: attrs,
		Links:         selfLinks{Self: rd.link(self), WebView: rd.webView(p, it.parent)},
		Relationships: rels,
	}
}

// page is a parsed page[number] / page[limit] pair.
type page struct{ number, limit int }

func parsePage(q url.Values) (page, string) {
	pg := page{limit: defaultPageLimit}
	if v := q.Get("page[limit]"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageLimit {
			return pg, "page[limit] must be an integer from 1 to 200"
		}
		pg.limit = n
	}
	if v := q.Get("page[number]"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return pg, "page[number] must be a non-negative integer"
		}
		pg.number = n
	}
	return pg, ""
}

// bounds returns the slice bounds of the page within total rows.
func (pg page) bounds(total int) (lo, hi int) {
	lo = min(pg.number*pg.limit, total)
	hi = min(lo+pg.limit, total)
	return lo, hi
}

// links builds self/first/prev/next for a page of total rows. Paging counts
// rows before filtering, so a page may be empty and still have a next page.
func (rd renderer) pageLinks(r *http.Request, pg page, total int) pageLinks {
	at := func(n int) *link {
		q := r.URL.Query()
		q.Set("page[number]", strconv.Itoa(n))
		l := rd.link(r.URL.EscapedPath() + "?" + q.Encode())
		return &l
	}
	self := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		self += "?" + r.URL.RawQuery
	}
	pl := pageLinks{Self: rd.link(self)}
	if total > pg.limit {
		pl.First = at(0)
		if pg.number > 0 {
			pl.Prev = at(pg.number - 1)
		}
		if (pg.number+1)*pg.limit < total {
			pl.Next = at(pg.number + 1)
		}
	}
	return pl
}

func writeDoc(w http.ResponseWriter, d document) {
	d.JSONAPI = jsonAPIv1
	writeJSON(w, http.StatusOK, d)
}

func notFound(w http.ResponseWriter, what, id string) {
	writeDMError(w, http.StatusNotFound, "NOT_FOUND", "Not Found", "The "+what+" "+id+" was not found")
}

// lookup returns m[id], or answers 404 for the named kind of resource and
// returns nil when there is none.
func lookup[T any](w http.ResponseWriter, m map[string]*T, what, id string) *T {
	v := m[id]
	if v == nil {
		notFound(w, what, id)
	}
	return v
}

// pathProject resolves {project_id}, answering 404 itself; callers hold the
// store lock (read or write).
func (s *Server) pathProject(w http.ResponseWriter, r *http.Request) *project {
	return lookup(w, s.st.projects, "project", r.PathValue("project_id"))
}

func badRequest(w http.ResponseWriter, detail string) {
	writeDMError(w, http.StatusBadRequest, "BAD_INPUT", "Bad Request", detail)
}

// boolParam parses an optional boolean query parameter.
func boolParam(q url.Values, name string) (val, ok bool) {
	v := q.Get(name)
	if v == "" {
		return false, true
	}
	b, err := strconv.ParseBool(v)
	return b, err == nil
}

// listFilter is the set of filter[...] values applied to listing rows; an
// empty list means no filtering on that field. Values within one filter are
// OR-ed, filters are AND-ed.
func listFilter(q url.Values, name string) []string {
	var out []string
	for _, v := range q[name] {
		for _, part := range strings.Split(v, ",") {
			if part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

func matches(list []string, v string) bool {
	if len(list) == 0 {
		return true
	}
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// handleHubs implements GET /project/v1/hubs.
func (s *Server) handleHubs(w http.ResponseWriter, r *http.Request, _ *call) {
	rd := s.renderer()
	ids, names := listFilter(r.URL.Query(), "filter[id]"), listFilter(r.URL.Query(), "filter[name]")
	s.st.mu.RLock()
	data := []resource{}
	for _, h := range s.st.hubs {
		if matches(ids, h.id) && matches(names, h.name) {
			data = append(data, rd.hub(h))
		}
	}
	s.st.mu.RUnlock()
	writeDoc(w, document{Links: selfLinks{Self: rd.link("/project/v1/hubs")}, Data: data})
}

// handleProjects implements GET /project/v1/hubs/{hub_id}/projects.
func (s *Server) handleProjects(w http.ResponseWriter, r *http.Request, _ *call) {
	rd := s.renderer()
	pg, bad := parsePage(r.URL.Query())
	if bad != "" {
		badRequest(w, bad)
		return
	}
	ids := listFilter(r.URL.Query(), "filter[id]")
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	h := lookup(w, s.st.hubByID, "hub", r.PathValue("hub_id"))
	if h == nil {
		return
	}
	lo, hi := pg.bounds(len(h.projects))
	data := []resource{}
	for _, p := range h.projects[lo:hi] {
		if matches(ids, p.id) {
			data = append(data, rd.project(p))
		}
	}
	writeDoc(w, document{Links: rd.pageLinks(r, pg, len(h.projects)), Data: data})
}

// hubProject resolves {hub_id} and {project_id}; callers hold the read lock.
func (s *Server) hubProject(w http.ResponseWriter, r *http.Request) *project {
	h := lookup(w, s.st.hubByID, "hub", r.PathValue("hub_id"))
	if h == nil {
		return nil
	}
	p := s.st.projects[r.PathValue("project_id")]
	if p == nil || p.hub != h {
		notFound(w, "project", r.PathValue("project_id"))
		return nil
	}
	return p
}

// handleTopFolders implements GET /project/v1/hubs/{hub_id}/projects/{project_id}/topFolders.
func (s *Server) handleTopFolders(w http.ResponseWriter, r *http.Request, _ *call) {
	rd := s.renderer()
	excl, ok1 := boolParam(r.URL.Query(), "excludeDeleted")
	_, ok2 := boolParam(r.URL.Query(), "projectFilesOnly")
	if !ok1 || !ok2 {
		badRequest(w, "excludeDeleted and projectFilesOnly must be true or false")
		return
	}
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	p := s.hubProject(w, r)
	if p == nil {
		return
	}
	data := []resource{}
	for _, f := range p.root.folders {
		if !(excl && f.hidden) {
			data = append(data, rd.folder(f))
		}
	}
	self := r.URL.EscapedPath()
	writeDoc(w, document{Links: selfLinks{Self: rd.link(self)}, Data: data})
}

// projectFolder resolves {project_id} and {folder_id}; callers hold the
// read lock.
func (s *Server) projectFolder(w http.ResponseWriter, r *http.Request) *folder {
	p := s.pathProject(w, r)
	if p == nil {
		return nil
	}
	return lookup(w, p.folders, "folder", r.PathValue("folder_id"))
}

// handleFolder implements GET /data/v1/projects/{project_id}/folders/{folder_id}.
func (s *Server) handleFolder(w http.ResponseWriter, r *http.Request, _ *call) {
	rd := s.renderer()
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	f := s.projectFolder(w, r)
	if f == nil {
		return
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		t, err := time.Parse(time.RFC3339, ims)
		if err != nil {
			badRequest(w, "If-Modified-Since must be a date-time (YYYY-MM-DDThh:mm:ss.sZ)")
			return
		}
		if !f.rollup().After(t) {
			w.Header().Set("Last-Modified", f.rollup().UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	res := rd.folder(f)
	writeDoc(w, document{Links: selfLinks{Self: res.Links.Self}, Data: res})
}

// handleFolderContents implements GET /data/v1/projects/{project_id}/folders/{folder_id}/contents.
//
// Like the real service it pages over all children, hidden ones included,
// and filters afterwards: a page can be empty (or short) while links.next
// is still present.
func (s *Server) handleFolderContents(w http.ResponseWriter, r *http.Request, _ *call) {
	rd := s.renderer()
	q := r.URL.Query()
	pg, bad := parsePage(q)
	if bad != "" {
		badRequest(w, bad)
		return
	}
	includeHidden, ok := boolParam(q, "includeHidden")
	if !ok {
		badRequest(w, "includeHidden must be true or false")
		return
	}
	types := listFilter(q, "filter[type]")
	for _, t := range types {
		if t != "folders" && t != "items" {
			badRequest(w, "filter[type] must be folders or items")
			return
		}
	}
	ids, exts := listFilter(q, "filter[id]"), listFilter(q, "filter[extension.type]")

	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	f := s.projectFolder(w, r)
	if f == nil {
		return
	}
	total := len(f.folders) + len(f.items)
	lo, hi := pg.bounds(total)
	data := []resource{}
	included := []resource{}
	for i := lo; i < hi; i++ {
		if i < len(f.folders) {
			c := f.folders[i]
			if (c.hidden && !includeHidden) || !matches(types, "folders") || !matches(ids, c.id) || !matches(exts, extFolder) {
				continue
			}
			data = append(data, rd.folder(c))
			continue
		}
		it := f.items[i-len(f.folders)]
		if (it.hidden && !includeHidden) || !matches(types, "items") || !matches(ids, it.id) || !matches(exts, extItem) {
			continue
		}
		data = append(data, rd.item(it, false))
		included = append(included, rd.version(it.tip()))
	}
	writeDoc(w, document{Links: rd.pageLinks(r, pg, total), Data: data, Included: included})
}

// projectItem resolves {project_id} and {item_id}; callers hold the read lock.
func (s *Server) projectItem(w http.ResponseWriter, r *http.Request) *item {
	p := s.pathProject(w, r)
	if p == nil {
		return nil
	}
	return lookup(w, p.items, "item", r.PathValue("item_id"))
}

// handleItem implements GET /data/v1/projects/{project_id}/items/{item_id}.
func (s *Server) handleItem(w http.ResponseWriter, r *http.Request, _ *call) {
	rd := s.renderer()
	withPath, ok := boolParam(r.URL.Query(), "includePathInProject")
	if !ok {
		badRequest(w, "includePathInProject must be true or false")
		return
	}
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	it := s.projectItem(w, r)
	if it == nil {
		return
	}
	res := rd.item(it, withPath)
	writeDoc(w, document{Links: selfLinks{Self: res.Links.Self}, Data: res, Included: []resource{rd.version(it.tip())}})
}

// handleItemTip implements GET /data/v1/projects/{project_id}/items/{item_id}/tip.
func (s *Server) handleItemTip(w http.ResponseWriter, r *http.Request, _ *call) {
	rd := s.renderer()
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	it := s.projectItem(w, r)
	if it == nil {
		return
	}
	res := rd.version(it.tip())
	// The spec's ItemTip schema puts href directly under links, but its
	// example (like every other DM document) has links.self.href; the
	// example is what the service sends.
	writeDoc(w, document{Links: selfLinks{Self: res.Links.Self}, Data: res})
}

// handleItemVersions implements GET /data/v1/projects/{project_id}/items/{item_id}/versions.
// Versions are listed newest first.
func (s *Server) handleItemVersions(w http.ResponseWriter, r *http.Request, _ *call) {
	rd := s.renderer()
	q := r.URL.Query()
	pg, bad := parsePage(q)
	if bad != "" {
		badRequest(w, bad)
		return
	}
	numbers := listFilter(q, "filter[versionNumber]")
	ids, exts := listFilter(q, "filter[id]"), listFilter(q, "filter[extension.type]")
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	it := s.projectItem(w, r)
	if it == nil {
		return
	}
	total := len(it.versions)
	lo, hi := pg.bounds(total)
	data := []resource{}
	for i := lo; i < hi; i++ {
		v := it.versions[total-1-i]
		if matches(numbers, strconv.Itoa(v.number)) && matches(ids, v.id) && matches(exts, v.ext) {
			data = append(data, rd.version(v))
		}
	}
	writeDoc(w, document{Links: rd.pageLinks(r, pg, total), Data: data})
}

// handleVersion implements GET /data/v1/projects/{project_id}/versions/{version_id}.
func (s *Server) handleVersion(w http.ResponseWriter, r *http.Request, _ *call) {
	rd := s.renderer()
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	p := s.pathProject(w, r)
	if p == nil {
		return
	}
	v := lookup(w, p.versions, "version", r.PathValue("version_id"))
	if v == nil {
		return
	}
	res := rd.version(v)
	writeDoc(w, document{Links: selfLinks{Self: res.Links.Self}, Data: res})
}

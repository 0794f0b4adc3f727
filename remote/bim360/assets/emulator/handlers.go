package emulator

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// cursor is the state a cursorState token carries.
type cursor struct {
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
	// Page counts pages, so an empty page's successor has a new token.
	Page int `json:"page,omitempty"`
}

type pagination struct {
	Limit        int    `json:"limit"`
	Offset       int    `json:"offset"`
	CursorState  string `json:"cursorState,omitempty"`
	NextURL      string `json:"nextUrl,omitempty"`
	TotalResults *int   `json:"totalResults,omitempty"`
}

// page answers a cursor-paged listing of items. next is the path the
// nextUrl names (the v2 assets call's points at v1, as in the tutorial).
func (s *Service) page(w http.ResponseWriter, r *http.Request, items []any, next string, total bool) {
	q := r.URL.Query()
	if q.Has("offset") {
		writeProblem(w, http.StatusBadRequest, "BadInput", "offset cannot be passed; use cursorState")
		return
	}
	c := cursor{Limit: DefaultLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			writeProblem(w, http.StatusBadRequest, "BadInput", fmt.Sprintf("limit must be 1 to %d", MaxLimit))
			return
		}
		c.Limit = n
	}
	s.mu.Lock()
	opts := s.opts
	s.mu.Unlock()
	if v := q.Get("cursorState"); v != "" {
		var ok bool
		if c, ok = s.decodeCursor(v, opts.OpaqueCursors); !ok {
			writeProblem(w, http.StatusBadRequest, "BadInput", "invalid cursorState")
			return
		}
	}
	size := c.Limit
	if opts.PageSize > 0 {
		size = min(size, opts.PageSize)
	}
	if opts.EmptyPages && c.Page%2 == 1 {
		size = 0
	}
	lo := min(c.Offset, len(items))
	hi := min(lo+size, len(items))
	body := struct {
		Results    []any      `json:"results"`
		Pagination pagination `json:"pagination"`
	}{Results: items[lo:hi], Pagination: pagination{Limit: c.Limit, Offset: lo}}
	if body.Results == nil {
		body.Results = []any{}
	}
	if total {
		n := len(items)
		body.Pagination.TotalResults = &n
	}
	if hi < len(items) {
		token := s.encodeCursor(cursor{Limit: c.Limit, Offset: hi, Page: c.Page + 1}, opts)
		nq := url.Values{}
		for k, v := range q {
			if k != "cursorState" {
				nq[k] = v
			}
		}
		nq.Set("cursorState", token)
		body.Pagination.CursorState = token
		body.Pagination.NextURL = scheme(r) + "://" + r.Host + next + "?" + nq.Encode()
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Service) encodeCursor(c cursor, opts Options) string {
	if !opts.EmptyPages {
		c.Page = 0
	}
	if opts.OpaqueCursors {
		t := strings.ReplaceAll(uuid(), "-", "")
		s.mu.Lock()
		if len(s.cursors) > 10000 {
			s.cursors = map[string]cursor{}
		}
		s.cursors[t] = c
		s.mu.Unlock()
		return t
	}
	b, _ := json.Marshal(c)
	return base64.StdEncoding.EncodeToString(b)
}

func (s *Service) decodeCursor(v string, opaque bool) (cursor, bool) {
	if opaque {
		s.mu.Lock()
		c, ok := s.cursors[v]
		s.mu.Unlock()
		return c, ok
	}
	b, err := base64.StdEncoding.DecodeString(v)
	var c cursor
	if err != nil || json.Unmarshal(b, &c) != nil || c.Limit < 1 || c.Offset < 0 {
		return c, false
	}
	return c, true
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// proj returns the project named in the path.
func (s *Service) proj(w http.ResponseWriter, r *http.Request) *project {
	s.mu.Lock()
	p := s.projects[r.PathValue("projectId")]
	s.mu.Unlock()
	if p == nil { // a project nobody added assets to: empty listings
		p = &project{id: r.PathValue("projectId"), catByID: map[string]*category{}, catAttrs: map[string][]string{}, catSet: map[string]string{}}
	}
	return p
}

func (s *Service) handleAssets(w http.ResponseWriter, r *http.Request) {
	if !s.guard(w) {
		return
	}
	p := s.proj(w, r)
	if p == nil {
		return
	}
	withCA := r.URL.Query().Get("includeCustomAttributes") == "true"
	s.mu.Lock()
	items := make([]any, 0, len(p.assets))
	for _, a := range p.assets {
		cp := *a
		if !withCA {
			cp.CustomAttributes = nil
		}
		items = append(items, cp)
	}
	s.mu.Unlock()
	prefix, _, _ := strings.Cut(r.URL.Path, "/v")
	s.page(w, r, items, prefix+"/v1/projects/"+p.id+"/assets", false)
}

func (s *Service) handleCategories(w http.ResponseWriter, r *http.Request) {
	if !s.guard(w) {
		return
	}
	p := s.proj(w, r)
	if p == nil {
		return
	}
	s.mu.Lock()
	items := make([]any, 0, len(p.categories))
	for _, c := range p.categories {
		cp := *c
		cp.SubcategoryIDs = append([]string{}, c.SubcategoryIDs...)
		items = append(items, cp)
	}
	s.mu.Unlock()
	s.page(w, r, items, r.URL.Path, true)
}

func (s *Service) handleStatusStepSets(w http.ResponseWriter, r *http.Request) {
	if !s.guard(w) {
		return
	}
	p := s.proj(w, r)
	if p == nil {
		return
	}
	s.mu.Lock()
	items := make([]any, 0, len(p.sets))
	for _, set := range p.sets {
		cp := *set
		cp.Values = nil
		for _, st := range set.Values {
			v := *st
			cp.Values = append(cp.Values, &v)
		}
		items = append(items, cp)
	}
	s.mu.Unlock()
	s.page(w, r, items, r.URL.Path, false)
}

func (s *Service) handleAssetStatuses(w http.ResponseWriter, r *http.Request) {
	if !s.guard(w) {
		return
	}
	p := s.proj(w, r)
	if p == nil {
		return
	}
	s.mu.Lock()
	var items []any
	for _, set := range p.sets {
		for _, st := range set.Values {
			items = append(items, *st)
		}
	}
	s.mu.Unlock()
	s.page(w, r, items, r.URL.Path, false)
}

func (s *Service) handleCustomAttributes(w http.ResponseWriter, r *http.Request) {
	if !s.guard(w) {
		return
	}
	p := s.proj(w, r)
	if p == nil {
		return
	}
	s.mu.Lock()
	items := make([]any, 0, len(p.attrs))
	for _, a := range p.attrs {
		items = append(items, *a)
	}
	s.mu.Unlock()
	s.page(w, r, items, r.URL.Path, false)
}

// ancestry returns the category and its ancestors, nearest first.
func (p *project) ancestry(id string) []string {
	var out []string
	seen := map[string]bool{}
	for c := p.catByID[id]; c != nil && !seen[c.ID]; c = p.catByID[c.ParentID] {
		seen[c.ID] = true
		out = append(out, c.ID)
	}
	return out
}

func (s *Service) handleCategoryAttributes(w http.ResponseWriter, r *http.Request) {
	if !s.guard(w) {
		return
	}
	p := s.proj(w, r)
	if p == nil {
		return
	}
	cid := r.PathValue("categoryId")
	inherited := r.URL.Query().Get("includeInherited") == "true"
	s.mu.Lock()
	if p.catByID[cid] == nil {
		s.mu.Unlock()
		writeProblem(w, http.StatusNotFound, "NotFound", "no category "+cid)
		return
	}
	from := []string{cid}
	if inherited {
		from = p.ancestry(cid)
	}
	var items []any
	seen := map[string]bool{}
	for _, c := range from {
		for _, name := range p.catAttrs[c] {
			for _, a := range p.attrs {
				if a.Name == name && !seen[name] {
					seen[name] = true
					cp := *a
					if inherited {
						cp.InheritedFromCategoryID = c
					}
					items = append(items, cp)
				}
			}
		}
	}
	s.mu.Unlock()
	s.page(w, r, items, r.URL.Path, true)
}

func (s *Service) handleBatchGetStatusSets(w http.ResponseWriter, r *http.Request) {
	if !s.guard(w) {
		return
	}
	p := s.proj(w, r)
	if p == nil {
		return
	}
	var body struct {
		IDs []string `json:"ids"`
	}
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.IDs == nil {
		writeProblem(w, http.StatusBadRequest, "BadInput", `the body must be {"ids":[…]}`)
		return
	}
	inherited := r.URL.Query().Get("includeInherited") == "true"
	type result struct {
		CategoryID      string `json:"categoryId"`
		StatusStepSetID string `json:"statusStepSetId"`
	}
	out := []result{}
	s.mu.Lock()
	for _, id := range body.IDs {
		from := []string{id}
		if inherited {
			from = p.ancestry(id)
		}
		for _, c := range from {
			if set, ok := p.catSet[c]; ok {
				out = append(out, result{CategoryID: id, StatusStepSetID: set})
				break
			}
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"results": out})
}

// handleLocationNodes pages with limit and offset; nextUrl is relative
// to the service root, as in the tutorial ("/locations/v2/…").
func (s *Service) handleLocationNodes(w http.ResponseWriter, r *http.Request) {
	if !s.guard(w) {
		return
	}
	s.mu.Lock()
	p := s.projects[r.PathValue("containerId")]
	var items []any
	if p != nil {
		for _, n := range p.locations {
			items = append(items, *n)
		}
	}
	s.mu.Unlock()
	q := r.URL.Query()
	limit, offset := DefaultLimit, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			writeProblem(w, http.StatusBadRequest, "BadInput", fmt.Sprintf("limit must be 1 to %d", MaxLimit))
			return
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeProblem(w, http.StatusBadRequest, "BadInput", "bad offset")
			return
		}
		offset = n
	}
	lo := min(offset, len(items))
	hi := min(lo+limit, len(items))
	pg := map[string]any{"limit": limit, "offset": lo, "totalResults": len(items)}
	if hi < len(items) {
		pg["nextUrl"] = fmt.Sprintf("/locations/v2/containers/%s/trees/default/nodes?limit=%d&offset=%d", r.PathValue("containerId"), limit, hi)
	}
	res := items[lo:hi]
	if res == nil {
		res = []any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": res, "pagination": pg})
}

// handleRelationships answers the search for asset relationships; the
// continuationToken is the offset of the next page.
func (s *Service) handleRelationships(w http.ResponseWriter, r *http.Request) {
	if !s.guard(w) {
		return
	}
	q := r.URL.Query()
	if q.Get("domain") != "autodesk-bim360-asset" || q.Get("type") != "asset" {
		writeProblem(w, http.StatusBadRequest, "BadInput", "domain=autodesk-bim360-asset and type=asset are required")
		return
	}
	limit, offset := DefaultLimit, 0
	if v := q.Get("pageLimit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			writeProblem(w, http.StatusBadRequest, "BadInput", "bad pageLimit")
			return
		}
		limit = n
	}
	if v := q.Get("continuationToken"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeProblem(w, http.StatusBadRequest, "BadInput", "bad continuationToken")
			return
		}
		offset = n
	}
	s.mu.Lock()
	p := s.projects[r.PathValue("containerId")]
	var items []any
	if p != nil {
		for _, rel := range p.rels {
			items = append(items, *rel)
		}
	}
	s.mu.Unlock()
	lo := min(offset, len(items))
	hi := min(lo+limit, len(items))
	pg := map[string]any{"syncToken": base64.StdEncoding.EncodeToString([]byte(`{ "lastChecked":"` + stamp(s.now()) + `" }`))}
	if hi < len(items) {
		pg["continuationToken"] = strconv.Itoa(hi)
	}
	res := items[lo:hi]
	if res == nil {
		res = []any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"page": pg, "relationships": res})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeProblem sends the problem shape BIM 360 services other than Data
// Management use ({"type","title","detail"}).
func writeProblem(w http.ResponseWriter, status int, typ, detail string) {
	writeJSON(w, status, map[string]any{"type": typ, "title": http.StatusText(status), "detail": detail})
}

package emulator

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

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

package emulator

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
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

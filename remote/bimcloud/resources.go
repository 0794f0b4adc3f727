package bimcloud

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/httpx"
)

// Resource types.
const (
	TypeResourceGroup = "resourceGroup" // a folder
	TypeBlob          = "blob"          // a file
)

// Resource is the spec's Resource schema (the fields the client reads),
// plus connectionUrls, which model-server resources carry although the
// schema omits it (workflow.py reads it).
type Resource struct {
	ID             string   `json:"id"`
	Type           string   `json:"type"`
	Name           string   `json:"name"`
	Path           string   `json:"$path"`
	ParentID       string   `json:"$parentId"`
	ModelServerID  string   `json:"modelServerId"`
	ModifiedDate   jsonInt  `json:"$modifiedDate"` // ms since the epoch
	Size           jsonInt  `json:"$size"`         // bytes; blobs only
	ConnectionURLs []string `json:"connectionUrls"`
}

// jsonInt accepts a JSON number (integer or not) or a numeric string:
// BIMcloud sends sizes as numbers in Resource and as strings in blob
// metadata, and timestamps with fractions in the change feed.
type jsonInt int64

func (n *jsonInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		*n = jsonInt(i)
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return err
	}
	*n = jsonInt(f)
	return nil
}

// manager is the Manager's resource API (management/client/…).
type manager struct {
	cfg   Config
	c     *httpx.Client
	pager pager
	// forms remembers which form of a call this Manager takes where the
	// spec and the vendor demo differ.
	forms forms
}

// GetResource is GET management/client/get-resource.
func (m *manager) GetResource(ctx context.Context, id string) (*Resource, error) {
	var r Resource
	u := m.cfg.apiURL("get-resource", url.Values{"resource-id": {id}})
	if err := m.c.JSON(ctx, "bimcloud.GetResource", http.MethodGet, u, "", nil, nil, &r); err != nil {
		return nil, err
	}
	if r.ID == "" {
		return nil, errorf(remote.Unavailable, "bimcloud.GetResource", "the Manager answered without a resource ID for %q", id)
	}
	return &r, nil
}

// ResourcesPage is POST management/client/get-resources-by-criterion with
// the paging query parameters sort-by, skip and limit.
//
// Spec vs demo: the spec documents no query parameters for this call;
// workflow.py pages with sort-by=name&skip=N&limit=M, which the client
// follows.
func (m *manager) ResourcesPage(ctx context.Context, c Criterion, skip, limit int) ([]Resource, error) {
	q := url.Values{"sort-by": {"name"}, "skip": {strconv.Itoa(skip)}, "limit": {strconv.Itoa(limit)}}
	var out []Resource
	err := m.c.JSON(ctx, "bimcloud.GetResourcesByCriterion", http.MethodPost, m.cfg.apiURL("get-resources-by-criterion", q), "", nil, c, &out)
	return out, err
}

// Resources returns every resource matching c, following all pages.
func (m *manager) Resources(ctx context.Context, c Criterion) ([]Resource, error) {
	var all []Resource
	seen := map[string]bool{}
	add := func(page []Resource) {
		for _, r := range page {
			// Skip-based paging can repeat an entry when the folder changes
			// between pages.
			if !seen[r.ID] {
				seen[r.ID] = true
				all = append(all, r)
			}
		}
	}
	skip := 0
	for {
		limit := m.pager.pageSize()
		page, err := m.ResourcesPage(ctx, c, skip, limit)
		if managerCode(err) == ManagerResultLimitExceeded && m.pager.shrink(limit) {
			continue
		}
		if err != nil {
			return nil, err
		}
		add(page)
		n := len(page)
		skip += n
		switch {
		case n == 0:
			return all, nil
		case n >= limit:
			m.pager.full(limit)
			continue
		case m.pager.shortMeansEnd(n):
			return all, nil
		}
		// A short page is the end unless the server caps pages below the
		// limit asked for. Only the next page can tell.
		next, err := m.ResourcesPage(ctx, c, skip, limit)
		if err != nil {
			return nil, err
		}
		if len(next) == 0 {
			return all, nil
		}
		if len(next) <= n {
			m.pager.learnCap(n)
			m.cfg.Logger.Debug("the Manager caps query results", "cap", n)
		}
		add(next)
		skip += len(next)
		if len(next) < n {
			return all, nil
		}
	}
}

// maxPageSize is the page size asked for: "All query APIs have default
// result limit of 1000 items" (workflow.py).
const (
	maxPageSize = 1000
	minPageSize = 50
)

// pager remembers what the server has shown about its page cap, so a short
// page can be recognised as the last one without an extra request.
//
// workflow.py stops at the first page shorter than the limit it asked for.
// That loses entries when the server returns fewer than asked (a cap below
// the limit): if every non-final page holds exactly cap entries, a short
// page n is the end when n is below a page size already seen, or when the
// server has been seen to honour the limit.
type pager struct {
	mu      sync.Mutex // protects the fields below
	limit   int        // page size to ask for; 0 means maxPageSize
	honours bool       // a page of exactly limit entries came back
	maxSeen int        // largest page received
}

func (p *pager) pageSize() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.limit == 0 {
		p.limit = maxPageSize
	}
	return p.limit
}

// full records a full page for limit.
func (p *pager) full(limit int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if limit == p.limit {
		p.honours = true
	}
	p.maxSeen = max(p.maxSeen, limit)
}

// shortMeansEnd reports whether a page of n < limit entries must be the
// last one, and records n otherwise.
func (p *pager) shortMeansEnd(n int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.honours || n < p.maxSeen {
		return true
	}
	p.maxSeen = n
	return false
}

// learnCap records that the server returns at most n entries per call.
func (p *pager) learnCap(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.limit, p.honours, p.maxSeen = n, true, max(p.maxSeen, n)
}

// shrink halves the page size after ResultLimitExceededError; it reports
// false when the size cannot go lower.
func (p *pager) shrink(limit int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if limit <= minPageSize {
		return false
	}
	if p.limit == limit {
		p.limit, p.honours, p.maxSeen = max(limit/2, minPageSize), false, 0
	}
	return true
}

// GetTicket is POST management/client/ticket-generator/get-ticket for a
// blob server (format base64).
//
// Spec vs demo: the spec says a base64 ticket comes back as an
// application/json string; managerapi.py uses the raw body text. The
// client accepts both: a JSON string is unquoted, anything else is taken
// as the bare ticket.
func (m *manager) GetTicket(ctx context.Context, modelServerID string) (string, error) {
	const op = "bimcloud.GetTicket"
	body, err := json.Marshal(map[string]any{"type": "freeTicket", "resources": []string{modelServerID}, "format": "base64"})
	if err != nil {
		return "", err
	}
	u := m.cfg.apiURL("ticket-generator/get-ticket", nil)
	resp, err := m.c.Do(ctx, op, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, err
	})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", &remote.Error{Kind: remote.Unavailable, Op: op, Message: httpx.RedactError(err)}
	}
	t := strings.TrimSpace(string(raw))
	if strings.HasPrefix(t, `"`) {
		if err := json.Unmarshal([]byte(t), &t); err != nil {
			return "", errorf(remote.Unavailable, op, "malformed ticket string")
		}
	}
	if t == "" {
		return "", errorf(remote.Unavailable, op, "the Manager sent an empty ticket")
	}
	return t, nil
}

// Package assets is the client of the BIM 360 / ACC Assets API (assets,
// categories, status step sets, asset statuses, custom attributes and their
// category assignments) and of the Locations and Relationship APIs it
// refers to. Source presents one consistent snapshot of a project's Assets
// data as read-only JSON and CSV files for the BIM 360 backend.
//
// No machine-readable spec of the Assets API exists; the calls follow
// Autodesk's "Retrieve BIM 360 Assets Data" tutorial: cursor pagination
// (follow nextUrl, or pass cursorState back, until both are absent), the v2
// assets call with custom attributes, and the rest under v1.
package assets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/httpx"
)

// Path prefixes of the Assets API. DefaultPrefix is the current one; the
// tutorial's LegacyPrefix is tried when a server answers 404/405 to it.
const (
	DefaultPrefix = "/construction/assets/"
	LegacyPrefix  = "/bim360/assets/"
)

// PageLimit is the page size asked for in cursor-paged listings.
const PageLimit = 100

// maxPages bounds one listing against a server whose cursors never end.
const maxPages = 10000

// Client calls the Assets, Locations and Relationship APIs. Services share
// it and are safe for concurrent use.
type Client struct {
	base     *url.URL
	http     *httpx.Client
	userID   string
	prefixes []string
	// prefix is the index in prefixes of the form this server answered.
	prefix atomic.Int32
	// serverLimit is set once a server refused our page size with 400:
	// listings then leave limit to the server's default.
	serverLimit atomic.Bool

	Assets        *AssetsService
	Locations     *LocationsService
	Relationships *RelationshipsService
}

type service struct{ c *Client }

// AssetsService calls the Assets API: assets, categories, status step
// sets, asset statuses, custom attributes and category assignments.
type AssetsService service

// LocationsService calls the Locations API (location tree nodes).
type LocationsService service

// RelationshipsService calls the Relationship API (asset relationships).
type RelationshipsService service

// NewClient returns a client for the API host baseURL. prefix is the
// Assets API path prefix ("" means DefaultPrefix); with the default, a
// server that refuses it with 404/405 is asked again under LegacyPrefix, and
// the working form is remembered. hc must authenticate its requests.
func NewClient(baseURL, prefix string, hc *httpx.Client, userID string) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("assets: invalid base URL %q", baseURL)
	}
	if hc == nil {
		hc = &httpx.Client{}
	}
	c := &Client{base: u, http: hc, userID: userID}
	switch p := "/" + strings.Trim(prefix, "/") + "/"; {
	case prefix == "" || p == DefaultPrefix:
		c.prefixes = []string{DefaultPrefix, LegacyPrefix}
	default:
		c.prefixes = []string{p}
	}
	s := &service{c: c}
	c.Assets = (*AssetsService)(s)
	c.Locations = (*LocationsService)(s)
	c.Relationships = (*RelationshipsService)(s)
	return c, nil
}

// ProjectID returns the Assets project ID of a BIM 360 project ID (the
// Data Management "b.<uuid>" without "b.").
func ProjectID(dmProjectID string) string { return strings.TrimPrefix(dmProjectID, "b.") }

func (c *Client) host() string {
	return c.base.Scheme + "://" + c.base.Host + strings.TrimRight(c.base.EscapedPath(), "/")
}

func (c *Client) headers() http.Header {
	h := http.Header{}
	if c.userID != "" {
		h.Set("x-user-id", c.userID)
	}
	return h
}

// assetsURL builds an Assets API URL under prefix number i.
func (c *Client) assetsURL(i int, q url.Values, path string, ids ...string) string {
	args := make([]any, len(ids))
	for k, id := range ids {
		args[k] = url.PathEscape(id)
	}
	s := c.host() + strings.TrimRight(c.prefixes[i], "/") + fmt.Sprintf(path, args...)
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// withPrefix runs call under the remembered prefix; if the server refuses
// it as an unknown route (404 without a resource, 405), the next prefix is
// tried and remembered when it works.
func (c *Client) withPrefix(call func(i int) error) error {
	start := int(c.prefix.Load())
	err := call(start)
	for i := start + 1; i < len(c.prefixes) && refusedRoute(err); i++ {
		if err = call(i); err == nil || !refusedRoute(err) {
			c.prefix.Store(int32(i))
		}
	}
	return err
}

func refusedRoute(err error) bool {
	var re *remote.Error
	if !errors.As(err, &re) {
		return false
	}
	return re.Status == http.StatusMethodNotAllowed || (re.Status == http.StatusNotFound && re.Code == "")
}

// Pagination is the Assets API's cursor pagination.
type Pagination struct {
	Limit        int    `json:"limit"`
	Offset       int    `json:"offset"`
	CursorState  string `json:"cursorState,omitempty"`
	NextURL      string `json:"nextUrl,omitempty"`
	TotalResults *int   `json:"totalResults,omitempty"`
}

type cursorPage struct {
	Results    []json.RawMessage `json:"results"`
	Pagination Pagination        `json:"pagination"`
}

// cursorPages fetches first and every following page: nextUrl when the
// answer has one, else first with cursorState set. Empty pages do not end
// the listing; an absent cursor does.
//
// root, if set, is the path of the service on the host: a relative nextUrl
// that lacks it gets it (the Locations API names "/locations/v2/…" under
// "/bim360/").
func (c *Client) cursorPages(ctx context.Context, op, first, root string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	seen := map[string]bool{}
	u := first
	for n := 0; ; n++ {
		if n >= maxPages {
			return nil, &remote.Error{Kind: remote.Unavailable, Op: op, Message: fmt.Sprintf("listing exceeds %d pages", maxPages)}
		}
		if seen[u] {
			return nil, &remote.Error{Kind: remote.Unavailable, Op: op, Message: "pagination loops back to an earlier page"}
		}
		seen[u] = true
		var p cursorPage
		if err := c.http.JSON(ctx, op, http.MethodGet, u, "", c.headers(), nil, &p); err != nil {
			return nil, err
		}
		out = append(out, p.Results...)
		switch {
		case p.Pagination.NextURL != "":
			link := p.Pagination.NextURL
			if root != "" && strings.HasPrefix(link, "/") && !strings.HasPrefix(link, root+"/") {
				link = root + link
			}
			next, err := c.resolve(op, link)
			if err != nil {
				return nil, err
			}
			u = next
		case p.Pagination.CursorState != "":
			fu, _ := url.Parse(first)
			q := fu.Query()
			q.Set("cursorState", p.Pagination.CursorState)
			fu.RawQuery = q.Encode()
			u = fu.String()
		default:
			return out, nil
		}
	}
}

// resolve turns a pagination link into a URL on the API host; links to
// another host are refused because the bearer token would follow them.
func (c *Client) resolve(op, href string) (string, error) {
	ref, err := url.Parse(href)
	if err != nil {
		return "", &remote.Error{Kind: remote.Unavailable, Op: op, Message: "malformed link in response", Err: err}
	}
	u := c.base.ResolveReference(ref)
	if !strings.EqualFold(u.Scheme, c.base.Scheme) || !strings.EqualFold(u.Host, c.base.Host) {
		return "", &remote.Error{Kind: remote.Unavailable, Op: op, Message: "response links to a foreign host " + u.Host}
	}
	return u.String(), nil
}

// list runs a cursor-paged Assets listing under the working prefix.
//
// The page size is ours, not a documented one: a server that refuses it
// with 400 is asked again without it, and from then on always so.
func (c *Client) list(ctx context.Context, op string, q url.Values, path string, ids ...string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	run := func() error {
		if c.serverLimit.Load() {
			q.Del("limit")
		}
		return c.withPrefix(func(i int) error {
			var err error
			out, err = c.cursorPages(ctx, op, c.assetsURL(i, q, path, ids...), "")
			return err
		})
	}
	err := run()
	if remote.IsKind(err, remote.Invalid) && q.Has("limit") && !c.serverLimit.Load() {
		c.serverLimit.Store(true)
		logger := c.http.Logger
		if logger == nil {
			logger = slog.Default()
		}
		logger.Info("server refused the page size; using its default", "op", op, "limit", PageLimit)
		err = run()
	}
	return out, err
}

func limitQuery() url.Values {
	q := url.Values{}
	q.Set("limit", fmt.Sprint(PageLimit))
	return q
}

// List returns every asset of the project with its custom attributes (GET
// v2 assets?includeCustomAttributes=true), all pages.
func (s *AssetsService) List(ctx context.Context, projectID string) ([]json.RawMessage, error) {
	q := limitQuery()
	q.Set("includeCustomAttributes", "true")
	return s.c.list(ctx, "assets.ListAssets", q, "/v2/projects/%s/assets", projectID)
}

// Categories returns every category (GET v1 categories), all pages.
func (s *AssetsService) Categories(ctx context.Context, projectID string) ([]json.RawMessage, error) {
	return s.c.list(ctx, "assets.ListCategories", limitQuery(), "/v1/projects/%s/categories", projectID)
}

// StatusStepSets returns every status step set with its statuses.
func (s *AssetsService) StatusStepSets(ctx context.Context, projectID string) ([]json.RawMessage, error) {
	return s.c.list(ctx, "assets.ListStatusStepSets", limitQuery(), "/v1/projects/%s/status-step-sets", projectID)
}

// Statuses returns every asset status.
func (s *AssetsService) Statuses(ctx context.Context, projectID string) ([]json.RawMessage, error) {
	return s.c.list(ctx, "assets.ListAssetStatuses", limitQuery(), "/v1/projects/%s/asset-statuses", projectID)
}

// CustomAttributes returns every custom attribute of the project.
func (s *AssetsService) CustomAttributes(ctx context.Context, projectID string) ([]json.RawMessage, error) {
	return s.c.list(ctx, "assets.ListCustomAttributes", limitQuery(), "/v1/projects/%s/custom-attributes", projectID)
}

// CategoryCustomAttributes returns the custom attributes of one category,
// inherited ones included (each names inheritedFromCategoryId).
func (s *AssetsService) CategoryCustomAttributes(ctx context.Context, projectID, categoryID string) ([]json.RawMessage, error) {
	q := limitQuery()
	q.Set("includeInherited", "true")
	return s.c.list(ctx, "assets.ListCategoryCustomAttributes", q, "/v1/projects/%s/categories/%s/custom-attributes", projectID, categoryID)
}

// StatusSetAssignment is the status step set in effect for a category.
type StatusSetAssignment struct {
	CategoryID      string `json:"categoryId"`
	StatusStepSetID string `json:"statusStepSetId"`
}

// maxBatch is how many category IDs one batch-get carries.
const maxBatch = 100

// CategoryStatusStepSets returns the status step set of each category,
// inherited assignments included (POST
// category-status-step-sets/status-step-sets:batch-get?includeInherited=true).
func (s *AssetsService) CategoryStatusStepSets(ctx context.Context, projectID string, categoryIDs []string) ([]StatusSetAssignment, error) {
	const op = "assets.BatchGetCategoryStatusStepSets"
	var out []StatusSetAssignment
	for start := 0; start < len(categoryIDs); start += maxBatch {
		ids := categoryIDs[start:min(len(categoryIDs), start+maxBatch)]
		var page struct {
			Results []StatusSetAssignment `json:"results"`
		}
		q := url.Values{}
		q.Set("includeInherited", "true")
		err := s.c.withPrefix(func(i int) error {
			u := s.c.assetsURL(i, q, "/v1/projects/%s/category-status-step-sets/status-step-sets:batch-get", projectID)
			return s.c.http.JSON(ctx, op, http.MethodPost, u, "application/json", s.c.headers(), map[string][]string{"ids": ids}, &page)
		})
		if err != nil {
			return nil, err
		}
		out = append(out, page.Results...)
	}
	return out, nil
}

// Nodes returns every node of a location container's default tree (GET
// locations/v2/containers/{id}/trees/default/nodes), all pages.
func (s *LocationsService) Nodes(ctx context.Context, containerID string) ([]json.RawMessage, error) {
	q := url.Values{}
	q.Set("limit", fmt.Sprint(PageLimit))
	u := s.c.host() + "/bim360/locations/v2/containers/" + url.PathEscape(containerID) + "/trees/default/nodes?" + q.Encode()
	return s.c.cursorPages(ctx, "assets.ListLocationNodes", u, strings.TrimRight(s.c.base.EscapedPath(), "/")+"/bim360")
}

// Search returns every relationship of the project that has an asset on
// one side (GET relationship/v2/containers/{projectId}/relationships:search
// ?domain=autodesk-bim360-asset&type=asset), following continuationToken.
func (s *RelationshipsService) Search(ctx context.Context, projectID string) ([]json.RawMessage, error) {
	const op = "assets.SearchRelationships"
	var out []json.RawMessage
	token := ""
	seen := map[string]bool{}
	for n := 0; ; n++ {
		if n >= maxPages || seen[token] {
			return nil, &remote.Error{Kind: remote.Unavailable, Op: op, Message: "relationship search does not end"}
		}
		seen[token] = true
		q := url.Values{}
		q.Set("domain", "autodesk-bim360-asset")
		q.Set("type", "asset")
		q.Set("pageLimit", fmt.Sprint(PageLimit))
		if token != "" {
			q.Set("continuationToken", token)
		}
		u := s.c.host() + "/bim360/relationship/v2/containers/" + url.PathEscape(projectID) + "/relationships:search?" + q.Encode()
		var page struct {
			Page struct {
				ContinuationToken string `json:"continuationToken"`
				SyncToken         string `json:"syncToken"`
			} `json:"page"`
			Relationships []json.RawMessage `json:"relationships"`
		}
		if err := s.c.http.JSON(ctx, op, http.MethodGet, u, "", s.c.headers(), nil, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Relationships...)
		if page.Page.ContinuationToken == "" || len(page.Relationships) == 0 {
			return out, nil
		}
		token = page.Page.ContinuationToken
	}
}

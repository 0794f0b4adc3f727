// Package bim360 is the client of Autodesk Platform Services (APS) for BIM 360
// and ACC Docs: the Data Management API (hubs, projects, folders, items,
// versions, commands), the OSS signed-S3 download and upload API, and OAuth.
// Backend adapts it to the backend-neutral remote model.
//
// The API client follows the layout of the APS specs: one service type per
// API area (Hubs, Projects, Folders, Items, Versions, Commands, OSS), each
// method named after one spec operation and taking a typed request.
package bim360

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/httpx"
)

// DefaultBaseURL is the APS API host.
const DefaultBaseURL = "https://developer.api.autodesk.com"

// PageLimit is the largest page the Data Management API serves (page[limit]
// max 200); asking for full pages keeps listings at one call per 200 entries.
const PageLimit = 200

// maxPages bounds one listing so a server that keeps handing out new next
// links cannot hold a caller for ever (200 × 10,000 = two million entries).
const maxPages = 10000

// Client talks to the APS Data Management and OSS APIs. Its HTTP client must
// add authentication (httpx.BearerTransport); Client itself only adds
// x-user-id. Services share the client and are safe for concurrent use.
type Client struct {
	base   *url.URL
	http   *httpx.Client
	userID string

	Hubs     *HubsService
	Projects *ProjectsService
	Folders  *FoldersService
	Items    *ItemsService
	Versions *VersionsService
	Commands *CommandsService
	OSS      *OSSService
}

type service struct{ c *Client }

// HubsService calls the hub operations of the Data Management API.
type HubsService service

// ProjectsService calls the project operations of the Data Management API.
type ProjectsService service

// FoldersService calls the folder operations of the Data Management API.
type FoldersService service

// ItemsService calls the item operations of the Data Management API.
type ItemsService service

// VersionsService calls the version operations of the Data Management API.
type VersionsService service

// CommandsService calls the command operations of the Data Management API.
type CommandsService service

// OSSService calls the Object Storage Service.
type OSSService service

// NewClient returns a client for the API at baseURL ("" means
// DefaultBaseURL). hc sends the requests and must authenticate them; its
// DecodeError is replaced by the APS error decoder. userID, if set, is sent
// as x-user-id so two-legged calls act for that user.
func NewClient(baseURL string, hc *httpx.Client, userID string) (*Client, error) {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("bim360: invalid base URL %q", baseURL)
	}
	if hc == nil {
		hc = &httpx.Client{}
	}
	cp := *hc
	cp.DecodeError = DecodeError
	c := &Client{base: u, http: &cp, userID: userID}
	s := &service{c: c}
	c.Hubs = (*HubsService)(s)
	c.Projects = (*ProjectsService)(s)
	c.Folders = (*FoldersService)(s)
	c.Items = (*ItemsService)(s)
	c.Versions = (*VersionsService)(s)
	c.Commands = (*CommandsService)(s)
	c.OSS = (*OSSService)(s)
	return c, nil
}

// BaseURL returns the API base URL.
func (c *Client) BaseURL() *url.URL { u := *c.base; return &u }

// endpoint builds base + path, where path is a format whose %s verbs are
// filled with escaped IDs, so a version ID's "?version=2" travels as
// %3Fversion%3D2 and never starts a query string.
func (c *Client) endpoint(q url.Values, path string, ids ...string) string {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = escapeSegment(id)
	}
	s := c.base.Scheme + "://" + c.base.Host + strings.TrimRight(c.base.EscapedPath(), "/") + fmt.Sprintf(path, args...)
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// escapeSegment escapes one path segment. url.PathEscape leaves "=" and ":"
// alone as RFC 3986 allows; the APS notes ask for "=" in version IDs to be
// encoded too, and encoding ":" is always safe.
func escapeSegment(s string) string {
	e := url.PathEscape(s)
	e = strings.ReplaceAll(e, "=", "%3D")
	return strings.ReplaceAll(e, ":", "%3A")
}

// resolve turns a pagination href, relative or absolute, into a URL on the
// API host. Absolute links to another host are refused: the bearer token
// would follow them.
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

// get sends an authenticated GET and decodes the JSON answer into out.
func (c *Client) get(ctx context.Context, op, u string, out any) error {
	return c.http.JSON(ctx, op, http.MethodGet, u, "", c.headers(), nil, out)
}

// jsonAPIType is the content type of Data Management request bodies.
const jsonAPIType = "application/vnd.api+json"

// send sends an authenticated request with a JSON body of content type ct
// and decodes the JSON answer into out (skipped when out is nil).
func (c *Client) send(ctx context.Context, op, method, u, ct string, in, out any) error {
	return c.http.JSON(ctx, op, method, u, ct, c.headers(), in, out)
}

func (c *Client) headers() http.Header {
	h := http.Header{}
	if c.userID != "" {
		h.Set("x-user-id", c.userID)
	}
	return h
}

// pages fetches first and every page its links.next chain names. page
// decodes one response body into a fresh value and returns that page's
// links; the chain ends when next is absent. Empty pages in the middle of a
// listing are normal (server-side filtering) and do not end it.
func (c *Client) pages(ctx context.Context, op, first string, page func() (any, func() Links)) (int, error) {
	seen := map[string]bool{}
	u := first
	n := 0
	for {
		if seen[u] {
			return n, &remote.Error{Kind: remote.Unavailable, Op: op, Message: "pagination loops back to an earlier page"}
		}
		if n >= maxPages {
			return n, &remote.Error{Kind: remote.Unavailable, Op: op, Message: fmt.Sprintf("listing exceeds %d pages", maxPages)}
		}
		seen[u] = true
		out, links := page()
		if err := c.get(ctx, op, u, out); err != nil {
			return n, err
		}
		n++
		next := links().Next.Href
		if next == "" {
			return n, nil
		}
		var err error
		if u, err = c.resolve(op, next); err != nil {
			return n, err
		}
	}
}

// listPage is one page of a plain JSON:API listing: a data array and links.
type listPage[T any] struct {
	Data  []T   `json:"data"`
	Links Links `json:"links"`
}

// allPages fetches a plain listing through c.pages and joins the data of
// every page; links are the last page's.
func allPages[T any](ctx context.Context, c *Client, op, first string) (data []T, links Links, pages int, err error) {
	pages, err = c.pages(ctx, op, first, func() (any, func() Links) {
		var p listPage[T]
		return &p, func() Links {
			data = append(data, p.Data...)
			links = p.Links
			return p.Links
		}
	})
	return data, links, pages, err
}

// pageQuery returns the query of a paged listing's first call.
func pageQuery() url.Values {
	q := url.Values{}
	q.Set("page[limit]", fmt.Sprint(PageLimit))
	return q
}

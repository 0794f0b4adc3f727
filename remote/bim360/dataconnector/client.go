// Package dataconnector is the client of the APS Data Connector API
// (/data-connector/v1/accounts/{accountId}/…): data requests, the jobs they
// spawn, each job's data listing and signed URLs to the extracted files.
// Source presents the completed extracts of one account as a read-only
// folder tree for the BIM 360 backend.
//
// The account ID is the BIM 360 hub ID without its "b." prefix. Every call
// needs a user context with the executive overview permission; without it
// the service answers 403.
package dataconnector

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/httpx"
)

// PageLimit is the page size asked for in request and job listings.
const PageLimit = 100

// maxPages bounds one listing against a server whose offsets never end.
const maxPages = 1000

// Client calls the Data Connector API. Services share it and are safe for
// concurrent use.
type Client struct {
	base   *url.URL
	http   *httpx.Client
	userID string
	// serverLimit is set once a server refused our page size with 400:
	// listings then leave limit to the server's default (20).
	serverLimit atomic.Bool

	Requests *RequestsService
	Jobs     *JobsService
}

type service struct{ c *Client }

// RequestsService calls the data request operations.
type RequestsService service

// JobsService calls the job operations: job listings, data listings and
// signed URLs of extracted files.
type JobsService service

// NewClient returns a client for the API at baseURL (the APS host). hc must
// authenticate its requests and should decode APS error bodies; userID, if
// set, goes into x-user-id.
func NewClient(baseURL string, hc *httpx.Client, userID string) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("dataconnector: invalid base URL %q", baseURL)
	}
	if hc == nil {
		hc = &httpx.Client{}
	}
	c := &Client{base: u, http: hc, userID: userID}
	s := &service{c: c}
	c.Requests = (*RequestsService)(s)
	c.Jobs = (*JobsService)(s)
	return c, nil
}

// AccountID returns the Data Connector account ID of a BIM 360 hub ID.
func AccountID(hubID string) string { return strings.TrimPrefix(hubID, "b.") }

func (c *Client) endpoint(q url.Values, path string, ids ...string) string {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = url.PathEscape(id)
	}
	s := c.base.Scheme + "://" + c.base.Host + strings.TrimRight(c.base.EscapedPath(), "/") +
		"/data-connector/v1/accounts" + fmt.Sprintf(path, args...)
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

func (c *Client) get(ctx context.Context, op, u string, out any) error {
	h := http.Header{}
	if c.userID != "" {
		h.Set("x-user-id", c.userID)
	}
	return c.http.JSON(ctx, op, http.MethodGet, u, "", h, nil, out)
}

// Pagination is the offset pagination of request and job listings.
type Pagination struct {
	Limit        int `json:"limit"`
	Offset       int `json:"offset"`
	TotalResults int `json:"totalResults"`
}

// Request is a data request: a schedule that spawns extraction jobs.
type Request struct {
	ID                 string    `json:"id"`
	AccountID          string    `json:"accountId"`
	ProjectID          string    `json:"projectId,omitempty"`
	Description        string    `json:"description"`
	IsActive           bool      `json:"isActive"`
	ScheduleInterval   string    `json:"scheduleInterval"`
	ReoccuringInterval int       `json:"reoccuringInterval,omitempty"`
	ServiceGroups      []string  `json:"serviceGroups"`
	EffectiveFrom      time.Time `json:"effectiveFrom"`
	EffectiveTo        time.Time `json:"effectiveTo"`
	CallbackURL        string    `json:"callbackUrl,omitempty"`
	CreatedAt          time.Time `json:"createdAt"`
	UpdatedAt          time.Time `json:"updatedAt"`
}

// Job statuses and completion statuses the client acts on.
const (
	JobComplete = "complete"
	JobSuccess  = "success"
)

// Job is one run of a data request.
type Job struct {
	ID               string    `json:"id"`
	RequestID        string    `json:"requestId"`
	AccountID        string    `json:"accountId"`
	ProjectID        string    `json:"projectId"`
	CreatedBy        string    `json:"createdBy"`
	CreatedByEmail   string    `json:"createdByEmail"`
	Status           string    `json:"status"`
	CompletionStatus string    `json:"completionStatus"`
	StartedAt        time.Time `json:"startedAt"`
	CompletedAt      time.Time `json:"completedAt"`
	CreatedAt        time.Time `json:"createdAt"`
}

// Succeeded reports whether the job completed with data to read.
func (j *Job) Succeeded() bool {
	return j.Status == JobComplete && j.CompletionStatus == JobSuccess && !j.CompletedAt.IsZero()
}

// DataFile is one file of a job's data extract.
type DataFile struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
	Size      int64     `json:"size"`
}

// SignedData is the answer of JobsService.Data: a signed URL to one file,
// usable for SignedURLLifetime.
type SignedData struct {
	Name      string `json:"name"`
	Size      int64  `json:"size"`
	SignedURL string `json:"signedUrl"`
}

// SignedURLLifetime is how long a signed URL from JobsService.Data may be
// used (seed: "within 60 seconds").
const SignedURLLifetime = 60 * time.Second

type page[T any] struct {
	Pagination Pagination `json:"pagination"`
	Results    []T        `json:"results"`
}

// allPages fetches an offset-paged listing until totalResults is reached or
// a page comes back short.
func allPages[T any](ctx context.Context, c *Client, op string, url func(offset int) string) ([]T, error) {
	var out []T
	offset := 0
	for n := 0; ; n++ {
		if n >= maxPages {
			return out, &remote.Error{Kind: remote.Unavailable, Op: op, Message: fmt.Sprintf("listing exceeds %d pages", maxPages)}
		}
		var p page[T]
		err := c.get(ctx, op, url(offset), &p)
		if n == 0 && remote.IsKind(err, remote.Invalid) && !c.serverLimit.Load() {
			// The page size is ours, not the service's documented one:
			// a server that refuses it gets its own default from now on.
			c.serverLimit.Store(true)
			logger := c.http.Logger
			if logger == nil {
				logger = slog.Default()
			}
			logger.Info("server refused the page size; using its default", "op", op, "limit", PageLimit)
			err = c.get(ctx, op, url(offset), &p)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p.Results...)
		offset += len(p.Results)
		if len(p.Results) == 0 || offset >= p.Pagination.TotalResults {
			return out, nil
		}
	}
}

func (c *Client) pageQuery(offset int) url.Values {
	q := url.Values{}
	if !c.serverLimit.Load() {
		q.Set("limit", fmt.Sprint(PageLimit))
	}
	q.Set("offset", fmt.Sprint(offset))
	return q
}

// List returns every data request of the account (GET requests), all pages.
func (s *RequestsService) List(ctx context.Context, accountID string) ([]Request, error) {
	const op = "dataconnector.ListRequests"
	return allPages[Request](ctx, s.c, op, func(offset int) string {
		return s.c.endpoint(s.c.pageQuery(offset), "/%s/requests", accountID)
	})
}

// JobsRequest selects the jobs of one data request.
type JobsRequest struct {
	AccountID string
	RequestID string
	// Sort is "asc" or "desc" by creation; "" means the service default (asc).
	Sort string
}

// ListByRequest returns every job a data request spawned (GET
// requests/{id}/jobs), all pages.
func (s *JobsService) ListByRequest(ctx context.Context, r *JobsRequest) ([]Job, error) {
	const op = "dataconnector.ListRequestJobs"
	return allPages[Job](ctx, s.c, op, func(offset int) string {
		q := s.c.pageQuery(offset)
		if r.Sort != "" {
			q.Set("sort", r.Sort)
		}
		return s.c.endpoint(q, "/%s/requests/%s/jobs", r.AccountID, r.RequestID)
	})
}

// DataListing returns the files of a job's data extract (GET
// jobs/{id}/data-listing, a bare JSON array).
func (s *JobsService) DataListing(ctx context.Context, accountID, jobID string) ([]DataFile, error) {
	const op = "dataconnector.DataListing"
	var out []DataFile
	if err := s.c.get(ctx, op, s.c.endpoint(nil, "/%s/jobs/%s/data-listing", accountID, jobID), &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Data returns a signed URL to one file of a job's extract (GET
// jobs/{id}/data/{name}).
func (s *JobsService) Data(ctx context.Context, accountID, jobID, name string) (*SignedData, error) {
	const op = "dataconnector.Data"
	var out SignedData
	if err := s.c.get(ctx, op, s.c.endpoint(nil, "/%s/jobs/%s/data/%s", accountID, jobID, name), &out); err != nil {
		return nil, err
	}
	if out.SignedURL == "" {
		return nil, &remote.Error{Kind: remote.Unavailable, Op: op, Message: "answer carries no signed URL for " + name}
	}
	return &out, nil
}

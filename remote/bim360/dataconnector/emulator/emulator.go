// Package emulator serves the Data Connector API
// (/data-connector/v1/accounts/{accountId}/…) from memory for tests and the
// demo mount: data requests, their jobs, each job's data listing and signed
// URLs to the extracted files, which a short-lived, HMAC-signed download
// route serves with range support.
//
// It has no listener of its own: Routes registers its handlers with a host
// server (the BIM 360 emulator), which adds authentication, counting and
// the generic fault injection. Fault knobs of its own: FailNext answers the
// next calls with 429 or 503, Forbid makes an account answer 403 (no
// executive overview permission), Options.URLLifetime shortens signed URLs
// and the host's clock (Now) expires them.
package emulator

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Operation names passed to the host's Handle, for its counters.
const (
	OpListRequests = "DC GET requests"
	OpGetRequest   = "DC GET request"
	OpRequestJobs  = "DC GET request jobs"
	OpListJobs     = "DC GET jobs"
	OpGetJob       = "DC GET job"
	OpDataListing  = "DC GET data-listing"
	OpData         = "DC GET data"
	OpDownload     = "DC S3 GET"
)

// DefaultURLLifetime is the life of a signed URL (seed 001: 60 seconds).
const DefaultURLLifetime = 60 * time.Second

// MaxLimit is the largest page size the listings accept.
const MaxLimit = 100

// DefaultLimit is the page size when none is asked for (seed 001: 20).
const DefaultLimit = 20

// Options are the service's knobs.
type Options struct {
	// URLLifetime overrides the life of signed URLs; 0 means 60 s.
	URLLifetime time.Duration
}

// Handle registers one route with the host: pattern as for
// http.ServeMux, op for counters, public for routes that carry their own
// signature instead of a bearer token.
type Handle func(pattern, op string, public bool, h http.HandlerFunc)

// Service is the emulated Data Connector. Builder methods may be called
// while it serves.
type Service struct {
	now func() time.Time
	key []byte

	mu        sync.Mutex
	opts      Options
	accounts  map[string]*account // by account ID; mu protects all state
	jobs      map[string]*job     // by job ID
	forbidden map[string]bool
	fail      []int // statuses of the next calls to fail
}

type account struct {
	id       string
	requests []*request
}

type request struct {
	id, accountID, projectID, description, interval string
	serviceGroups                                   []string
	createdAt, effectiveFrom                        time.Time
	jobs                                            []*job
}

type job struct {
	id, requestID, accountID, projectID string
	status, completion                  string
	created, started, completed         time.Time
	files                               []file
}

type file struct {
	name    string
	created time.Time
	data    []byte
}

// New returns an empty service whose clock is now (nil means time.Now).
func New(opts Options, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &Service{now: now, key: key, opts: opts, accounts: map[string]*account{},
		jobs: map[string]*job{}, forbidden: map[string]bool{}}
}

// SetOptions replaces the knobs.
func (s *Service) SetOptions(o Options) {
	s.mu.Lock()
	s.opts = o
	s.mu.Unlock()
}

// Forbid makes every call for the account answer 403, as for a user
// without the executive overview permission.
func (s *Service) Forbid(accountID string) {
	s.mu.Lock()
	s.forbidden[accountID] = true
	s.mu.Unlock()
}

// FailNext makes the next n API calls (not downloads) answer status (429
// with Retry-After: 1, or any other status with a JSON error body).
func (s *Service) FailNext(status, n int) {
	s.mu.Lock()
	for range n {
		s.fail = append(s.fail, status)
	}
	s.mu.Unlock()
}

func (s *Service) uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

// AddRequest adds a data request to the account (created if new) and
// returns its ID. projectID may be empty for an account-level request.
func (s *Service) AddRequest(accountID, projectID, description string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[accountID]
	if a == nil {
		a = &account{id: accountID}
		s.accounts[accountID] = a
	}
	now := s.now().UTC()
	r := &request{id: s.uuid(), accountID: accountID, projectID: projectID, description: description,
		interval: "WEEK", serviceGroups: []string{"all"}, createdAt: now, effectiveFrom: now}
	a.requests = append(a.requests, r)
	return r.id
}

// File is one file of a job's extract.
type File struct {
	Name string
	Data []byte
}

// AddJob adds a job to a request. A job with completedAt set is complete
// and successful with the given files; a zero completedAt makes it a job
// still running (no files).
func (s *Service) AddJob(accountID, requestID string, startedAt, completedAt time.Time, files []File) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.findRequest(accountID, requestID)
	if r == nil {
		panic(fmt.Sprintf("dataconnector emulator: AddJob: unknown request %q", requestID))
	}
	j := &job{id: s.uuid(), requestID: r.id, accountID: accountID, projectID: r.projectID,
		created: startedAt.Add(-10 * time.Second).UTC(), started: startedAt.UTC(), status: "running"}
	if !completedAt.IsZero() {
		j.status, j.completion, j.completed = "complete", "success", completedAt.UTC()
		for _, f := range files {
			j.files = append(j.files, file{name: f.Name, created: completedAt.UTC(), data: f.Data})
		}
	}
	r.jobs = append(r.jobs, j)
	s.jobs[j.id] = j
	return j.id
}

func (s *Service) findRequest(accountID, requestID string) *request {
	a := s.accounts[accountID]
	if a == nil {
		return nil
	}
	for _, r := range a.requests {
		if r.id == requestID {
			return r
		}
	}
	return nil
}

// FileData returns the bytes of one extracted file, for tests.
func (s *Service) FileData(jobID, name string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[jobID]
	if j == nil {
		return nil, false
	}
	for _, f := range j.files {
		if f.name == name {
			return f.data, true
		}
	}
	return nil, false
}

// Routes registers the service's handlers with the host.
func (s *Service) Routes(h Handle) {
	const p = "GET /data-connector/v1/accounts/{accountId}"
	h(p+"/requests", OpListRequests, false, s.handleListRequests)
	h(p+"/requests/{requestId}", OpGetRequest, false, s.handleGetRequest)
	h(p+"/requests/{requestId}/jobs", OpRequestJobs, false, s.handleRequestJobs)
	h(p+"/jobs", OpListJobs, false, s.handleListJobs)
	h(p+"/jobs/{jobId}", OpGetJob, false, s.handleGetJob)
	h(p+"/jobs/{jobId}/data-listing", OpDataListing, false, s.handleDataListing)
	h(p+"/jobs/{jobId}/data/{name}", OpData, false, s.handleData)
	h("GET /dc-extracts/{jobId}/{name}", OpDownload, true, s.handleDownload)
}

// pageParams parses limit and offset; ok is false after a 400 was sent.
func pageParams(w http.ResponseWriter, r *http.Request) (limit, offset int, ok bool) {
	limit, offset = DefaultLimit, 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			writeError(w, http.StatusBadRequest, "BAD_INPUT", fmt.Sprintf("limit must be 1 to %d", MaxLimit))
			return 0, 0, false
		}
		limit = n
	}
	if v := r.URL.Query().Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "BAD_INPUT", "offset must be a whole number")
			return 0, 0, false
		}
		offset = n
	}
	if v := r.URL.Query().Get("sort"); v != "" && v != "asc" && v != "desc" {
		writeError(w, http.StatusBadRequest, "BAD_INPUT", "sort must be asc or desc")
		return 0, 0, false
	}
	return limit, offset, true
}

// sign returns the signature of a download URL valid until exp.
func (s *Service) sign(jobID, name string, exp int64) string {
	m := hmac.New(sha256.New, s.key)
	fmt.Fprintf(m, "%s\n%s\n%d", jobID, name, exp)
	return hex.EncodeToString(m.Sum(nil))
}

func sortJobs(jobs []*job, desc bool) []*job {
	out := append([]*job(nil), jobs...)
	sort.SliceStable(out, func(a, b int) bool {
		if desc {
			return out[a].created.After(out[b].created)
		}
		return out[a].created.Before(out[b].created)
	})
	return out
}

func isDesc(r *http.Request) bool { return strings.EqualFold(r.URL.Query().Get("sort"), "desc") }

// Counts returns the number of data requests of an account and of their
// jobs that completed successfully.
func (s *Service) Counts(accountID string) (requests, completedJobs int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[accountID]
	if a == nil {
		return 0, 0
	}
	for _, r := range a.requests {
		requests++
		for _, j := range r.jobs {
			if j.completion == "success" {
				completedJobs++
			}
		}
	}
	return requests, completedJobs
}

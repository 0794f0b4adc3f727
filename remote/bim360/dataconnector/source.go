package dataconnector

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/httpx"
)

// FolderName is the name of the read-only folder each hub directory shows.
const FolderName = "Data Connector"

// LatestName is the folder in each request folder that shows the files of
// the request's newest completed job.
const LatestName = "latest"

// DefaultTTL is how long request and job listings are reused before the
// next listing asks the service again. Data listings of completed jobs never
// change and are kept for the life of the Source.
const DefaultTTL = 30 * time.Second

// readOnly is the message of every refused write below the folder.
const readOnly = "read-only: Data Connector data"

// ReadOnlyError is the error of every write below the folder.
func ReadOnlyError(op string) error { return remote.Errorf(remote.Permission, op, readOnly) }

// Source presents the completed data extracts of BIM 360 accounts as
// read-only folders:
//
//	Data Connector/<request description>/<YYYY-MM-DD HHMMSS> <job id prefix>/<file>
//	Data Connector/<request description>/latest/<file>
//
// Only jobs that completed successfully appear; latest has the children of
// the newest of them. Listing costs one requests call per hub, one jobs call
// per request and one data-listing call per job, each reused for TTL (data
// listings for ever); reading costs one signed-URL call per file and minute.
type Source struct {
	c    *Client
	s3   *httpx.Client
	ttl  time.Duration
	log  *slog.Logger
	now  func() time.Time
	urls *urlCache

	mu        sync.Mutex
	requests  map[string]cached[[]Request] // by hub; mu protects the maps
	jobs      map[string]cached[[]Job]     // by hub|request
	listings  map[string][]DataFile        // by job
	forbidden map[string]time.Time         // hubs that answered 403, when
}

type cached[T any] struct {
	v  T
	at time.Time
}

// maxListings bounds the data-listing cache (an arbitrary half is dropped
// when it fills; a dropped listing costs one call when needed again).
const maxListings = 4096

// NewSource returns a Source over c. s3 fetches the signed URLs (it must not
// add authentication); ttl 0 means DefaultTTL.
func NewSource(c *Client, s3 *httpx.Client, ttl time.Duration, log *slog.Logger) *Source {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Source{c: c, s3: s3, ttl: ttl, log: log, now: time.Now,
		requests: map[string]cached[[]Request]{}, jobs: map[string]cached[[]Job]{},
		listings: map[string][]DataFile{}, forbidden: map[string]time.Time{}}
	s.urls = newURLCache(c, func() time.Time { return s.clock() })
	return s
}

// Folder returns the entry of a hub's Data Connector folder.
func (s *Source) Folder(hubID string) remote.Entry {
	return remote.Entry{ID: node{hub: hubID}.id(), Name: FolderName, Dir: true, ReadOnly: true}
}

// List returns the children of a folder below a Data Connector folder.
func (s *Source) List(ctx context.Context, id remote.ID) ([]remote.Entry, error) {
	const op = "dataconnector.List"
	n, ok := parseNode(id)
	if !ok {
		return nil, remote.Errorf(remote.NotFound, op, "unknown entry %q", id)
	}
	switch n.kind {
	case nodeTop:
		reqs, err := s.listRequests(ctx, n.hub)
		if err != nil {
			return nil, err
		}
		out := make([]remote.Entry, 0, len(reqs))
		for i := range reqs {
			if reqs[i].ID == "" || strings.Contains(reqs[i].ID, "|") {
				s.log.Warn("skipping a data request with an unusable ID", "request", reqs[i].ID)
				continue
			}
			out = append(out, requestEntry(n.hub, &reqs[i]))
		}
		sortEntries(out)
		return out, nil
	case nodeRequest:
		jobs, err := s.listJobs(ctx, n.hub, n.request)
		if err != nil {
			return nil, err
		}
		out := make([]remote.Entry, 0, len(jobs)+1)
		for i := range jobs {
			out = append(out, jobEntry(n.hub, n.request, &jobs[i]))
		}
		sortEntries(out)
		if len(jobs) > 0 {
			out = append(out, latestEntry(n.hub, n.request, &jobs[0]))
		}
		return out, nil
	case nodeLatest:
		j, err := s.latest(ctx, n.hub, n.request)
		if err != nil {
			return nil, err
		}
		return s.listFiles(ctx, node{kind: nodeLatestFile, hub: n.hub, request: n.request, job: j.ID})
	case nodeJob:
		return s.listFiles(ctx, node{kind: nodeFile, hub: n.hub, request: n.request, job: n.job})
	}
	return nil, remote.Errorf(remote.Invalid, op, "%q is not a folder", id)
}

// Stat returns one entry below a Data Connector folder, from the cached
// listings where they are fresh.
func (s *Source) Stat(ctx context.Context, id remote.ID) (remote.Entry, error) {
	const op = "dataconnector.Stat"
	n, ok := parseNode(id)
	if !ok {
		return remote.Entry{}, remote.Errorf(remote.NotFound, op, "unknown entry %q", id)
	}
	switch n.kind {
	case nodeTop:
		return s.Folder(n.hub), nil
	case nodeRequest:
		reqs, err := s.listRequests(ctx, n.hub)
		if err != nil {
			return remote.Entry{}, err
		}
		for i := range reqs {
			if reqs[i].ID == n.request {
				return requestEntry(n.hub, &reqs[i]), nil
			}
		}
	case nodeLatest:
		j, err := s.latest(ctx, n.hub, n.request)
		if err != nil {
			return remote.Entry{}, err
		}
		return latestEntry(n.hub, n.request, j), nil
	case nodeJob:
		jobs, err := s.listJobs(ctx, n.hub, n.request)
		if err != nil {
			return remote.Entry{}, err
		}
		for i := range jobs {
			if jobs[i].ID == n.job {
				return jobEntry(n.hub, n.request, &jobs[i]), nil
			}
		}
	case nodeFile, nodeLatestFile:
		if n.kind == nodeLatestFile {
			j, err := s.latest(ctx, n.hub, n.request)
			if err != nil {
				return remote.Entry{}, err
			}
			if j.ID != n.job {
				return remote.Entry{}, remote.Errorf(remote.NotFound, op, "a newer job replaced %s in %s", n.job, LatestName)
			}
		}
		files, err := s.dataListing(ctx, n.hub, n.job)
		if err != nil {
			return remote.Entry{}, err
		}
		for _, f := range files {
			if f.Name == n.name {
				return fileEntry(n, f), nil
			}
		}
	}
	return remote.Entry{}, remote.Errorf(remote.NotFound, op, "%s does not exist (any more)", id)
}

func (s *Source) listFiles(ctx context.Context, parent node) ([]remote.Entry, error) {
	files, err := s.dataListing(ctx, parent.hub, parent.job)
	if err != nil {
		return nil, err
	}
	out := make([]remote.Entry, 0, len(files))
	for _, f := range files {
		if f.Name == "" {
			continue
		}
		out = append(out, fileEntry(parent, f))
	}
	sortEntries(out)
	return out, nil
}

// listRequests returns the hub's requests. A hub that answers 403 (the user
// lacks executive overview) shows an empty folder: it is logged once per
// TTL, not reported on every listing.
func (s *Source) listRequests(ctx context.Context, hub string) ([]Request, error) {
	now := s.clock()
	s.mu.Lock()
	if c, ok := s.requests[hub]; ok && now.Sub(c.at) < s.ttl {
		s.mu.Unlock()
		return c.v, nil
	}
	if at, ok := s.forbidden[hub]; ok && now.Sub(at) < s.ttl {
		s.mu.Unlock()
		return nil, nil
	}
	_, knownForbidden := s.forbidden[hub]
	s.mu.Unlock()
	reqs, err := s.c.Requests.List(ctx, AccountID(hub))
	if remote.IsKind(err, remote.Permission) {
		if !knownForbidden {
			s.log.Warn("Data Connector folder is empty: the user lacks the executive overview permission in this account", "hub", hub)
		}
		s.mu.Lock()
		s.forbidden[hub] = now
		delete(s.requests, hub)
		s.mu.Unlock()
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	delete(s.forbidden, hub)
	s.requests[hub] = cached[[]Request]{v: reqs, at: now}
	s.mu.Unlock()
	return reqs, nil
}

// listJobs returns the request's successfully completed jobs, newest first.
func (s *Source) listJobs(ctx context.Context, hub, request string) ([]Job, error) {
	key := hub + "|" + request
	now := s.clock()
	s.mu.Lock()
	if c, ok := s.jobs[key]; ok && now.Sub(c.at) < s.ttl {
		s.mu.Unlock()
		return c.v, nil
	}
	s.mu.Unlock()
	all, err := s.c.Jobs.ListByRequest(ctx, &JobsRequest{AccountID: AccountID(hub), RequestID: request, Sort: "desc"})
	if err != nil {
		return nil, err
	}
	done := make([]Job, 0, len(all))
	for _, j := range all {
		if j.Succeeded() && j.ID != "" && !strings.Contains(j.ID, "|") {
			done = append(done, j)
		}
	}
	sort.SliceStable(done, func(a, b int) bool { return done[a].CompletedAt.After(done[b].CompletedAt) })
	s.mu.Lock()
	s.jobs[key] = cached[[]Job]{v: done, at: now}
	s.mu.Unlock()
	return done, nil
}

func (s *Source) latest(ctx context.Context, hub, request string) (*Job, error) {
	jobs, err := s.listJobs(ctx, hub, request)
	if err != nil {
		return nil, err
	}
	if len(jobs) == 0 {
		return nil, remote.Errorf(remote.NotFound, "dataconnector.List", "request %s has no completed job yet", request)
	}
	return &jobs[0], nil
}

// dataListing returns a completed job's files; they never change, so the
// answer is kept.
func (s *Source) dataListing(ctx context.Context, hub, job string) ([]DataFile, error) {
	s.mu.Lock()
	files, ok := s.listings[job]
	s.mu.Unlock()
	if ok {
		return files, nil
	}
	files, err := s.c.Jobs.DataListing(ctx, AccountID(hub), job)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if len(s.listings) >= maxListings {
		n := 0
		for k := range s.listings {
			if n >= maxListings/2 {
				break
			}
			delete(s.listings, k)
			n++
		}
	}
	s.listings[job] = files
	s.mu.Unlock()
	return files, nil
}

// SetClock replaces the clock that ages listings and signed URLs (tests).
func (s *Source) SetClock(now func() time.Time) {
	s.mu.Lock()
	s.now = now
	s.mu.Unlock()
}

func (s *Source) clock() time.Time {
	s.mu.Lock()
	now := s.now
	s.mu.Unlock()
	return now()
}

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

// Entry IDs below the folder (all start with Prefix; hub, request and job
// IDs never contain "|", a file name is taken verbatim as the last field):
//
//	Data Connector        "dc:<hubID>"
//	<request>             "dc:<hubID>|r|<requestID>"
//	<request>/latest      "dc:<hubID>|l|<requestID>"
//	<request>/<job>       "dc:<hubID>|j|<requestID>|<jobID>"
//	<job>/<file>          "dc:<hubID>|f|<requestID>|<jobID>|<name>"
//	latest/<file>         "dc:<hubID>|lf|<requestID>|<jobID>|<name>"
//
// A file below latest has its own ID (one parent per ID) but the version of
// the job's file, so both share cached bytes.
const Prefix = "dc:"

type nodeKind string

const (
	nodeTop        nodeKind = ""
	nodeRequest    nodeKind = "r"
	nodeLatest     nodeKind = "l"
	nodeJob        nodeKind = "j"
	nodeFile       nodeKind = "f"
	nodeLatestFile nodeKind = "lf"
)

type node struct {
	kind              nodeKind
	hub, request, job string
	name              string
}

func (n node) id() remote.ID {
	s := Prefix + n.hub
	switch n.kind {
	case nodeRequest, nodeLatest:
		s += "|" + string(n.kind) + "|" + n.request
	case nodeJob:
		s += "|j|" + n.request + "|" + n.job
	case nodeFile, nodeLatestFile:
		s += "|" + string(n.kind) + "|" + n.request + "|" + n.job + "|" + n.name
	}
	return remote.ID(s)
}

func parseNode(id remote.ID) (node, bool) {
	s, ok := strings.CutPrefix(string(id), Prefix)
	if !ok || s == "" {
		return node{}, false
	}
	f := strings.SplitN(s, "|", 5)
	n := node{hub: f[0]}
	if len(f) == 1 {
		return n, n.hub != ""
	}
	n.kind = nodeKind(f[1])
	switch {
	case (n.kind == nodeRequest || n.kind == nodeLatest) && len(f) == 3:
		n.request = f[2]
	case n.kind == nodeJob && len(f) == 4:
		n.request, n.job = f[2], f[3]
	case (n.kind == nodeFile || n.kind == nodeLatestFile) && len(f) == 5:
		n.request, n.job, n.name = f[2], f[3], f[4]
	default:
		return node{}, false
	}
	needJob := n.kind == nodeJob || n.kind == nodeFile || n.kind == nodeLatestFile
	needName := n.kind == nodeFile || n.kind == nodeLatestFile
	return n, n.hub != "" && n.request != "" && (!needJob || n.job != "") && (!needName || n.name != "")
}

// Owns reports whether id is an entry of a Source.
func Owns(id remote.ID) bool { return strings.HasPrefix(string(id), Prefix) }

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

// maxListings bounds the data-listing cache (the oldest half is dropped).
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

func requestEntry(hub string, r *Request) remote.Entry {
	name := strings.TrimSpace(r.Description)
	if name == "" {
		name = r.ID
	}
	mod := r.UpdatedAt
	if mod.IsZero() {
		mod = r.CreatedAt
	}
	return remote.Entry{ID: node{kind: nodeRequest, hub: hub, request: r.ID}.id(), Name: name, Dir: true, ModTime: mod, ReadOnly: true}
}

// JobName is the folder name of a completed job: its completion time (UTC)
// and the first eight characters of its ID.
func JobName(j *Job) string {
	short := j.ID
	if len(short) > 8 {
		short = short[:8]
	}
	return j.CompletedAt.UTC().Format("2006-01-02 150405") + " " + short
}

func jobEntry(hub, request string, j *Job) remote.Entry {
	return remote.Entry{ID: node{kind: nodeJob, hub: hub, request: request, job: j.ID}.id(),
		Name: JobName(j), Dir: true, ModTime: j.CompletedAt, ReadOnly: true}
}

func latestEntry(hub, request string, j *Job) remote.Entry {
	return remote.Entry{ID: node{kind: nodeLatest, hub: hub, request: request}.id(),
		Name: LatestName, Dir: true, ModTime: j.CompletedAt, ReadOnly: true}
}

func fileEntry(parent node, f DataFile) remote.Entry {
	n := node{kind: parent.kind, hub: parent.hub, request: parent.request, job: parent.job, name: f.Name}
	if n.kind != nodeLatestFile {
		n.kind = nodeFile
	}
	return remote.Entry{ID: n.id(), Name: f.Name, Size: f.Size, ModTime: f.CreatedAt, ReadOnly: true,
		Version: remote.Version{ID: Prefix + parent.job + "/" + f.Name, Number: 1}}
}

func sortEntries(es []remote.Entry) {
	sort.Slice(es, func(i, j int) bool {
		if es[i].Name != es[j].Name {
			return es[i].Name < es[j].Name
		}
		return es[i].ID < es[j].ID
	})
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

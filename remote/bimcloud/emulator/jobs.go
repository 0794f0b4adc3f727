package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Job statuses (spec Job.status).
const (
	JobStarting    = "starting"
	JobRunning     = "running"
	JobFailed      = "failed"
	JobCompleted   = "completed"
	JobAborted     = "aborted"
	JobAborting    = "aborting"
	JobUndoing     = "undoing"
	JobAbortFailed = "abort failed"
)

// job is one manager job. Only destroyResources jobs exist here.
//
// (emulator) A job moves one step per get-job call, so a test sees every
// state: delete-resources-by-id-list answers starting, the first get-job
// running, the second completed (or failed, when a resource
// vanished before the job ran). A job nobody polls finishes on its own
// after Options.JobDuration, as a real one would. abort-job on a starting
// or running job makes it aborting, and the next get-job shows aborted;
// nothing is deleted then. Finished jobs are forgotten after
// Options.JobRetention (ExpireJobs forgets them at once); get-job and
// abort-job then answer error 6, as the spec says.
type job struct {
	id, authorID string
	ids          []string
	status       string
	startedOn    time.Time
	progressedOn time.Time
	current      int
	result       *string
	resultCode   *string
	finishedAt   time.Time // zero while unfinished
}

func (j *job) finished() bool { return !j.finishedAt.IsZero() }

// jobProgress is Job.progress.
type jobProgress struct {
	Min     float64 `json:"min"`
	Max     float64 `json:"max"`
	Current float64 `json:"current"`
	Phase   string  `json:"phase"`
}

// jobJSON is the spec's Job schema.
type jobJSON struct {
	ID           string      `json:"id"`
	AuthorID     *string     `json:"authorId"`
	IsService    bool        `json:"isService"`
	StartedOn    float64     `json:"startedOn"`
	ProgressedOn float64     `json:"progressedOn"`
	Status       string      `json:"status"`
	JobType      string      `json:"jobType"`
	Progress     jobProgress `json:"progress"`
	Result       *string     `json:"result"`
	ResultCode   *string     `json:"resultCode"`
	Abortable    bool        `json:"abortable"`
}

func (j *job) json() jobJSON {
	author := j.authorID
	return jobJSON{
		ID: j.id, AuthorID: &author, StartedOn: float64(j.startedOn.UnixMilli()), ProgressedOn: float64(j.progressedOn.UnixMilli()),
		Status: j.status, JobType: "destroyResources",
		Progress: jobProgress{Min: 0, Max: float64(len(j.ids)), Current: float64(j.current)},
		Result:   j.result, ResultCode: j.resultCode,
		Abortable: j.status == JobStarting || j.status == JobRunning,
	}
}

// idList is the delete-resources-by-id-list body.
//
// Deviation: the spec declares no request body for this call;
// managerapi.py sends {"ids": [...]}, which the emulator requires. A bare
// JSON array of IDs is accepted too (emulator).
type idList struct {
	IDs []string `json:"ids"`
}

// handleDeleteByIDList serves POST delete-resources-by-id-list: start a
// destroyResources job that deletes the listed blobs and folders (folders
// with everything below them). Unknown IDs are refused at once with error
// 6, the root with error 25 (emulator).
func (s *Server) handleDeleteByIDList(w http.ResponseWriter, r *http.Request, c call) {
	var raw json.RawMessage
	if err := readJSON(r, &raw); err != nil {
		writeManagerError(w, ErrEntityValidation, "invalid request body: %v", err)
		return
	}
	var req idList
	if err := json.Unmarshal(raw, &req.IDs); err != nil {
		if err := json.Unmarshal(raw, &req); err != nil {
			writeManagerError(w, ErrEntityValidation, "the body must be {\"ids\": [...]}: %v", err)
			return
		}
	}
	if len(req.IDs) == 0 {
		writeManagerError(w, ErrEntityValidation, "ids must list at least one resource")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range req.IDs {
		n := s.store.nodes[id]
		switch {
		case n == nil || (n.typ != typeBlob && !n.isFolder()):
			writeManagerError(w, ErrEntityNotFound, "No item found by %q", id)
			return
		case n == s.store.root:
			writeManagerError(w, ErrNotAllowed, "the project root cannot be deleted")
			return
		}
	}
	for id := range s.jobs {
		s.liveJob(id, c.opts) // forgets jobs finished long ago
	}
	now := time.Now()
	j := &job{id: s.newUUID(), authorID: c.userID, ids: append([]string(nil), req.IDs...), status: JobStarting, startedOn: now, progressedOn: now}
	s.jobs[j.id] = j
	s.counters["jobs.started"]++
	time.AfterFunc(c.opts.JobDuration, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.closed && !j.finished() {
			s.finish(j)
		}
	})
	writeJSON(w, http.StatusOK, ctJSON, j.json())
}

// step moves an unfinished job one state on. Callers hold s.mu.
func (s *Server) step(j *job) {
	now := time.Now()
	switch j.status {
	case JobStarting:
		j.status = JobRunning
		j.progressedOn = now
	case JobRunning, JobAborting:
		s.finish(j)
	}
}

// finish ends an unfinished job: an aborting one as aborted, any other by
// running it. Callers hold s.mu.
func (s *Server) finish(j *job) {
	if j.status == JobAborting {
		now := time.Now()
		j.status = JobAborted
		j.progressedOn, j.finishedAt = now, now
		s.counters["jobs."+j.status]++
		return
	}
	s.runJob(j)
}

// runJob deletes the job's resources and finishes it. A resource that
// vanished since the job started fails the job with error 6 as resultCode
// (emulator); the others are still deleted. Callers hold s.mu.
func (s *Server) runJob(j *job) {
	var missing []string
	for _, id := range j.ids {
		n := s.store.nodes[id]
		if n == nil || n.parent == nil || (n.typ != typeBlob && !n.isFolder()) {
			missing = append(missing, id)
			continue
		}
		s.store.remove(n)
		j.current++
	}
	now := time.Now()
	j.progressedOn, j.finishedAt = now, now
	code := "0"
	j.resultCode = &code
	j.status = JobCompleted
	if len(missing) > 0 {
		j.status = JobFailed
		code = fmt.Sprint(ErrEntityNotFound)
		msg := fmt.Sprintf("EntityNotFoundError: %d of %d resources no longer exist: %v", len(missing), len(j.ids), missing)
		j.result = &msg
	}
	s.counters["jobs."+j.status]++
}

// liveJob returns job id unless it is unknown or finished longer than the
// retention ago. Callers hold s.mu.
func (s *Server) liveJob(id string, o Options) *job {
	j := s.jobs[id]
	if j != nil && j.finished() && time.Since(j.finishedAt) >= o.JobRetention {
		delete(s.jobs, id)
		return nil
	}
	return j
}

// handleGetJob serves GET get-job?job-id=. Each call moves an unfinished
// job one state on (see job).
func (s *Server) handleGetJob(w http.ResponseWriter, r *http.Request, c call) {
	id := r.URL.Query().Get("job-id")
	s.mu.Lock()
	j := s.liveJob(id, c.opts)
	var body jobJSON
	if j != nil {
		if !j.finished() {
			s.step(j)
		}
		body = j.json()
	}
	s.mu.Unlock()
	if j == nil {
		writeManagerError(w, ErrEntityNotFound, "No job found by %q", id)
		return
	}
	writeJSON(w, http.StatusOK, ctJSON, body)
}

// handleAbortJob serves POST abort-job?job-id=: true when the job was
// starting or running (it becomes aborting, then aborted, and deletes
// nothing), false otherwise.
func (s *Server) handleAbortJob(w http.ResponseWriter, r *http.Request, c call) {
	id := r.URL.Query().Get("job-id")
	s.mu.Lock()
	j := s.liveJob(id, c.opts)
	aborted := false
	if j != nil && (j.status == JobStarting || j.status == JobRunning) {
		j.status = JobAborting
		j.progressedOn = time.Now()
		aborted = true
	}
	s.mu.Unlock()
	if j == nil {
		writeManagerError(w, ErrEntityNotFound, "No job found by %q", id)
		return
	}
	writeJSON(w, http.StatusOK, ctJSON, aborted)
}

// ExpireJobs forgets every finished job at once, as the real server does
// "after a few minutes": get-job then answers error 6.
func (s *Server) ExpireJobs() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, j := range s.jobs {
		if j.finished() {
			delete(s.jobs, id)
		}
	}
}

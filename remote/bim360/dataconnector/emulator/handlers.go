package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Wire shapes. Field names follow the Postman collection (request bodies
// and the fields its tests read) and seed 001 (job and data-listing
// examples).
type wirePagination struct {
	Limit        int `json:"limit"`
	Offset       int `json:"offset"`
	TotalResults int `json:"totalResults"`
}

type wireRequest struct {
	ID                 string   `json:"id"`
	AccountID          string   `json:"accountId"`
	ProjectID          string   `json:"projectId,omitempty"`
	Description        string   `json:"description"`
	IsActive           bool     `json:"isActive"`
	ScheduleInterval   string   `json:"scheduleInterval"`
	ReoccuringInterval int      `json:"reoccuringInterval"`
	ServiceGroups      []string `json:"serviceGroups"`
	EffectiveFrom      string   `json:"effectiveFrom"`
	EffectiveTo        string   `json:"effectiveTo"`
	CallbackURL        string   `json:"callbackUrl"`
	CreatedAt          string   `json:"createdAt"`
	UpdatedAt          string   `json:"updatedAt"`
}

type wireJob struct {
	ID               string  `json:"id"`
	RequestID        string  `json:"requestId"`
	AccountID        string  `json:"accountId"`
	ProjectID        *string `json:"projectId"`
	CreatedBy        string  `json:"createdBy"`
	CreatedByEmail   string  `json:"createdByEmail"`
	Status           string  `json:"status"`
	CompletionStatus *string `json:"completionStatus"`
	StartedAt        string  `json:"startedAt"`
	CompletedAt      *string `json:"completedAt"`
	CreatedAt        string  `json:"createdAt"`
}

type wireFile struct {
	Name      string `json:"name"`
	CreatedAt string `json:"createdAt"`
	Size      int64  `json:"size"`
}

type wireData struct {
	Name      string `json:"name"`
	Size      int64  `json:"size"`
	SignedURL string `json:"signedUrl"`
}

const demoUser = "73f00c25-a5f9-4c05-861d-ce56d54fa649"

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (r *request) wire() wireRequest {
	return wireRequest{ID: r.id, AccountID: r.accountID, ProjectID: r.projectID, Description: r.description,
		IsActive: true, ScheduleInterval: r.interval, ReoccuringInterval: 1, ServiceGroups: r.serviceGroups,
		EffectiveFrom: stamp(r.effectiveFrom), EffectiveTo: stamp(r.effectiveFrom.AddDate(1, 0, 0)),
		CreatedAt: stamp(r.createdAt), UpdatedAt: stamp(r.createdAt)}
}

func (j *job) wire() wireJob {
	w := wireJob{ID: j.id, RequestID: j.requestID, AccountID: j.accountID, CreatedBy: demoUser,
		CreatedByEmail: "demo.user@example.com", Status: j.status, StartedAt: stamp(j.started), CreatedAt: stamp(j.created)}
	if j.projectID != "" {
		p := j.projectID
		w.ProjectID = &p
	}
	if !j.completed.IsZero() {
		c, cs := stamp(j.completed), j.completion
		w.CompletedAt, w.CompletionStatus = &c, &cs
	}
	return w
}

// guard applies Forbid and FailNext; it reports whether the call may go on.
func (s *Service) guard(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	var status int
	if len(s.fail) > 0 {
		status, s.fail = s.fail[0], s.fail[1:]
	}
	forbidden := s.forbidden[r.PathValue("accountId")]
	s.mu.Unlock()
	switch {
	case status == http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
		writeJSON(w, status, map[string]string{"developerMessage": "Quota limit exceeded."})
		return false
	case status != 0:
		writeError(w, status, "INJECTED", http.StatusText(status))
		return false
	case forbidden:
		writeError(w, http.StatusForbidden, "FORBIDDEN", "The user does not have executive overview permission in this account.")
		return false
	}
	return true
}

func (s *Service) handleListRequests(w http.ResponseWriter, r *http.Request) {
	if !s.guard(w, r) {
		return
	}
	limit, offset, ok := pageParams(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	var all []wireRequest
	if a := s.accounts[r.PathValue("accountId")]; a != nil {
		for _, q := range a.requests {
			all = append(all, q.wire())
		}
	}
	s.mu.Unlock()
	writePage(w, all, limit, offset)
}

func (s *Service) handleGetRequest(w http.ResponseWriter, r *http.Request) {
	if !s.guard(w, r) {
		return
	}
	s.mu.Lock()
	q := s.findRequest(r.PathValue("accountId"), r.PathValue("requestId"))
	var body wireRequest
	if q != nil {
		body = q.wire()
	}
	s.mu.Unlock()
	if q == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "request not found")
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Service) handleRequestJobs(w http.ResponseWriter, r *http.Request) {
	if !s.guard(w, r) {
		return
	}
	limit, offset, ok := pageParams(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	q := s.findRequest(r.PathValue("accountId"), r.PathValue("requestId"))
	var all []wireJob
	if q != nil {
		for _, j := range sortJobs(q.jobs, isDesc(r)) {
			all = append(all, j.wire())
		}
	}
	s.mu.Unlock()
	if q == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "request not found")
		return
	}
	writePage(w, all, limit, offset)
}

func (s *Service) handleListJobs(w http.ResponseWriter, r *http.Request) {
	if !s.guard(w, r) {
		return
	}
	limit, offset, ok := pageParams(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	var jobs []*job
	if a := s.accounts[r.PathValue("accountId")]; a != nil {
		for _, q := range a.requests {
			jobs = append(jobs, q.jobs...)
		}
	}
	var all []wireJob
	for _, j := range sortJobs(jobs, isDesc(r)) {
		all = append(all, j.wire())
	}
	s.mu.Unlock()
	writePage(w, all, limit, offset)
}

// job returns the account's job named in the path, or sends a 404.
func (s *Service) job(w http.ResponseWriter, r *http.Request) *job {
	s.mu.Lock()
	j := s.jobs[r.PathValue("jobId")]
	s.mu.Unlock()
	if j == nil || j.accountID != r.PathValue("accountId") {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "job not found")
		return nil
	}
	return j
}

func (s *Service) handleGetJob(w http.ResponseWriter, r *http.Request) {
	if !s.guard(w, r) {
		return
	}
	if j := s.job(w, r); j != nil {
		s.mu.Lock()
		body := j.wire()
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, body)
	}
}

func (s *Service) handleDataListing(w http.ResponseWriter, r *http.Request) {
	if !s.guard(w, r) {
		return
	}
	j := s.job(w, r)
	if j == nil {
		return
	}
	out := []wireFile{}
	s.mu.Lock()
	for _, f := range j.files {
		out = append(out, wireFile{Name: f.name, CreatedAt: stamp(f.created), Size: int64(len(f.data))})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Service) handleData(w http.ResponseWriter, r *http.Request) {
	if !s.guard(w, r) {
		return
	}
	j := s.job(w, r)
	if j == nil {
		return
	}
	name := r.PathValue("name")
	data, ok := s.FileData(j.id, name)
	if !ok {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no file "+name+" in the job's extract")
		return
	}
	s.mu.Lock()
	life := s.opts.URLLifetime
	s.mu.Unlock()
	if life <= 0 {
		life = DefaultURLLifetime
	}
	exp := s.now().Add(life).Unix()
	u := url.URL{Scheme: "http", Host: r.Host, Path: "/dc-extracts/" + j.id + "/" + name}
	if r.TLS != nil {
		u.Scheme = "https"
	}
	// The query has S3's four parameters in this order: the Postman
	// collection splits the URL by position.
	sig := s.sign(j.id, name, exp)
	u.RawQuery = "AWSAccessKeyId=ASIAEMULATOR&Expires=" + strconv.FormatInt(exp, 10) +
		"&Signature=" + sig + "&x-amz-security-token=" + url.QueryEscape(sig[:16])
	writeJSON(w, http.StatusOK, wireData{Name: name, Size: int64(len(data)), SignedURL: u.String()})
}

// handleDownload serves a signed URL like S3: 403 AccessDenied once it
// expired or when the signature does not match, ranges otherwise.
func (s *Service) handleDownload(w http.ResponseWriter, r *http.Request) {
	jobID, name := r.PathValue("jobId"), r.PathValue("name")
	exp, err := strconv.ParseInt(r.URL.Query().Get("Expires"), 10, 64)
	sig := r.URL.Query().Get("Signature")
	if err != nil || sig != s.sign(jobID, name, exp) {
		writeS3Error(w, "AccessDenied", "Invalid signature")
		return
	}
	if s.now().Unix() > exp {
		writeS3Error(w, "AccessDenied", "Request has expired")
		return
	}
	data, ok := s.FileData(jobID, name)
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
}

func writePage[T any](w http.ResponseWriter, all []T, limit, offset int) {
	page := []T{}
	if offset < len(all) {
		page = all[offset:min(len(all), offset+limit)]
	}
	writeJSON(w, http.StatusOK, struct {
		Pagination wirePagination `json:"pagination"`
		Results    []T            `json:"results"`
	}{wirePagination{Limit: limit, Offset: offset, TotalResults: len(all)}, page})
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

// writeError sends the problem shape other BIM 360 services use.
func writeError(w http.ResponseWriter, status int, code, detail string) {
	writeJSON(w, status, map[string]any{"code": code, "title": http.StatusText(status), "detail": detail,
		"errors": []map[string]string{{"status": strconv.Itoa(status), "code": code, "title": http.StatusText(status), "detail": detail}}})
}

func writeS3Error(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>", code, msg)
}

package emulator

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Blob-server upload: begin-batch-upload → begin-upload → put-blob-content-part
// … → commit-upload → commit-batch-upload.
//
// (emulator) Batch and upload sessions belong to the blob-server session
// that began them: after that session expires (error 11) a client must
// start over with a new batch, as workflow.py's retry does. They expire
// after Options.UploadLifetime of idleness. Nothing changes in the tree
// until commit-batch-upload, which applies the whole batch or nothing:
// missing folders on the way are created then, an existing blob at a path
// gets a new content revision (same ID) with conflict-behavior=overwrite
// or fails the batch with error 20 (BlobAlreadyExists) with fail.
// commit-upload answers a temporary blob-id; the final IDs come from
// commit-batch-upload, as the spec says.

// Upload media types.
const (
	ctBatchSession = "application/vnd.graphisoft.teamwork.blob-store-service-1.0.batch-upload-session-1.0+json"
	ctUploadSess   = "application/vnd.graphisoft.teamwork.blob-store-service-1.0.upload-session-1.0+json"
	ctBlobMeta     = "application/vnd.graphisoft.teamwork.blob-store-service-1.0.blob-metadata-1.0+json"
	ctBlobMetaList = "application/vnd.graphisoft.teamwork.blob-store-service-1.0.blob-metadata-1.0-list+json"
)

// batch is a batch upload session. Server.mu protects it.
type batch struct {
	id, namespace, description string
	sessionID, modelServerID   string
	userID                     string
	created, lastAccess, exp   time.Time
	uploads                    []*upload
}

// upload is an upload session. Server.mu protects every field but parts,
// which has its own lock (taken without Server.mu held).
type upload struct {
	id, blobName             string
	tempID                   string
	b                        *batch
	created, lastAccess, exp time.Time
	parts                    *partSet
	result                   *uploadResult // set by commit-upload
}

// uploadResult is a committed upload's content.
type uploadResult struct {
	content Content
	hash    string
	at      time.Time
}

// batchJSON is BlobServerBatchUploadSessionResponse; times in ms.
type batchJSON struct {
	ID             string   `json:"id"`
	NamespaceName  string   `json:"namespace-name"`
	Description    string   `json:"description"`
	LastAccessTime int64    `json:"last-access-time"`
	ExpirationTime int64    `json:"expiration-time"`
	CreationTime   int64    `json:"creation-time"`
	Events         []string `json:"events"`
}

type partJSON struct {
	Offset int64 `json:"offset"`
	Length int64 `json:"length"`
}

// uploadJSON is BlobServerUploadSessionResponse; times in ms.
type uploadJSON struct {
	ID                  string     `json:"id"`
	TargetNamespaceName string     `json:"target-namespace-name"`
	TargetBlobName      string     `json:"target-blob-name"`
	TargetBlobID        string     `json:"target-blob-id"`
	LastAccessTime      int64      `json:"last-access-time"`
	ExpirationTime      int64      `json:"expiration-time"`
	CreationTime        int64      `json:"creation-time"`
	UploadedParts       []partJSON `json:"uploaded-parts"`
}

func (u *upload) json(parts []partJSON) envelope {
	return envelope{DataContentType: ctUploadSess, Data: uploadJSON{
		ID: u.id, TargetNamespaceName: u.b.namespace, TargetBlobName: u.blobName,
		LastAccessTime: u.lastAccess.UnixMilli(), ExpirationTime: u.exp.UnixMilli(), CreationTime: u.created.UnixMilli(),
		UploadedParts: parts,
	}}
}

func (s *Server) registerUploads(mux *http.ServeMux, op func(string, func(http.ResponseWriter, *http.Request, *blobServer, Options)) http.HandlerFunc) {
	mux.HandleFunc("POST /blob-store-service/1.0/begin-batch-upload", op("begin-batch-upload", s.handleBeginBatch))
	mux.HandleFunc("POST /blob-store-service/1.0/begin-upload", op("begin-upload", s.handleBeginUpload))
	mux.HandleFunc("POST /blob-store-service/1.0/put-blob-content-part", op("put-blob-content-part", s.handlePutPart))
	mux.HandleFunc("POST /blob-store-service/1.0/commit-upload", op("commit-upload", s.handleCommitUpload))
	mux.HandleFunc("POST /blob-store-service/1.0/commit-batch-upload", op("commit-batch-upload", s.handleCommitBatch))
}

// touchUpload extends the idle timeout of an upload and its batch.
func touchUpload(u *upload, b *batch, o Options) {
	now := time.Now()
	b.lastAccess, b.exp = now, now.Add(o.UploadLifetime)
	if u != nil {
		u.lastAccess, u.exp = now, now.Add(o.UploadLifetime)
	}
}

// handleBeginBatch serves begin-batch-upload?session-id=&description=.
func (s *Server) handleBeginBatch(w http.ResponseWriter, r *http.Request, bs *blobServer, o Options) {
	const op = "blob-store-service-begin-batch-upload"
	q := r.URL.Query()
	s.mu.Lock()
	ss := s.useSession(q.Get("session-id"), bs, o)
	if ss == nil {
		s.mu.Unlock()
		writeSessionNotFound(w, op)
		return
	}
	s.sweepUploads()
	now := time.Now()
	b := &batch{
		id: s.newUUID(), namespace: s.newUUID(), description: q.Get("description"),
		sessionID: q.Get("session-id"), modelServerID: bs.id, userID: ss.userID, created: now,
	}
	touchUpload(nil, b, o)
	s.batches[b.id] = b
	s.namespaces[b.namespace] = b
	body := envelope{DataContentType: ctBatchSession, Data: batchJSON{
		ID: b.id, NamespaceName: b.namespace, Description: b.description, Events: []string{},
		LastAccessTime: b.lastAccess.UnixMilli(), ExpirationTime: b.exp.UnixMilli(), CreationTime: b.created.UnixMilli(),
	}}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, ctBatchSession, body)
}

// sweepUploads forgets expired batches and their uploads, so a long-running
// emulator does not keep abandoned parts. Callers hold s.mu.
func (s *Server) sweepUploads() {
	now := time.Now()
	for id, b := range s.batches {
		if now.Before(b.exp) {
			continue
		}
		delete(s.batches, id)
		delete(s.namespaces, b.namespace)
		for _, u := range b.uploads {
			delete(s.uploads, u.id)
		}
	}
}

// liveBatch returns a batch of session sid that has not expired. Callers
// hold s.mu.
func (s *Server) liveBatch(b *batch, sid string) *batch {
	if b == nil || b.sessionID != sid || !time.Now().Before(b.exp) {
		return nil
	}
	return b
}

// blobPath checks a begin-upload blob-name ("/folder/file.png", relative
// to the project root) and returns its names. The leading slash is
// optional (emulator).
func blobPath(name string) ([]string, bool) {
	segs := strings.Split(strings.TrimPrefix(name, "/"), "/")
	for _, seg := range segs {
		if !namePattern.MatchString(seg) {
			return nil, false
		}
	}
	return segs, true
}

// handleBeginUpload serves begin-upload?session-id=&blob-name=&namespace-name=.
func (s *Server) handleBeginUpload(w http.ResponseWriter, r *http.Request, bs *blobServer, o Options) {
	const op = "blob-store-service-begin-upload"
	q := r.URL.Query()
	name := q.Get("blob-name")
	if _, ok := blobPath(name); !ok {
		// (emulator) The spec names no code for a bad path; GenericError.
		writeBlobError(w, StatusBIMcloudError, op, BlobErrGeneric, "invalid blob-name "+strconv.Quote(name)+": every name must match "+namePattern.String())
		return
	}
	var f *os.File
	if o.UploadDir != "" {
		var err error
		if f, err = s.spillFile(o.UploadDir); err != nil {
			writeBlobError(w, StatusBIMcloudError, op, BlobErrGeneric, "cannot store the upload: "+err.Error())
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sid := q.Get("session-id")
	if s.useSession(sid, bs, o) == nil {
		writeSessionNotFound(w, op)
		return
	}
	b := s.liveBatch(s.namespaces[q.Get("namespace-name")], sid)
	if b == nil {
		writeBlobError(w, StatusBIMcloudError, op, BlobErrBlobNamespaceNotFound, "Blob namespace not found: "+q.Get("namespace-name"))
		return
	}
	now := time.Now()
	u := &upload{id: s.newUUID(), blobName: name, tempID: s.newUUID(), b: b, created: now, parts: newPartSet(f)}
	touchUpload(u, b, o)
	b.uploads = append(b.uploads, u)
	s.uploads[u.id] = u
	writeJSON(w, http.StatusOK, ctUploadSess, u.json([]partJSON{}))
}

// spillFile opens a new part file in the spill directory below dir.
func (s *Server) spillFile(dir string) (*os.File, error) {
	s.mu.Lock()
	if s.spill == nil {
		sd, err := newSpillDir(dir)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		s.spill = sd
	}
	sd := s.spill
	s.mu.Unlock()
	return sd.create()
}

// liveUpload returns upload id of session sid unless it is unknown,
// committed, or expired (with its batch). Callers hold s.mu.
func (s *Server) liveUpload(id, sid string) *upload {
	u := s.uploads[id]
	if u == nil || s.liveBatch(u.b, sid) == nil || !time.Now().Before(u.exp) {
		return nil
	}
	return u
}

// uploadFound reports whether a call naming an upload session found both
// its session (ss) and the live upload (u). If not, it answers error 11
// (SessionNotFound) or 14 (UploadSessionNotFound), in that order.
func uploadFound(w http.ResponseWriter, op string, ss *session, u *upload, uploadID string) bool {
	switch {
	case ss == nil:
		writeSessionNotFound(w, op)
		return false
	case u == nil:
		writeBlobError(w, StatusBIMcloudError, op, BlobErrUploadSessionNotFound, "Upload session not found: "+uploadID)
		return false
	}
	return true
}

// handlePutPart serves put-blob-content-part?session-id=&upload-session-id=&offset=&length=.
//
// Deviation: the spec declares a multipart/form-data body; blobserverapi.py
// posts the raw chunk. Both are accepted: a multipart body's first part is
// the chunk. The body must hold exactly length bytes; offset and length
// must not overlap another part (sending the same range again replaces
// it). Violations are error 13, InvalidBlobContentPart.
func (s *Server) handlePutPart(w http.ResponseWriter, r *http.Request, bs *blobServer, o Options) {
	const op = "blob-store-service-put-blob-content-part"
	q := r.URL.Query()
	off, err1 := strconv.ParseInt(q.Get("offset"), 10, 64)
	n, err2 := strconv.ParseInt(q.Get("length"), 10, 64)
	if err1 != nil || err2 != nil || off < 0 || n <= 0 || n > o.MaxPartSize {
		writeBlobError(w, StatusBIMcloudError, op, BlobErrInvalidBlobContentPart,
			"offset must be >= 0 and length between 1 and "+strconv.FormatInt(o.MaxPartSize, 10))
		return
	}
	s.mu.Lock()
	sid := q.Get("session-id")
	ss := s.useSession(sid, bs, o)
	u := s.liveUpload(q.Get("upload-session-id"), sid)
	if u != nil {
		touchUpload(u, u.b, o)
	}
	s.mu.Unlock()
	if !uploadFound(w, op, ss, u, q.Get("upload-session-id")) {
		return
	}
	body, err := partBody(r)
	if err == nil {
		err = u.parts.reserve(off, n)
	}
	if err == nil {
		err = u.parts.receive(off, n, body)
	}
	if err != nil {
		var pe *errPart
		if errors.As(err, &pe) {
			writeBlobError(w, StatusBIMcloudError, op, BlobErrInvalidBlobContentPart, pe.msg)
		} else {
			writeBlobError(w, StatusBIMcloudError, op, BlobErrGeneric, err.Error())
		}
		return
	}
	parts := u.parts.uploaded()
	s.mu.Lock()
	s.counters["put-blob-content-part.bytes"] += n
	touchUpload(u, u.b, o)
	body2 := u.json(parts)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, ctUploadSess, body2)
}

// partBody returns the chunk of a put-blob-content-part request: the raw
// body, or the first part of a multipart/form-data body.
func partBody(r *http.Request) (io.Reader, error) {
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		return r.Body, nil
	}
	p, err := multipart.NewReader(r.Body, params["boundary"]).NextPart()
	if err != nil {
		return nil, &errPart{"multipart body without a part: " + err.Error()}
	}
	return p, nil
}

// handleCommitUpload serves commit-upload?session-id=&upload-session-id=.
// Parts must cover the blob from 0 without gaps (else error 15,
// IncompleteUpload). The answer carries a temporary blob-id.
func (s *Server) handleCommitUpload(w http.ResponseWriter, r *http.Request, bs *blobServer, o Options) {
	const op = "blob-store-service-commit-upload"
	q := r.URL.Query()
	s.mu.Lock()
	sid := q.Get("session-id")
	ss := s.useSession(sid, bs, o)
	u := s.liveUpload(q.Get("upload-session-id"), sid)
	if u != nil && u.result != nil {
		u = nil
	}
	s.mu.Unlock()
	if !uploadFound(w, op, ss, u, q.Get("upload-session-id")) {
		return
	}
	c, sum, err := u.parts.seal()
	if err != nil {
		var inc errIncomplete
		if errors.As(err, &inc) {
			writeBlobError(w, StatusBIMcloudError, op, BlobErrIncompleteUpload, string(inc))
		} else {
			writeBlobError(w, StatusBIMcloudError, op, BlobErrUploadSessionNotFound, err.Error())
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u.result = &uploadResult{content: c, hash: sum, at: time.Now()}
	touchUpload(u, u.b, o)
	md := s.metadata(u.b, u.blobName, u.tempID, nil, u.result)
	writeJSON(w, http.StatusOK, ctBlobMeta, envelope{DataContentType: ctBlobMeta, Data: md})
}

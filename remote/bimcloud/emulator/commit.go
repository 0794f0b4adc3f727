package emulator

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// standardMetadata is BlobServerBlobMetadataResponse.standard-metadata.
// Every number is a string, as the spec declares.
type standardMetadata struct {
	NamespaceName          string `json:"namespace-name"`
	BlobName               string `json:"blob-name"`
	BlobID                 string `json:"blob-id"`
	MetadataRevision       string `json:"metadata-revision"`
	ContentRevision        string `json:"content-revision"`
	Access                 string `json:"access"`
	LastModifiedByUserName string `json:"last-modified-by-user-name"`
	LastModifiedByUserID   string `json:"last-modified-by-user-id"`
	LastModified           string `json:"last-modified"`
	CreatedByUserName      string `json:"created-by-user-name"`
	CreatedByUserID        string `json:"created-by-user-id"`
	Created                string `json:"created"`
	ContentDisposition     string `json:"content-disposition"`
	ContentLanguage        string `json:"content-language"`
	ContentType            string `json:"content-type"`
	ContentHashAlgorithm   string `json:"content-hash-algorithm"`
	ContentHash            string `json:"content-hash"`
	CacheControl           string `json:"cache-control"`
	ETag                   string `json:"e-tag"`
	Size                   string `json:"size"`
}

// blobMetadataJSON is BlobServerBlobMetadataResponse.
type blobMetadataJSON struct {
	Standard standardMetadata `json:"standard-metadata"`
	User     map[string]any   `json:"user-metadata"`
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// metadata describes an upload: before the batch commit (n == nil) as a
// temporary first revision, afterwards as blob n. Callers hold s.mu.
func (s *Server) metadata(b *batch, blobName, blobID string, n *node, res *uploadResult) blobMetadataJSON {
	rev, created, createdBy, modified := 1, res.at, b.userID, res.at
	if n != nil {
		rev, created, createdBy, modified = n.contentRev, n.created, n.createdBy, n.modified
	}
	return blobMetadataJSON{User: map[string]any{}, Standard: standardMetadata{
		NamespaceName: b.namespace, BlobName: blobName, BlobID: blobID,
		MetadataRevision: "1", ContentRevision: strconv.Itoa(rev), Access: "opened",
		LastModifiedByUserName: s.usernameOf(b.userID), LastModifiedByUserID: b.userID, LastModified: ms(modified),
		CreatedByUserName: s.usernameOf(createdBy), CreatedByUserID: createdBy, Created: ms(created),
		ContentDisposition: `attachment; filename="` + blobName + `"`, ContentType: ctOctetStream,
		ContentHashAlgorithm: "SHA256", ContentHash: res.hash, CacheControl: "no-cache", ETag: res.hash,
		Size: strconv.FormatInt(res.content.Size(), 10),
	}}
}

// commitStep is one committed upload of a batch being applied.
type commitStep struct {
	u    *upload
	segs []string
}

// handleCommitBatch serves
// commit-batch-upload?session-id=&batch-upload-session-id=&conflict-behavior=.
// It applies every committed upload of the batch, or none: a path whose
// folder part runs into a blob, a path naming a folder, a path twice in
// one batch, or an existing blob hosted by another model server fail the
// batch with error 12 (BatchUploadCommitFailed); an existing blob with
// conflict-behavior=fail with error 20 (BlobAlreadyExists). Uploads begun
// but never committed are dropped (emulator). A missing
// conflict-behavior means fail, the choice that loses nothing (emulator;
// the spec gives no default).
func (s *Server) handleCommitBatch(w http.ResponseWriter, r *http.Request, bs *blobServer, o Options) {
	const op = "blob-store-service-commit-batch-upload"
	q := r.URL.Query()
	conflict := q.Get("conflict-behavior")
	if conflict == "" {
		conflict = "fail"
	}
	if conflict != "overwrite" && conflict != "fail" {
		writeBlobError(w, StatusBIMcloudError, op, BlobErrGeneric, "conflict-behavior must be overwrite or fail, not "+strconv.Quote(conflict))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sid := q.Get("session-id")
	if s.useSession(sid, bs, o) == nil {
		writeSessionNotFound(w, op)
		return
	}
	b := s.liveBatch(s.batches[q.Get("batch-upload-session-id")], sid)
	if b == nil {
		writeBlobError(w, StatusBIMcloudError, op, BlobErrUploadSessionNotFound, "Batch upload session not found: "+q.Get("batch-upload-session-id"))
		return
	}
	var steps []commitStep
	seen := map[string]bool{}
	for _, u := range b.uploads {
		if u.result == nil {
			continue
		}
		segs, _ := blobPath(u.blobName)
		key := strings.Join(segs, "/")
		if seen[key] {
			writeBlobError(w, StatusBIMcloudError, op, BlobErrBatchUploadCommitFailed, "the batch uploads "+u.blobName+" twice")
			return
		}
		seen[key] = true
		if code, msg := s.checkTarget(segs, b, conflict); code != 0 {
			writeBlobError(w, StatusBIMcloudError, op, code, msg)
			return
		}
		steps = append(steps, commitStep{u: u, segs: segs})
	}
	out := make([]blobMetadataJSON, 0, len(steps))
	for _, st := range steps {
		n := s.applyUpload(st, b)
		out = append(out, s.metadata(b, st.u.blobName, n.id, n, st.u.result))
	}
	delete(s.batches, b.id)
	delete(s.namespaces, b.namespace)
	for _, u := range b.uploads {
		delete(s.uploads, u.id)
	}
	writeJSON(w, http.StatusOK, ctBlobMetaList, envelope{DataContentType: ctBlobMetaList, Data: out})
}

// checkTarget says whether an upload to the root-relative path segs can be
// committed; it returns a blob error code and message if not. Callers hold
// s.mu.
func (s *Server) checkTarget(segs []string, b *batch, conflict string) (int, string) {
	cur := s.store.root
	for i, seg := range segs {
		c := cur.childNamed(seg)
		if c == nil {
			return 0, ""
		}
		last := i == len(segs)-1
		switch {
		case !last && !c.isFolder():
			return BlobErrBatchUploadCommitFailed, c.path() + " is a file, not a folder"
		case last && c.isFolder():
			return BlobErrBatchUploadCommitFailed, c.path() + " is a folder"
		case last && conflict == "fail":
			return BlobErrBlobAlreadyExists, c.path() + " already exists"
		case last && c.modelServerID != b.modelServerID:
			return BlobErrBatchUploadCommitFailed, c.path() + " is hosted by another model server"
		}
		cur = c
	}
	return 0, ""
}

// applyUpload stores one checked upload: missing folders are created, a
// new blob gets a fresh final ID, an existing one a new content revision.
// Callers hold s.mu.
func (s *Server) applyUpload(st commitStep, b *batch) *node {
	now := time.Now()
	cur := s.store.root
	for _, seg := range st.segs[:len(st.segs)-1] {
		c := cur.childNamed(seg)
		if c == nil {
			c = &node{id: s.newUUID(), typ: typeGroup, name: seg, children: map[string]*node{}, modified: now}
			s.store.add(cur, c)
		}
		cur = c
	}
	name := st.segs[len(st.segs)-1]
	res := st.u.result
	if n := cur.childNamed(name); n != nil {
		n.content = res.content
		n.contentRev++
		n.modifiedBy = b.userID
		touch(n)
		s.store.record(changeUpdated, n)
		return n
	}
	n := &node{id: s.newUUID(), typ: typeBlob, name: name, modelServerID: b.modelServerID, content: res.content, contentRev: 1,
		modified: now, created: now, createdBy: b.userID, modifiedBy: b.userID}
	s.store.add(cur, n)
	return n
}

// ExpireUploads ends every batch upload and upload session: later calls
// with them fail (begin-upload with error 17, the others with error 14).
func (s *Server) ExpireUploads() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := time.Now().Add(-time.Second)
	for _, b := range s.batches {
		b.exp = past
	}
	for _, u := range s.uploads {
		u.exp = past
	}
}

// BlobInfo describes a blob for tests.
type BlobInfo struct {
	ID, Name, Path, ParentID string
	ModelServerID            string
	// ContentRevision is 1 for the first content and grows with every
	// overwrite.
	ContentRevision int
	Content         Content
}

// Blob returns the current state of blob id.
func (s *Server) Blob(id string) (BlobInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.store.nodes[id]
	if n == nil || n.typ != typeBlob {
		return BlobInfo{}, false
	}
	return BlobInfo{ID: n.id, Name: n.name, Path: n.path(), ParentID: n.parent.id, ModelServerID: n.modelServerID,
		ContentRevision: n.contentRev, Content: n.content}, true
}

// Lookup returns the ID of the resource at $path p ("Project Root/a/b").
func (s *Server) Lookup(p string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.store.byPath(p); n != nil {
		return n.id, true
	}
	return "", false
}

package emulator

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// reservation is a storage location made by POST storage: an object key in
// wip.dm.prod that may be uploaded to until a version uses it.
type reservation struct {
	bucket, key string
	name        string
	project     *project
	folder      *folder // the folder the new item or version will live in
	created     time.Time
}

// upload is one signeds3upload session.
type upload struct {
	key         string // uploadKey
	res         *reservation
	parts       map[int]*part
	expires     time.Time
	details     objectDetails // set when completed
	contentType string
}

// objectDetails is oss.yaml's objectDetails.
type objectDetails struct {
	BucketKey   string `json:"bucketKey"`
	ObjectID    string `json:"objectId"`
	ObjectKey   string `json:"objectKey"`
	SHA1        string `json:"sha1,omitempty"`
	Size        int64  `json:"size"`
	ContentType string `json:"contentType"`
	Location    string `json:"location"`
}

// handleCreateStorage implements POST /data/v1/projects/{project_id}/storage.
func (s *Server) handleCreateStorage(w http.ResponseWriter, r *http.Request, _ *call) {
	var in struct {
		Data struct {
			Type       string `json:"type"`
			Attributes struct {
				Name string `json:"name"`
			} `json:"attributes"`
			Relationships struct {
				Target relIn `json:"target"`
			} `json:"relationships"`
		} `json:"data"`
	}
	if !decodeDM(w, r, &in, true) {
		return
	}
	d := in.Data
	tgt := d.Relationships.Target.Data
	switch {
	case d.Type != "objects":
		badRequest(w, `data.type must be "objects"`)
		return
	case d.Attributes.Name == "":
		badRequest(w, "data.attributes.name is required")
		return
	case tgt == nil || tgt.ID == "" || (tgt.Type != "folders" && tgt.Type != "items"):
		badRequest(w, "data.relationships.target.data must name a folder (new item) or an item (new version)")
		return
	}
	now := s.now()
	rd := s.renderer()
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	p := s.pathProject(w, r)
	if p == nil {
		return
	}
	var f *folder
	if tgt.Type == "folders" {
		if f = lookup(w, p.folders, "folder", tgt.ID); f == nil {
			return
		}
	} else {
		it := lookup(w, p.items, "item", tgt.ID)
		if it == nil {
			return
		}
		f = it.parent
	}
	if !writableFolder(w, f) {
		return
	}
	res := &reservation{bucket: bucketWIP, key: st.newKey(d.Attributes.Name), name: d.Attributes.Name, project: p, folder: f, created: now}
	st.reservations[res.bucket+"/"+res.key] = res
	type target struct {
		Links relatedLinks `json:"links"`
		Data  typeID       `json:"data"`
	}
	writeCreated(w, map[string]any{
		"jsonapi": jsonAPIv1,
		"links":   selfLinks{Self: rd.link("/oss/v2/buckets/" + res.bucket + "/objects/" + url.PathEscape(res.key))},
		"data": map[string]any{
			"type": "objects",
			"id":   storagePrefix + res.bucket + "/" + res.key,
			"relationships": map[string]any{"target": target{
				Links: relatedLinks{rd.link(projectPath(p) + "/folders/" + encodeID(f.id))},
				Data:  typeID{"folders", f.id},
			}},
		},
	})
}

// uploadTarget resolves {bucketKey}/{objectKey} to a reservation that may be
// uploaded to, answering OSS errors itself. Caller holds the store lock.
func (s *Server) uploadTarget(w http.ResponseWriter, r *http.Request) *reservation {
	bucket, key := r.PathValue("bucketKey"), r.PathValue("objectKey")
	res := s.st.reservations[bucket+"/"+key]
	if res == nil {
		if bucket != bucketWIP {
			writeOSSError(w, http.StatusNotFound, "Bucket does not exist")
			return nil
		}
		writeOSSError(w, http.StatusForbidden, "No write access to object "+key+": create it with POST storage first")
		return nil
	}
	if o := s.st.objects[bucket+"/"+key]; o != nil && o.attached {
		writeOSSError(w, http.StatusForbidden, "Object "+key+" belongs to a version and cannot be overwritten")
		return nil
	}
	return res
}

// intParam parses an optional integer query parameter within [lo, hi].
func intParam(q url.Values, name string, def, lo, hi int) (int, bool) {
	v := q.Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= lo && n <= hi
}

// handleSignedUpload implements
// GET /oss/v2/buckets/{bucketKey}/objects/{objectKey}/signeds3upload.
func (s *Server) handleSignedUpload(w http.ResponseWriter, r *http.Request, _ *call) {
	opts := s.Options()
	q := r.URL.Query()
	parts, ok1 := intParam(q, "parts", 1, 1, MaxParts)
	first, ok2 := intParam(q, "firstPart", 1, 1, MaxParts)
	minutes, ok3 := intParam(q, "minutesExpiration", defaultURLMinutes, 1, maxURLMinutes)
	_, ok4 := boolParam(q, "useAcceleration")
	switch {
	case !ok1 || !ok2:
		writeOSSError(w, http.StatusBadRequest, fmt.Sprintf("parts and firstPart must be integers from 1 to %d", MaxParts))
		return
	case first+parts-1 > MaxParts:
		writeOSSError(w, http.StatusBadRequest, fmt.Sprintf("firstPart + parts - 1 must not exceed %d", MaxParts))
		return
	case !ok3:
		writeOSSError(w, http.StatusBadRequest, "minutesExpiration must be an integer from 1 to 60")
		return
	case !ok4:
		writeOSSError(w, http.StatusBadRequest, "useAcceleration must be true or false")
		return
	}
	lifetime := time.Duration(minutes) * time.Minute
	if opts.UploadURLLifetime > 0 {
		lifetime = opts.UploadURLLifetime
	} else if opts.URLLifetime > 0 {
		lifetime = opts.URLLifetime
	}

	now := s.now()
	st := s.st
	st.mu.Lock()
	res := s.uploadTarget(w, r)
	if res == nil {
		st.mu.Unlock()
		return
	}
	expired := s.expireUploadsLocked(now)
	var up *upload
	if k := q.Get("uploadKey"); k != "" {
		up = st.uploads[k]
		if up == nil || up.res != res {
			st.mu.Unlock()
			s.releaseParts(expired)
			writeOSSError(w, http.StatusBadRequest, "uploadKey is not an open upload session of this object (it may have expired or been completed)")
			return
		}
	} else {
		up = &upload{key: randomToken(48), res: res, parts: map[int]*part{}, expires: now.Add(UploadLifetime)}
		st.uploads[up.key] = up
	}
	st.mu.Unlock()
	s.releaseParts(expired)

	urls := make([]string, parts)
	for i := range urls {
		extra := url.Values{"uploadKey": {up.key}, "partNumber": {strconv.Itoa(first + i)}}
		urls[i] = s.signURL(http.MethodPut, res.bucket, res.key, extra, lifetime)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"uploadKey":        up.key,
		"urls":             urls,
		"urlExpiration":    now.Add(time.Duration(retryAfterSeconds(lifetime)) * time.Second).UTC().Format(time.RFC3339),
		"uploadExpiration": up.expires.UTC().Format(time.RFC3339),
	})
}

// expireUploadsLocked drops sessions past their deadline and returns their
// parts for release after the lock is dropped. Caller holds the store lock.
func (s *Server) expireUploadsLocked(now time.Time) []*part {
	var out []*part
	for k, up := range s.st.uploads {
		if now.After(up.expires) {
			for _, p := range up.parts {
				out = append(out, p)
			}
			delete(s.st.uploads, k)
		}
	}
	return out
}

func (s *Server) releaseParts(ps []*part) {
	for _, p := range ps {
		s.parts.release(p)
	}
}

// partResult is one element of the "parts" array in a refused completion,
// shaped like oss.yaml's batch_completed_results.parts.
type partResult struct {
	FirstPart int    `json:"firstPart"`
	Status    string `json:"status"`
	Size      int64  `json:"size"`
	ETag      string `json:"eTag,omitempty"`
}

// handleCompleteUpload implements
// POST /oss/v2/buckets/{bucketKey}/objects/{objectKey}/signeds3upload.
func (s *Server) handleCompleteUpload(w http.ResponseWriter, r *http.Request, _ *call) {
	opts := s.Options()
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeOSSError(w, http.StatusBadRequest, "Content-Type must be application/json")
		return
	}
	var in struct {
		UploadKey string   `json:"uploadKey"`
		Size      *int64   `json:"size"`
		ETags     []string `json:"eTags"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxJSONBody))
	if err := json.Unmarshal(body, &in); err != nil || in.UploadKey == "" {
		writeOSSError(w, http.StatusBadRequest, "the body must be a JSON object with uploadKey")
		return
	}
	s.mu.Lock()
	fail := s.failedComps < opts.FailComplete
	if fail {
		s.failedComps++
	}
	s.mu.Unlock()
	if fail {
		writeOSSError(w, opts.FailCompleteStatus, "Internal failure while processing the request")
		return
	}

	now := s.now()
	st := s.st
	st.mu.Lock()
	bucket, key := r.PathValue("bucketKey"), r.PathValue("objectKey")
	if done := st.completed[in.UploadKey]; done != nil && done.res.bucket == bucket && done.res.key == key {
		d := done.details
		st.mu.Unlock()
		writeJSON(w, http.StatusOK, d) // a repeated complete: same answer
		return
	}
	res := s.uploadTarget(w, r)
	if res == nil {
		st.mu.Unlock()
		return
	}
	expired := s.expireUploadsLocked(now)
	up := st.uploads[in.UploadKey]
	if up == nil || up.res != res {
		st.mu.Unlock()
		s.releaseParts(expired)
		writeOSSError(w, http.StatusBadRequest, "uploadKey is not an open upload session of this object (it may have expired)")
		return
	}
	ordered, reason, results := checkParts(up.parts, in.ETags, in.Size, opts.MinPartSize)
	if reason != "" {
		st.mu.Unlock()
		s.releaseParts(expired)
		body := map[string]any{"reason": reason}
		if results != nil {
			body["status"] = "error"
			body["parts"] = results
		}
		writeJSON(w, http.StatusBadRequest, body)
		return
	}

	ct := r.Header.Get("x-ads-meta-Content-Type")
	if ct == "" {
		ct = contentTypeOf(res.name)
	}
	o := &object{
		bucket: res.bucket, key: res.key, name: res.name, content: newPartsContent(ordered),
		contentType: ct, created: now, parts: ordered,
	}
	var old []*part
	if prev := st.objects[res.bucket+"/"+res.key]; prev != nil {
		old = prev.parts // unattached (uploadTarget checked), so unreferenced
	}
	st.objects[res.bucket+"/"+res.key] = o
	delete(st.uploads, up.key)
	up.parts = nil
	up.details = objectDetails{
		BucketKey: res.bucket, ObjectID: o.storageID(), ObjectKey: res.key,
		Size: o.content.Size(), ContentType: ct,
		Location: specHostURL + "/oss/v2/buckets/" + res.bucket + "/objects/" + url.PathEscape(res.key),
	}
	st.completed[up.key] = up
	st.mu.Unlock()
	s.releaseParts(expired)
	s.releaseParts(old)

	// Hash outside the store lock: up to maxHashedSize bytes.
	sha, _ := o.digests()
	st.mu.Lock()
	up.details.SHA1 = sha
	d := up.details
	st.mu.Unlock()
	writeJSON(w, http.StatusOK, d)
}

// specHostURL is the APS host objectDetails.location names, as the real
// service does.
const specHostURL = "https://developer.api.autodesk.com"

// checkParts orders the uploaded parts and checks them against OSS's
// completion rules: parts 1..n all present, every part but the last at
// least minPart bytes, the optional eTags and size matching. It returns
// the parts in order, or a reason and (for part problems) per-part results.
func checkParts(parts map[int]*part, eTags []string, size *int64, minPart int64) ([]*part, string, []partResult) {
	n := 0
	for k := range parts {
		n = max(n, k)
	}
	if n == 0 {
		return nil, "No parts have been uploaded for this uploadKey", []partResult{{FirstPart: 1, Status: "Pending"}}
	}
	if len(eTags) > 0 && len(eTags) != n {
		return nil, fmt.Sprintf("eTags lists %d parts but parts 1 to %d were uploaded", len(eTags), n), nil
	}
	ordered := make([]*part, n)
	results := make([]partResult, n)
	var problems []string
	var total int64
	for i := 1; i <= n; i++ {
		p := parts[i]
		res := partResult{FirstPart: i, Status: "Ok"}
		if p == nil {
			res.Status = "Pending"
			problems = append(problems, fmt.Sprintf("part %d is missing", i))
			results[i-1] = res
			continue
		}
		res.Size, res.ETag = p.size, p.etag
		var flags []string
		if len(eTags) > 0 && strings.Trim(eTags[i-1], `"`) != strings.Trim(p.etag, `"`) {
			flags = append(flags, "Unexpected")
			problems = append(problems, fmt.Sprintf("part %d eTag %s does not match the uploaded %s", i, eTags[i-1], p.etag))
		}
		if i < n && p.size < minPart {
			flags = append(flags, "TooSmall")
			problems = append(problems, fmt.Sprintf("part %d is %d bytes, smaller than %d; only the last part may be smaller", i, p.size, minPart))
		}
		if len(flags) > 0 {
			res.Status = strings.Join(flags, "+")
		}
		results[i-1] = res
		ordered[i-1] = p
		total += p.size
	}
	if len(problems) > 0 {
		return nil, strings.Join(problems, "; "), results
	}
	if size != nil && *size != total {
		return nil, fmt.Sprintf("size %d does not match the %d bytes uploaded", *size, total), nil
	}
	return ordered, "", nil
}

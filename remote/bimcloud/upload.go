package bimcloud

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// Blob errors that mean an upload or batch session is gone (expired) while
// the blob-server session is still valid: the upload starts over.
const (
	blobUploadSessionNotFound = 14
	blobNamespaceNotFound     = 17
)

// maxUploadRestarts bounds how often Upload starts over after its batch or
// upload session expired (session and ticket expiry are renewed by the
// session pool on top of this).
const maxUploadRestarts = 1

// commitSkew is the clock difference between client and Manager allowed
// when a lost commit answer is recognised by the file's modification time.
const commitSkew = 5 * time.Minute

// maxPartAttempts bounds the sends of one part that failed without an
// answer (a broken connection): sending the same range again replaces it.
const maxPartAttempts = 3

// uploadTarget is where an upload goes.
type uploadTarget struct {
	path        string // Manager $path of the file
	blobName    string // path without the root: "/folder/file"
	modelServer string // hosting blob server
	conflict    string // conflictOverwrite or conflictFail
	existing    string // ID of the file being overwritten, if known
}

// committed is what commit-batch-upload said about the file.
type committed struct {
	blobID          string
	contentRevision int
}

// Upload stores req.Content with one batch upload on the blob server:
// begin-batch-upload → begin-upload → put-blob-content-part (chunks of
// Config.PartSize read from req.Content, two buffers per upload) →
// commit-upload → commit-batch-upload, then finds the final file in the
// Manager.
//
// With req.Existing set, the content goes to that file's current path with
// conflict-behavior=overwrite, which adds a content revision to the same
// file (same ID; workflow.py's "text2.1.txt" example); the file's own
// model server hosts it. If req.Existing no longer exists (deleted
// remotely, or replaced by a rename over it) the content goes to
// req.Parent/req.Name as a new file, so edits are never lost. Without
// req.Existing the file must be new: conflict-behavior=fail makes a
// same-named file that appeared meanwhile an Exists error rather than a
// silent new revision of someone else's file. New files go to the
// folder's inherited default blob server.
//
// An expired ticket or session (blob errors 4, 11) or an expired batch
// (14, 17) starts the upload over from the first byte; nothing is
// committed before commit-batch-upload, so an interrupted upload leaves
// no trace but an uncommitted batch the server drops. If the answer to
// commit-batch-upload is lost, the upload runs again; a new file then
// meets itself (error 20) and is recognised by size and modification
// time. The SHA-256 of the
// bytes read is compared with commit-upload's content-hash before the
// batch is committed.
func (b *Backend) Upload(ctx context.Context, req remote.UploadRequest) (remote.Entry, error) {
	const op = "bimcloud.Upload"
	if err := ValidName(req.Name); err != nil {
		return remote.Entry{}, err
	}
	if req.Size < 0 || (req.Size > 0 && req.Content == nil) {
		return remote.Entry{}, errorf(remote.Invalid, op, "no content of %d bytes to upload", req.Size)
	}
	t, err := b.uploadTarget(ctx, req)
	if err != nil {
		return remote.Entry{}, err
	}
	var done int64 // bytes reported to req.Progress, never decreasing
	progress := func(n int64) {
		if req.Progress != nil && n > done {
			done = n
			req.Progress(n)
		}
	}
	var c committed
	start := time.Now()
	uncertain := false // a commit-batch-upload may have succeeded unseen
	for attempt := 0; ; attempt++ {
		err = b.sessions.do(ctx, t.modelServer, func(base, session string) error {
			var err error
			c, err = b.uploadOnce(ctx, base, session, t, req, progress, &uncertain)
			return err
		})
		if uncertain && remote.IsKind(err, remote.Exists) && t.conflict == conflictFail {
			// A retry after a commit whose answer was lost finds the file
			// it created. Accept a file of this size modified since the
			// upload began (allowing for clock skew) as that commit.
			if r, ferr := b.findUploaded(ctx, t, committed{}); ferr == nil && int64(r.Size) == req.Size &&
				time.UnixMilli(int64(r.ModifiedDate)).After(start.Add(-commitSkew)) {
				b.log.Warn("the answer to an upload commit was lost; the file it committed is taken as uploaded", "path", t.path, "id", r.ID)
				c, err = committed{blobID: r.ID}, nil
			}
		}
		code := blobCode(err)
		if err == nil || attempt >= maxUploadRestarts || (code != blobUploadSessionNotFound && code != blobNamespaceNotFound) {
			break
		}
		b.log.Info("upload session expired; starting the upload over", "path", t.path, "code", code)
	}
	if err != nil {
		b.explainRefusedCommit(t, err)
		return remote.Entry{}, err
	}
	return b.resolveUploaded(ctx, t, c, req.Size)
}

// uploadTarget finds the path, blob server and conflict behaviour of req.
func (b *Backend) uploadTarget(ctx context.Context, req remote.UploadRequest) (uploadTarget, error) {
	const op = "bimcloud.Upload"
	var t uploadTarget
	if req.Existing != "" {
		r, err := b.mgr.GetResource(ctx, string(req.Existing))
		switch {
		case err == nil && r.Type != TypeBlob:
			return t, errorf(remote.Invalid, op, "%q is a %s, not a file", r.Name, r.Type)
		case err == nil:
			t.path, t.modelServer, t.conflict, t.existing = r.Path, r.ModelServerID, conflictOverwrite, r.ID
		case remote.IsKind(err, remote.NotFound):
			b.log.Info("the file being updated no longer exists; uploading it anew", "name", req.Name, "id", req.Existing)
		default:
			return t, err
		}
	}
	if t.path == "" {
		parent, err := b.mgr.GetResource(ctx, string(req.Parent))
		if err != nil {
			return t, err
		}
		if parent.Type != TypeResourceGroup {
			return t, errorf(remote.Invalid, op, "%q is not a folder", parent.Name)
		}
		ms, err := b.mgr.DefaultBlobServer(ctx, parent.ID)
		if err != nil {
			return t, err
		}
		t.path, t.modelServer = parent.Path+"/"+req.Name, ms
		t.conflict = conflictFail
		if req.Existing != "" {
			// The name is what the edited file is called now: update
			// whatever carries it.
			t.conflict = conflictOverwrite
		}
	}
	if t.modelServer == "" {
		return t, errorf(remote.Unavailable, op, "the Manager names no model server for %q", t.path)
	}
	// Spec vs demo: workflow.py strips the literal "Project Root"; the spec
	// says the root's name may be translated, so the first element of the
	// path, whatever it is called, is stripped. (Names cannot hold "/".)
	i := strings.IndexByte(t.path, '/')
	if i < 0 {
		return t, errorf(remote.Invalid, op, "cannot upload to %q", t.path)
	}
	t.blobName = t.path[i:]
	return t, nil
}

// uploadOnce runs one complete batch upload in one blob-server session.
func (b *Backend) uploadOnce(ctx context.Context, base, session string, t uploadTarget, req remote.UploadRequest, progress func(int64), uncertain *bool) (committed, error) {
	batch, err := b.bs.BeginBatchUpload(ctx, base, session, "bimfs: "+t.blobName)
	if err != nil {
		return committed{}, err
	}
	us, err := b.bs.BeginUpload(ctx, base, session, t.blobName, batch.NamespaceName)
	if err != nil {
		return committed{}, err
	}
	sum := sha256.New()
	if err := b.sendParts(ctx, base, session, us.ID, req, sum, progress); err != nil {
		return committed{}, err
	}
	md, err := b.bs.CommitUpload(ctx, base, session, us.ID)
	if err != nil {
		return committed{}, err
	}
	if err := checkCommitted(md, req.Size, sum); err != nil {
		// The batch stays uncommitted: nothing of it becomes visible.
		return committed{}, err
	}
	list, err := b.bs.CommitBatchUpload(ctx, base, session, batch.ID, t.conflict)
	if err != nil {
		var re *remote.Error
		if errors.As(err, &re) && (re.Status == 0 || (re.Status >= 500 && re.Status != 503)) {
			*uncertain = true
		}
		return committed{}, err
	}
	c := committed{}
	for _, m := range list {
		if m.Standard.BlobName == t.blobName || len(list) == 1 {
			c = committed{blobID: m.Standard.BlobID, contentRevision: int(m.Standard.ContentRevision)}
			break
		}
	}
	if c.blobID == "" {
		b.log.Warn("commit-batch-upload did not list the uploaded file; looking it up by path", "path", t.path, "files", len(list))
	}
	return c, nil
}

// sendParts uploads req.Content in parts of Config.PartSize. Two buffers
// are reused for the whole upload, so memory stays flat whatever the file
// size: the next part is read and hashed while the current one is sent.
func (b *Backend) sendParts(ctx context.Context, base, session, uploadID string, req remote.UploadRequest, sum hash.Hash, progress func(int64)) error {
	if req.Size == 0 {
		return nil
	}
	size := min(b.cfg.PartSize, req.Size)
	bufs := [2][]byte{make([]byte, size), make([]byte, size)}
	// read fills bufs[i&1] with the part at off and hashes it. Reads run
	// one at a time and in order, so the hash sees the bytes in order.
	read := func(i int, off int64) <-chan error {
		done := make(chan error, 1)
		go func() {
			n := min(size, req.Size-off)
			chunk := bufs[i&1][:n]
			k, err := req.Content.ReadAt(chunk, off)
			if int64(k) < n {
				if err == nil || errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				done <- &remote.Error{Kind: remote.KindUnknown, Op: "bimcloud.Upload",
					Message: "reading the content to upload at offset " + strconv.FormatInt(off, 10), Err: err}
				return
			}
			sum.Write(chunk)
			done <- nil
		}()
		return done
	}
	pending := read(0, 0)
	for i, off := 0, int64(0); off < req.Size; i++ {
		if err := <-pending; err != nil {
			return err
		}
		n := min(size, req.Size-off)
		next := off + n
		pending = nil
		if next < req.Size {
			pending = read(i+1, next)
		}
		err := b.putPart(ctx, base, session, uploadID, off, bufs[i&1][:n])
		if err != nil {
			if pending != nil {
				<-pending // the reader must not outlive the buffers' use
			}
			return err
		}
		off = next
		progress(off)
	}
	return nil
}

// putPart sends one part, again when the connection broke before an
// answer: sending a range again replaces it.
func (b *Backend) putPart(ctx context.Context, base, session, uploadID string, off int64, chunk []byte) error {
	for attempt := 1; ; attempt++ {
		us, err := b.bs.PutBlobContentPart(ctx, base, session, uploadID, off, chunk)
		if err == nil {
			if !covers(us, off, int64(len(chunk))) {
				return errorf(remote.Unavailable, "bimcloud.PutBlobContentPart", "the blob server did not record bytes %d-%d", off, off+int64(len(chunk)))
			}
			return nil
		}
		if !unreachable(err) || attempt >= maxPartAttempts || ctx.Err() != nil {
			return err
		}
		b.log.Debug("resending upload part", "offset", off, "err", err)
	}
}

// covers reports whether the upload session's uploaded-parts include
// [off, off+n). An answer without the list (older servers) is trusted.
func covers(us *uploadSession, off, n int64) bool {
	if us == nil || len(us.UploadedParts) == 0 {
		return true
	}
	for _, p := range us.UploadedParts {
		if int64(p.Offset) <= off && off+n <= int64(p.Offset)+int64(p.Length) {
			return true
		}
	}
	return false
}

// checkCommitted compares commit-upload's size and SHA-256 with what was
// sent. The hash notation is not specified (the example is unpadded
// base64url); base64url, base64 and hex are recognised, and an unknown
// algorithm or an empty hash is not checked.
func checkCommitted(md *blobMetadata, size int64, sum hash.Hash) error {
	const op = "bimcloud.CommitUpload"
	s := md.Standard
	// A size of 0 may be a missing field; the hash still checks the bytes.
	if s.Size != 0 && int64(s.Size) != size {
		return errorf(remote.Unavailable, op, "the blob server stored %d bytes of %d", int64(s.Size), size)
	}
	if !strings.EqualFold(s.HashAlgorithm, "SHA256") || s.ContentHash == "" {
		return nil
	}
	d := sum.Sum(nil)
	for _, enc := range []string{base64.RawURLEncoding.EncodeToString(d), base64.URLEncoding.EncodeToString(d),
		base64.StdEncoding.EncodeToString(d), base64.RawStdEncoding.EncodeToString(d)} {
		if s.ContentHash == enc {
			return nil
		}
	}
	if strings.EqualFold(s.ContentHash, hex.EncodeToString(d)) {
		return nil
	}
	return errorf(remote.Unavailable, op, "the blob server's content hash %s does not match the bytes sent", s.ContentHash)
}

// resolveUploaded finds the committed file in the Manager: by the final ID
// commit-batch-upload named, else by path. The Manager may show a commit
// a moment late, so a missing or stale answer is asked again a few times.
func (b *Backend) resolveUploaded(ctx context.Context, t uploadTarget, c committed, size int64) (remote.Entry, error) {
	const op = "bimcloud.Upload"
	wait := 20 * time.Millisecond
	var last error
	for attempt := 0; attempt < 6; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, wait); err != nil {
				return remote.Entry{}, &remote.Error{Kind: remote.Canceled, Op: op, Err: err}
			}
			wait *= 2
		}
		r, err := b.findUploaded(ctx, t, c)
		if err != nil {
			if !remote.IsKind(err, remote.NotFound) {
				return remote.Entry{}, err
			}
			last = err
			continue
		}
		if int64(r.Size) != size {
			last = errorf(remote.Unavailable, op, "the Manager shows %d bytes for %q, not the %d uploaded", int64(r.Size), t.path, size)
			continue
		}
		if t.existing != "" && r.ID != t.existing {
			b.log.Warn("the overwritten file has a new ID after the upload", "path", t.path, "old", t.existing, "new", r.ID)
		}
		e, _ := entryOf(r)
		e.Version.Number = c.contentRevision
		return e, nil
	}
	return remote.Entry{}, &remote.Error{Kind: remote.Unavailable, Op: op, Message: "the upload was committed but the Manager does not show it", Err: last}
}

// findUploaded looks the file up by final ID, falling back to its path.
func (b *Backend) findUploaded(ctx context.Context, t uploadTarget, c committed) (*Resource, error) {
	if c.blobID != "" {
		r, err := b.mgr.GetResource(ctx, c.blobID)
		if err == nil && r.Type == TypeBlob {
			return r, nil
		}
		if err != nil && !remote.IsKind(err, remote.NotFound) {
			return nil, err
		}
	}
	rs, err := b.mgr.ResourcesPage(ctx, Eq(FieldPath, t.path), 0, 2)
	if err != nil {
		return nil, err
	}
	for i := range rs {
		if rs[i].Type == TypeBlob && rs[i].Path == t.path {
			return &rs[i], nil
		}
	}
	return nil, errorf(remote.NotFound, "bimcloud.Upload", "no file at %q", t.path)
}

func sleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// explainRefusedCommit logs why the blob server would not take an upload
// when the cause is the file's state on the server, not the transfer: the
// close or fsync that started the upload fails, and the error code alone
// does not tell the user what happened.
func (b *Backend) explainRefusedCommit(t uploadTarget, err error) {
	switch remote.KindOf(err) {
	case remote.Conflict:
		b.log.Warn("the blob server refused to commit the upload: the file was changed, reserved or locked on the server "+
			"while it was being written, so this version was not stored there", "path", t.path, "code", blobCode(err), "err", err)
	case remote.Exists:
		b.log.Warn("the blob server refused to commit the upload: a file of this name appeared on the server while this one "+
			"was being written, and it was not overwritten", "path", t.path, "code", blobCode(err), "err", err)
	}
}

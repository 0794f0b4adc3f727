package bimcloud

// Wire types of the write path (insert-resource-group, batch upload,
// update-blob, deletes, jobs); the calls are in managerwrite.go and
// uploadapi.go, the remote.Writer methods in writer.go and upload.go.
//
// Where the spec and the vendor demo disagree (each also marked at the
// call):
//   - update-blob-parent: spec PUT, managerapi.py POST: the client sends
//     POST. update-blob: PUT in both.
//   - delete-resources-by-id-list: the spec declares no body; the demo
//     sends {"ids":[…]}, as does the client.
//   - abort-job: managerapi.py posts to get-job by mistake; the client
//     uses the spec's abort-job.
//   - put-blob-content-part: the spec says multipart/form-data; the demo
//     posts the raw chunk, as does the client, in Config.PartSize chunks
//     (the demo's 40 KB is "for the DEMO" only).
//   - begin-upload's blob-name: workflow.py strips the literal "Project
//     Root", which the spec says may be translated; the client strips the
//     path's first element.
//   - commit-upload returns a temporary blob-id; only commit-batch-upload
//     returns the final one (the spec's text says "commit-upload" twice).
//   - Blob-server session times are seconds; batch and upload session
//     times are milliseconds.
//   - The demo's begin_batch_upload and friends call process_response
//     twice on one response (harmless there, pointless to copy).

// job is the spec's Job (get-job, delete-resources-by-id-list). Finished
// jobs disappear after a few minutes; get-job then fails with error 6.
type job struct {
	ID         string  `json:"id"`
	Status     string  `json:"status"` // starting running failed completed aborted aborting undoing "abort failed"
	JobType    string  `json:"jobType"`
	Result     *string `json:"result"`
	ResultCode *string `json:"resultCode"`
	Abortable  bool    `json:"abortable"`
	Progress   struct {
		Min, Max, Current float64
		Phase             string `json:"phase"`
	} `json:"progress"`
}

// blobMetadata is BlobServerBlobMetadataResponse. All numbers are strings.
type blobMetadata struct {
	Standard struct {
		NamespaceName   string  `json:"namespace-name"`
		BlobName        string  `json:"blob-name"`
		BlobID          string  `json:"blob-id"`
		ContentRevision jsonInt `json:"content-revision"`
		LastModified    jsonInt `json:"last-modified"` // ms
		ContentHash     string  `json:"content-hash"`
		HashAlgorithm   string  `json:"content-hash-algorithm"` // SHA256
		Size            jsonInt `json:"size"`
	} `json:"standard-metadata"`
}

// uploadSession is the data of begin-upload and put-blob-content-part.
type uploadSession struct {
	ID            string `json:"id"`
	TargetBlobID  string `json:"target-blob-id"`
	UploadedParts []struct {
		Offset jsonInt `json:"offset"`
		Length jsonInt `json:"length"`
	} `json:"uploaded-parts"`
}

// batchUpload is the data of begin-batch-upload.
type batchUpload struct {
	ID            string `json:"id"`
	NamespaceName string `json:"namespace-name"`
}

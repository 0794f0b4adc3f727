package bimcloud

// Wire types of the write path (insert-resource-group, batch upload,
// update-blob, deletes, jobs). The write path is not implemented yet; these
// record the shapes and the places where the vendor demo and the spec
// disagree, so it can be built without rereading both.
//
// Notes for that work:
//   - insert-resource-group?parent-id= takes {"name","type":"resourceGroup"}
//     and answers a JSON string, the new ID. Check names with ValidName.
//   - update-blob-parent: spec PUT, managerapi.py POST (follow the demo).
//     Body {"parentId"} or {"parentPath"}; answers true.
//   - update-blob (PUT) renames: {"id","name","type":"blob"}.
//   - delete-resources-by-id-list: the spec declares no body; the demo
//     sends {"ids":[…]} and gets a Job back.
//   - abort-job: managerapi.py abort_job posts to get-job by mistake; the
//     spec's path is POST abort-job?job-id=.
//   - put-blob-content-part: the spec says multipart/form-data; the demo
//     posts the raw chunk (follow the demo). The demo's 40 KiB chunk is
//     for demonstration only ("several megabytes" in real use).
//   - begin-upload's blob-name is the Manager path without the leading
//     root name; workflow.py strips the literal "Project Root", which the
//     spec says may be translated: strip the root's actual $path instead.
//   - commit-upload returns a temporary blob-id; only commit-batch-upload
//     returns the final one (the spec text says "commit-upload" twice).
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

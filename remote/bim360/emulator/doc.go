// Package emulator is an in-process HTTP server that behaves like the parts
// of Autodesk Platform Services a BIM 360 Docs client uses: Authentication
// v2, Data Management (hubs, projects, folders, items, versions, and the
// write operations), OSS signed S3 downloads and uploads, and an S3-like
// endpoint that serves the signed URLs.
//
// Paths, parameters, JSON shapes and status codes follow the official
// OpenAPI specs (datamanagement.yaml, oss.yaml, authentication.yaml); the
// package's contract tests validate every API exchange against them. Knobs
// in Options inject latency, bandwidth limits, faults and the documented
// rate limits so clients can be tested against the behaviour of the real
// service. The server listens on 127.0.0.1 only.
//
// # Writing files
//
// The upload flow of the BIM 360 tutorials:
//
//  1. POST /data/v1/projects/{project_id}/storage (StoragePayload; target
//     type "folders" for a new item, "items" for a new version) → 201
//     Storage with data.id "urn:adsk.objects:os.object:wip.dm.prod/<uuid>.<ext>".
//  2. GET /oss/v2/buckets/wip.dm.prod/objects/<uuid>.<ext>/signeds3upload
//     ?parts=&firstPart=&uploadKey=&minutesExpiration=&useAcceleration= →
//     {uploadKey, urls[], urlExpiration, uploadExpiration}. urls[i] is part
//     firstPart+i. Asking again with uploadKey gives fresh URLs for the
//     same session (for example after they expired).
//  3. PUT each part to its URL,
//     http://127.0.0.1:PORT/s3/wip.dm.prod/<key>?X-Amz-…&partNumber=N&uploadKey=K,
//     with no Authorization header and a Content-Length (a chunked body
//     gets 411 MissingContentLength). The answer is 200 with an empty body
//     and the part's ETag (quoted hex MD5). Re-PUTting a part number
//     replaces it. Errors are S3 XML: 403 AccessDenied "Request has
//     expired", 403 SignatureDoesNotMatch, 404 NoSuchUpload (session
//     completed or expired), 400 BadDigest/InvalidDigest (Content-MD5).
//  4. POST …/signeds3upload with Content-Type application/json and
//     {uploadKey, size?, eTags?} → 200 objectDetails. Parts 1..n must all
//     be present, every part but the last at least Options.MinPartSize
//     (5 MiB), and size and eTags must match when given; otherwise 400
//     {"reason": "…", "status": "error", "parts": [{"firstPart": i,
//     "status": "Ok|Pending|Unexpected|TooSmall|Unexpected+TooSmall",
//     "size", "eTag"}]} (the batch-completion result shape; "status" and
//     "parts" only for per-part problems). Completing again with the same
//     uploadKey answers the same objectDetails.
//  5. POST /data/v1/projects/{project_id}/items (first version) or
//     POST …/versions (later versions, renames) naming the storage → 201.
//
// Other writes: POST items?copyFrom=<version id> (server-side copy into a
// folder), POST versions with versions:autodesk.core:Deleted (delete: the
// item is hidden, its tip has no storage and a GUID name), POST
// versions?copyFrom=<version id> (restore, or give an item another item's
// content, with an optional new name), POST folders, PATCH folders/{id}
// (rename, move, hidden true/false) and POST commands with
// commands:autodesk.core:CreateFolder (see handleCommand).
//
// # Errors where the specs are silent
//
// DM 400/404/409/423 bodies are JSON:API errors
// {"jsonapi":{"version":"1.0"},"errors":[{"id","status","code","title","detail"}]}
// with codes BAD_INPUT, NOT_FOUND, CONFLICT and LOCKED; a name already
// taken answers 409 with detail "Another object with the same name already
// exists in this container". DM 403 bodies use the spec's declared
// 403-general shape ({"jsonapi":{},"links":{},"data":[],"meta":{"warnings":
// [{"HttpStatusCode":"403","ErrorCode":"BIM360DM_ERROR","Title","Detail",…}]}}).
// OSS errors are {"reason":"…"}. Choices the specs leave open:
//
//   - content in the project root folder, or in a read-only folder
//     (SetFolderReadOnly; inherited by subfolders): 403; in a hidden
//     (deleted) folder: 404;
//   - folder names, item names and version names must be 1-255 characters
//     without < > : " / \ | ? * ' \n \r \t \0 \f ¢ ™ $ ®: 400 naming the
//     rule; folders nest at most 25 levels (top folders are level 1): 400;
//   - only visible siblings conflict: a deleted item or folder's name may be
//     reused, and restoring it then answers 409 until it gets a new name;
//     items and folders do not conflict with each other;
//   - deleting an already deleted item: 409; POST versions on a LockItem'd
//     item: 423;
//   - storage that was never uploaded or is already used by a version: 400;
//     unknown storage: 404; anything from another project: 400;
//   - signeds3upload for a key not made by POST storage: 403; for an
//     object a version already uses: 403; unknown bucket: 404; an unknown
//     or foreign uploadKey: 400;
//   - a project marked SetProjectCommands(id, false), and any command type
//     other than CreateFolder: 400 BAD_INPUT "The command type … is not
//     supported";
//   - POST folders in a project marked SetProjectPostFolders(id, false): 400
//     BAD_INPUT (folders there are made by the CreateFolder command).
//
// The same host serves the Data Connector API (Server.DataConnector, see
// remote/bim360/dataconnector/emulator) and the Assets, Locations and
// Relationship APIs (Server.Assets, see remote/bim360/assets/emulator),
// behind the same authentication, counters and injected faults. Demo gives
// the first hub two data requests, refuses the Data Connector in the second
// with 403, and gives Tower A 2,600 assets.
//
// DM request bodies must carry "jsonapi":{"version":"1.0"} as every DM
// payload schema requires, except the restore tutorial's bare copyFrom
// body {"data":{"type":"versions"}}. Both application/vnd.api+json and
// application/json are accepted.
package emulator

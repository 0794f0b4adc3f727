// Package emulator is an in-process GRAPHISOFT BIMcloud for tests,
// benchmarks and demo mounts: one BIMcloud Manager (the management/client
// API with its OAuth2 endpoints) plus one Blob Server per model server, each
// on its own 127.0.0.1 listener.
//
// The emulator follows the 2023.2 OpenAPI document
// (shared/specs/bimcloud/2023.2.yaml) for paths, parameters, JSON shapes and
// status codes; its tests check every exchange against that document with
// the contract subpackage, which client tests can use too. Where
// GRAPHISOFT's Python demo (lib/*.py of github.com/GRAPHISOFT/bimcloud-api)
// disagrees with the spec, the spec wins, and the emulator also accepts the
// demo's form when the real server evidently does; each such place is
// marked "Deviation:" in a comment.
//
// # Model servers and connection URLs
//
// Model servers are resources of type "modelServer" under "Server Root"
// (get-resource with a blob's modelServerId). Their connectionUrls are
// templates "$protocol//$hostname:PORT". A client replaces $protocol with the
// manager URL's scheme plus ":" ("http:") and $hostname with the manager
// URL's host name ("127.0.0.1"), then probes them in order with
// GET <url>/application-server-service/get-runtime-id and keeps the first
// 2xx. The first URLs of each model server point at closed loopback ports
// (New's default server has one, AddModelServer chooses), so probing is
// exercised by every test.
//
// # Deviations between the spec and the vendor demo
//
//   - oauth2/token: spec JSON body with "client-id"; demo form body with
//     "client_id" and an undocumented "password" grant. The refresh_token
//     and authorization_code grants take JSON only (400 invalid_request for
//     a form) unless Options.AcceptDemoForms (both) or RefuseSpecForms
//     (form only: JSON gets 400 invalid_request, as from a server that
//     reads only forms). The password grant takes the demo's form.
//   - get-blob-changes-for-sync and update-blob-parent: spec PUT, demo POST.
//     Only PUT is served unless Options.AcceptDemoForms (both) or
//     Options.RefuseSpecForms (POST only); a refused verb gets 404, as does
//     every unknown manager route.
//   - get-resources-by-criterion: the sort-by, skip and limit query
//     parameters come from the demo; the spec has none. The spec's example
//     criterion uses "parentId", the demo "$parentId"; both are accepted.
//   - ticket-generator/get-ticket with format base64: the spec says a JSON
//     string; the demo uses the raw body as the ticket, so the emulator sends
//     bare base64 text (Options.TicketJSONString switches to the spec form).
//   - get-authorization-code-by-state: "code" is null while pending (the
//     schema says string, its description says null; the demo needs the key).
//   - create-session refusals: the spec gives 401 under the session media
//     type; the body is the detailed-error envelope with error 3, which is
//     what the demo parses.
//   - The model server answers unknown paths with 200 and an HTML body
//     ("for legacy reasons", blobserverapi.py); the emulator does the same.
//
// Bugs in the vendor demo that a client must not copy: abort_job POSTs to
// get-job; errors.py names blob-server errors from the manager table (blob
// code 4 is AccessControlTicketExpired, not EntityCyclicDependencyError) and
// its "Unknown…" fallbacks are never returned; the demo's code exchange
// sends neither redirect_uri nor code_verifier.
//
// # Emulator behaviour a client author must know
//
// Items marked (emulator) are choices where no source says what the real
// server does; a client must not depend on them.
//
//   - Every manager call needs "Authorization: Bearer <access_token>"; a
//     stale or unknown token gets 401 {"error":"invalid_token"} (refresh once
//     and retry), a missing header 430 with error 2 (emulator). Refresh tokens rotate:
//     each is good for one refresh.
//   - Manager errors are 430 {"error-code":N,"error-message":"Name: …"}; blob
//     server errors are 430 (401 for create-session refusals) with
//     {"data-content-type":"…detailed-error-1.0+json","data":{"error-code":N,
//     "error-message":…,"details":{"message":…,"reason":"Name"}}}. Parse the
//     body whatever its Content-Type. 503 (no body) means retry later.
//   - get-resources-by-criterion returns at most PageCap (1000) results,
//     whatever limit asks: page with limit <= 1000 and sort-by=name, stop at
//     the first short page, and de-duplicate by id if the tree may change
//     between pages. Without sort-by the order is by id (emulator). Unknown
//     operators or fields are 430 error 7 (emulator); $like is SQL LIKE
//     (% and _), case-insensitive (emulator).
//   - Folders have no $size; blobs always have one (0 included). The root is
//     id "projectRoot", $path "Project Root", with no $parentId.
//   - $modifiedDate of a blob strictly increases with every content change
//     (emulator), so here (id, $modifiedDate) identifies a content revision;
//     against a real server also compare $size. The change feed's
//     per-item "revision" is the feed revision of the blob's latest change.
//   - Sessions time out after SessionLifetime of idleness (every call extends
//     them); tickets after TicketLifetime. On blob error 4 or 11 get a new
//     ticket and session and retry, as workflow.py does.
//   - get-blob-content sends the whole blob with Content-Length (and, with
//     Options.RevisionHeader, an ETag that changes with every content
//     revision; emulator); Range is
//     ignored unless Options.RangeSupport (then 206 with Content-Range, 416
//     when unsatisfiable). A body can end early (RateReset): check the length.
//   - The change feed covers a folder's whole subtree and only blobs
//     (emulator: the spec says "blob changes of a specified resource group").
//     fromRevision 0 lists all blobs in "created" with endRevision = the
//     newest revision; later calls return what changed after fromRevision,
//     one entry per blob, and endRevision = fromRevision when nothing did.
//     Error 9 (after ObsoleteRevisions, or for an unknown revision) means:
//     restart from 0 and rebuild from "created".
//
// # Writes
//
//   - insert-resource-group answers the new ID as a bare JSON string; a
//     sibling with the name gives error 5, a name outside the Resource.name
//     pattern error 7. There is no API to rename or move a folder.
//   - delete-resource-group deletes empty folders only; a non-empty one
//     gives error 15, ProhibitDeleteError (emulator: the spec names no
//     code). delete-blob deletes a blob. Both answer {}.
//   - update-blob renames ({"id","name","type":"blob"}, answers {});
//     PUT update-blob-parent?blob-id= moves ({"parentId"} or {"parentPath"},
//     answers true). Neither changes the ID or $modifiedDate (emulator).
//   - delete-resources-by-id-list {"ids":[…]} answers a destroyResources
//     Job; see job for how get-job and abort-job move it on. Clients must
//     treat completed, failed, aborted and "abort failed" as final
//     (workflow.py only stops at completed or failed).
//   - Uploads: see upload.go. begin-upload's blob-name is the $path without
//     the root's name ("/folder/file.png"); missing folders are created at
//     commit-batch-upload, which is all-or-nothing and answers the final
//     IDs: a new blob gets a fresh ID, an overwritten blob keeps its ID and
//     gets the next content revision (a strictly later $modifiedDate).
//     commit-upload's blob-id is temporary. content-hash is the SHA-256 of
//     the content, unpadded base64url.
//   - Every blob change (upload, overwrite, rename, move, delete, including
//     those of delete jobs) enters the change feed; folders do not.
//   - InjectError and Counters know every write operation by its last path
//     segment ("insert-resource-group", "put-blob-content-part", …);
//     "put-blob-content-part.bytes" counts part bytes received and
//     "jobs.<status>" finished jobs.
package emulator

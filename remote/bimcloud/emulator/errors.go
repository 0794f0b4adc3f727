package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// StatusBIMcloudError is the HTTP status both the manager and the blob
// servers use for application errors. http.StatusText has no text for it.
const StatusBIMcloudError = 430

// Manager error codes (spec PortalServerError) used by the emulator.
const (
	ErrGeneric                = 1
	ErrAuthenticationRequired = 2
	ErrAccessDenied           = 3
	ErrEntityExists           = 5
	ErrEntityNotFound         = 6
	ErrEntityValidation       = 7
	ErrRevisionObsoleted      = 9
	ErrLdapConnection         = 10
	ErrProhibitDelete         = 15
	ErrResultLimitExceeded    = 17
	ErrNotAllowed             = 25
)

// Blob server error codes (spec BlobServerDetailedError) used by the emulator.
const (
	BlobErrGeneric                    = 1
	BlobErrAuthenticationFailed       = 3
	BlobErrAccessControlTicketExpired = 4
	BlobErrSessionNotFound            = 11
	BlobErrBatchUploadCommitFailed    = 12
	BlobErrInvalidBlobContentPart     = 13
	BlobErrUploadSessionNotFound      = 14
	BlobErrIncompleteUpload           = 15
	BlobErrBlobNamespaceNotFound      = 17
	BlobErrBlobAlreadyExists          = 20
	BlobErrBlobNotFound               = 21
)

// managerErrorNames is the spec's PortalServerError table.
var managerErrorNames = map[int]string{
	1: "GenericError", 2: "AuthenticationRequiredError", 3: "AccessDeniedError",
	4: "EntityCyclicDependencyError", 5: "EntityExistsError", 6: "EntityNotFoundError",
	7: "EntityValidationError", 8: "OptimisticLockError", 9: "RevisionObsoletedError",
	10: "LdapConnectionError", 11: "LdapInvalidCredentialsError", 12: "FileConnectionBaseDnError",
	13: "ModelServerSideError", 14: "ReferenceError", 15: "ProhibitDeleteError",
	16: "LicenseManagerError", 17: "ResultLimitExceededError", 18: "ModelServerNotCompatibleError",
	19: "NotEnoughFreeSpaceError", 20: "ChangeHostError", 21: "GSIDConnectionError",
	22: "GSIDInvalidCredentialsError", 23: "TagAlreadyAssignedError", 24: "KeyExistsError",
	25: "NotAllowedError", 26: "NotYetAvailableError", 27: "InsufficientLicenseError",
}

// blobErrorNames is the spec's BlobServerDetailedError table. (The vendor's
// errors.py labels blob errors from the manager table; the spec wins.)
var blobErrorNames = map[int]string{
	1: "GenericError", 2: "AuthenticationRequired", 3: "AuthenticationFailed",
	4: "AccessControlTicketExpired", 5: "AccessDenied", 11: "SessionNotFound",
	12: "BatchUploadCommitFailed", 13: "InvalidBlobContentPart", 14: "UploadSessionNotFound",
	15: "IncompleteUpload", 16: "BlobAttachmentNotFound", 17: "BlobNamespaceNotFound",
	18: "BlobRevisionNotFound", 19: "BlobChunkNotFound", 20: "BlobAlreadyExists",
	21: "BlobNotFound", 22: "BlobAccessDenied", 23: "BlobPermissionDenied",
}

// Vendor media types of the blob server.
const (
	ctDetailedError = "application/vnd.graphisoft.teamwork.generic-service-1.0.detailed-error-1.0+json"
	ctAuthRequest   = "application/vnd.graphisoft.teamwork.session-service-1.0.authentication-request-1.0+json"
	ctSession       = "application/vnd.graphisoft.teamwork.session-service-1.0.session-1.0+json"
	ctJSON          = "application/json"
	ctOctetStream   = "application/octet-stream"
)

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("emulator: marshal response: %v", err))
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// managerError is the PortalServerError body.
type managerError struct {
	Code    int    `json:"error-code"`
	Message string `json:"error-message"`
}

// writeManagerError answers 430 {"error-code":N,"error-message":"Name: msg"}.
func writeManagerError(w http.ResponseWriter, code int, format string, args ...any) {
	name := managerErrorNames[code]
	if name == "" {
		name = "UnknownError"
	}
	writeJSON(w, StatusBIMcloudError, ctJSON, managerError{Code: code, Message: name + ": " + fmt.Sprintf(format, args...)})
}

// oauthError is the spec's OauthError body.
type oauthError struct {
	Error       string        `json:"error"`
	Description string        `json:"error_description,omitempty"`
	Inner       *managerError `json:"inner,omitempty"`
}

func writeOauthError(w http.ResponseWriter, status int, name, description string) {
	writeJSON(w, status, ctJSON, oauthError{Error: name, Description: description})
}

type blobErrorDetails struct {
	Message string `json:"message"`
	Reason  string `json:"reason"`
}

type blobErrorData struct {
	Code    int              `json:"error-code"`
	Message string           `json:"error-message"`
	Details blobErrorDetails `json:"details"`
}

type envelope struct {
	DataContentType string `json:"data-content-type"`
	Data            any    `json:"data"`
}

// writeBlobError answers with the detailed-error envelope. Status is 430,
// except create-session's ticket refusals, which the spec gives as 401
// under the session media type (the body is still a detailed error).
func writeBlobError(w http.ResponseWriter, status int, op string, code int, msg string) {
	name := blobErrorNames[code]
	if name == "" {
		name = "GenericError"
	}
	ct := ctDetailedError
	if status == http.StatusUnauthorized {
		ct = ctSession
	}
	writeJSON(w, status, ct, envelope{
		DataContentType: ctDetailedError,
		Data: blobErrorData{
			Code:    code,
			Message: fmt.Sprintf("Failed to execute request: '%s'. Error: '%s'.", op, msg),
			Details: blobErrorDetails{Message: msg, Reason: name},
		},
	})
}

// writeSessionNotFound answers a blob-server call whose session-id names no
// live session of that model server: 430, error 11 (SessionNotFound).
func writeSessionNotFound(w http.ResponseWriter, op string) {
	writeBlobError(w, StatusBIMcloudError, op, BlobErrSessionNotFound, "Session not found.")
}

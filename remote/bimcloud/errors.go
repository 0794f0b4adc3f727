package bimcloud

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/httpx"
)

// StatusBIMcloudError is the HTTP status the Manager and the Blob Server use
// for their own errors (the body names the error code). http.StatusText has
// no text for it.
const StatusBIMcloudError = 430

// ErrorInfo describes one entry of a BIMcloud error table.
type ErrorInfo struct {
	Name string
	Kind remote.Kind
}

// Manager error codes the client acts on.
const (
	ManagerAuthenticationRequired = 2
	ManagerAccessDenied           = 3
	ManagerEntityExists           = 5
	ManagerEntityNotFound         = 6
	ManagerRevisionObsoleted      = 9
	ManagerResultLimitExceeded    = 17
)

// ManagerErrors is the Manager's error table (spec schema PortalServerError;
// the same as the vendor's errors.py) with the Kind each code maps to.
var ManagerErrors = map[int]ErrorInfo{
	1:  {"GenericError", remote.KindUnknown},
	2:  {"AuthenticationRequiredError", remote.Unauthenticated},
	3:  {"AccessDeniedError", remote.Permission},
	4:  {"EntityCyclicDependencyError", remote.Invalid}, // moving a folder below itself
	5:  {"EntityExistsError", remote.Exists},
	6:  {"EntityNotFoundError", remote.NotFound},
	7:  {"EntityValidationError", remote.Invalid}, // e.g. a name with a forbidden character
	8:  {"OptimisticLockError", remote.Conflict},
	9:  {"RevisionObsoletedError", remote.Conflict}, // the change feed restarts from 0
	10: {"LdapConnectionError", remote.Unavailable},
	11: {"LdapInvalidCredentialsError", remote.Unauthenticated},
	12: {"FileConnectionBaseDnError", remote.Unavailable},
	13: {"ModelServerSideError", remote.Unavailable},
	14: {"ReferenceError", remote.Conflict},
	// The spec does not say which code deleting a non-empty folder gives;
	// ProhibitDeleteError is the only delete-specific one.
	15: {"ProhibitDeleteError", remote.NotEmpty},
	16: {"LicenseManagerError", remote.Unavailable},
	17: {"ResultLimitExceededError", remote.Invalid},
	18: {"ModelServerNotCompatibleError", remote.Unsupported},
	19: {"NotEnoughFreeSpaceError", remote.NoSpace},
	20: {"ChangeHostError", remote.Conflict},
	21: {"GSIDConnectionError", remote.Unavailable},
	22: {"GSIDInvalidCredentialsError", remote.Unauthenticated},
	23: {"TagAlreadyAssignedError", remote.Exists},
	24: {"KeyExistsError", remote.Exists},
	25: {"NotAllowedError", remote.Permission},
	26: {"NotYetAvailableError", remote.Unavailable},
	27: {"InsufficientLicenseError", remote.Permission},
}

// Blob Server error codes the client acts on.
const (
	BlobAuthenticationRequired     = 2
	BlobAuthenticationFailed       = 3
	BlobAccessControlTicketExpired = 4
	BlobSessionNotFound            = 11
	BlobNotFound                   = 21
)

// BlobServerErrors is the Blob Server's error table (spec schema
// BlobServerDetailedError). The vendor's errors.py names blob errors from
// the Manager table (so blob code 4 reads "EntityCyclicDependencyError");
// this table follows the spec.
var BlobServerErrors = map[int]ErrorInfo{
	1:  {"GenericError", remote.KindUnknown},
	2:  {"AuthenticationRequired", remote.Unauthenticated},
	3:  {"AuthenticationFailed", remote.Unauthenticated},
	4:  {"AccessControlTicketExpired", remote.Unauthenticated}, // renewed transparently
	5:  {"AccessDenied", remote.Permission},
	11: {"SessionNotFound", remote.Unauthenticated}, // renewed transparently
	12: {"BatchUploadCommitFailed", remote.Conflict},
	13: {"InvalidBlobContentPart", remote.Invalid},
	14: {"UploadSessionNotFound", remote.NotFound},
	15: {"IncompleteUpload", remote.Invalid},
	16: {"BlobAttachmentNotFound", remote.NotFound},
	17: {"BlobNamespaceNotFound", remote.NotFound},
	18: {"BlobRevisionNotFound", remote.NotFound},
	19: {"BlobChunkNotFound", remote.NotFound},
	20: {"BlobAlreadyExists", remote.Exists},
	21: {"BlobNotFound", remote.NotFound},
	22: {"BlobAccessDenied", remote.Permission},
	23: {"BlobPermissionDenied", remote.Permission},
}

// ManagerError is a decoded PortalServerError body. It is the Err of the
// *remote.Error a failed Manager call returns.
type ManagerError struct {
	Code    int
	Name    string
	Message string
}

func (e *ManagerError) Error() string {
	return fmt.Sprintf("BIMcloud Manager error %d (%s): %s", e.Code, e.Name, e.Message)
}

// BlobServerError is a decoded BlobServerDetailedError body. It is the Err
// of the *remote.Error a failed Blob Server call returns.
type BlobServerError struct {
	Code    int
	Name    string
	Message string
	// Reason is the server's internal error name (details.reason).
	Reason string
}

func (e *BlobServerError) Error() string {
	return fmt.Sprintf("BIMcloud Blob Server error %d (%s): %s", e.Code, e.Name, e.Message)
}

// managerCode returns the Manager error code carried by err, or 0.
func managerCode(err error) int {
	var me *ManagerError
	if errors.As(err, &me) {
		return me.Code
	}
	return 0
}

// blobCode returns the Blob Server error code carried by err, or 0.
func blobCode(err error) int {
	var be *BlobServerError
	if errors.As(err, &be) {
		return be.Code
	}
	return 0
}

func lookup(table map[int]ErrorInfo, code int, unknown string) ErrorInfo {
	if info, ok := table[code]; ok {
		return info
	}
	// errors.py means to fall back to an "Unknown…" name but never
	// returns it; do.
	return ErrorInfo{Name: fmt.Sprintf("%s%d", unknown, code), Kind: remote.KindUnknown}
}

// oauthErrorBody is the spec's OauthError (token endpoint failures and 401
// answers of every Manager API).
type oauthErrorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Inner       *struct {
		Code    json.Number `json:"error-code"`
		Message string      `json:"error-message"`
	} `json:"inner"`
}

// decodeManagerError maps a failed Manager response: 430 bodies through
// ManagerErrors, 401 OauthError bodies to Unauthenticated (BearerTransport
// has already refreshed the token once, so a 401 here means the login is
// gone), and anything else by status.
func decodeManagerError(account string) httpx.ErrorDecoder {
	return func(op string, resp *http.Response, body []byte) error {
		re := &remote.Error{Op: op, Status: resp.StatusCode, Kind: remote.KindForStatus(resp.StatusCode)}
		switch {
		case resp.StatusCode == StatusBIMcloudError:
			var b struct {
				Code    *int   `json:"error-code"`
				Message string `json:"error-message"`
			}
			if err := json.Unmarshal(body, &b); err != nil || b.Code == nil {
				re.Kind = remote.KindUnknown
				re.Message = "undecodable BIMcloud error: " + httpx.Excerpt(body)
				return re
			}
			info := lookup(ManagerErrors, *b.Code, "UnknownManagerError")
			re.Kind = info.Kind
			re.Code = strconv.Itoa(*b.Code)
			re.Message = managerMessage(info.Name, b.Message)
			re.Err = &ManagerError{Code: *b.Code, Name: info.Name, Message: b.Message}
			if *b.Code == ManagerAuthenticationRequired {
				re.Message += loginHint(account)
			}
			return re
		case resp.StatusCode == http.StatusUnauthorized:
			var o oauthErrorBody
			_ = json.Unmarshal(body, &o)
			re.Code = o.Error
			re.Message = "the Manager refused the access token"
			if o.Description != "" {
				re.Message += " (" + o.Description + ")"
			}
			re.Message += loginHint(account)
			return re
		}
		if missingRoute(re) {
			return re
		}
		var o oauthErrorBody
		if json.Unmarshal(body, &o) == nil && o.Error != "" {
			re.Code = o.Error
			re.Message = strings.TrimSpace(o.Error + ": " + o.Description)
			return re
		}
		re.Message = httpx.Excerpt(body)
		return re
	}
}

// missingRoute turns a 404 or 405 into Unsupported: the Manager and the
// Blob Server report missing resources with their own error codes (430),
// so these statuses mean the server has no such call, never that a file
// is missing.
func missingRoute(re *remote.Error) bool {
	if re.Status != http.StatusNotFound && re.Status != http.StatusMethodNotAllowed {
		return false
	}
	re.Kind = remote.Unsupported
	re.Message = "unsupported by this server"
	return true
}

// managerMessage avoids "EntityNotFoundError: EntityNotFoundError: …": the
// server already prefixes its messages with the error name.
func managerMessage(name, msg string) string {
	if strings.HasPrefix(msg, name) {
		return msg
	}
	if msg == "" {
		return name
	}
	return name + ": " + msg
}

func loginHint(account string) string {
	return fmt.Sprintf("; run `bimfs login %s`", account)
}

// blobErrorEnvelope is the detailed-error payload. Some answers carry it in
// the {"data-content-type","data"} envelope, others bare; accept both.
type blobErrorEnvelope struct {
	Data *blobErrorData `json:"data"`
	blobErrorData
}

type blobErrorData struct {
	Code    *int   `json:"error-code"`
	Message string `json:"error-message"`
	Details struct {
		Message string `json:"message"`
		Reason  string `json:"reason"`
	} `json:"details"`
}

// decodeBlobError maps a failed Blob Server response (430, or 401 from
// create-session) through BlobServerErrors.
func decodeBlobError(op string, resp *http.Response, body []byte) error {
	re := &remote.Error{Op: op, Status: resp.StatusCode, Kind: remote.KindForStatus(resp.StatusCode)}
	var env blobErrorEnvelope
	if json.Unmarshal(body, &env) == nil {
		d := env.Data
		if d == nil || d.Code == nil {
			d = &env.blobErrorData
		}
		if d.Code != nil {
			info := lookup(BlobServerErrors, *d.Code, "UnknownBlobServerError")
			msg := d.Details.Message
			if msg == "" {
				msg = d.Message
			}
			re.Kind = info.Kind
			re.Code = strconv.Itoa(*d.Code)
			re.Message = info.Name + ": " + msg
			re.Err = &BlobServerError{Code: *d.Code, Name: info.Name, Message: d.Message, Reason: d.Details.Reason}
			return re
		}
	}
	if resp.StatusCode == StatusBIMcloudError {
		re.Kind = remote.KindUnknown
	}
	if missingRoute(re) {
		return re
	}
	re.Message = httpx.Excerpt(body)
	return re
}

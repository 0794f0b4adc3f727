package bimcloud

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bimcloud/emulator"
	"github.com/bimfs/bimfs/remote/httpx"
)

func sortedCodes(m map[int]ErrorInfo) []int {
	var codes []int
	for c := range m {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	return codes
}

// Every documented Manager code on a listing becomes its table's Kind, with
// the code and name in the error.
func TestManagerErrorsOnBrowse(t *testing.T) {
	s := newServer(t, emulator.Options{})
	dir := s.AddFolder(emulator.RootID, "d")
	b, _ := loggedIn(t, s)
	if len(ManagerErrors) != 27 {
		t.Fatalf("manager table has %d codes, the spec 27", len(ManagerErrors))
	}
	for _, code := range sortedCodes(ManagerErrors) {
		info := ManagerErrors[code]
		if code == ManagerResultLimitExceeded {
			continue // handled by paging; see TestResultLimitExceededShrinksPages
		}
		s.InjectError("get-resources-by-criterion", code, 1)
		_, err := b.List(t.Context(), remote.ID(dir))
		mustKind(t, err, info.Kind)
		var re *remote.Error
		if !errors.As(err, &re) || re.Status != StatusBIMcloudError || re.Code != fmt.Sprint(code) || !strings.Contains(re.Message, info.Name) {
			t.Fatalf("code %d: error %#v lacks status, code or name", code, err)
		}
		if managerCode(err) != code {
			t.Fatalf("code %d: ManagerError not in the chain of %v", code, err)
		}
		if code == ManagerAuthenticationRequired && !strings.Contains(err.Error(), "bimfs login acct") {
			t.Fatalf("code 2 does not say how to log in: %v", err)
		}
	}
	// Single lookups map the same way.
	s.InjectError("get-resource", ManagerEntityNotFound, 1)
	_, err := b.Stat(t.Context(), remote.ID(dir))
	mustKind(t, err, remote.NotFound)
	s.InjectError("get-resource", ManagerAccessDenied, 1)
	_, err = b.Stat(t.Context(), remote.ID(dir))
	mustKind(t, err, remote.Permission)
}

func TestResultLimitExceededShrinksPages(t *testing.T) {
	s := newServer(t, emulator.Options{})
	dir := s.AddFolder(emulator.RootID, "d")
	for i := range 20 {
		s.AddBlob(dir, fmt.Sprintf("f%02d", i), emulator.Bytes(nil), "")
	}
	b, _ := loggedIn(t, s)
	s.InjectError("get-resources-by-criterion", ManagerResultLimitExceeded, 1)
	es, err := b.List(t.Context(), remote.ID(dir))
	if err != nil || len(es) != 20 {
		t.Fatalf("%d entries, %v", len(es), err)
	}
	if got := b.mgr.pager.pageSize(); got != maxPageSize/2 {
		t.Fatalf("page size %d after ResultLimitExceeded, want %d", got, maxPageSize/2)
	}
}

// Every documented Blob Server code on a download becomes its table's
// Kind; ticket and session expiry (4, 11) are renewed instead.
func TestBlobErrorsOnRead(t *testing.T) {
	s := newServer(t, emulator.Options{})
	id := s.AddBlob(emulator.RootID, "a.txt", emulator.Bytes([]byte("abc")), "")
	b, _ := loggedIn(t, s)
	e := stat(t, b, id)
	if len(BlobServerErrors) != 18 {
		t.Fatalf("blob table has %d codes, the spec 18", len(BlobServerErrors))
	}
	for _, code := range sortedCodes(BlobServerErrors) {
		info := BlobServerErrors[code]
		s.InjectError("get-blob-content", code, 1)
		data, err := readAll(t, b, id, e.Version, 0, 3)
		if code == BlobAccessControlTicketExpired || code == BlobSessionNotFound {
			if err != nil || string(data) != "abc" {
				t.Fatalf("code %d not renewed: %q, %v", code, data, err)
			}
			continue
		}
		mustKind(t, err, info.Kind)
		var be *BlobServerError
		if !errors.As(err, &be) || be.Code != code || be.Name != info.Name || !strings.Contains(err.Error(), info.Name) {
			t.Fatalf("code %d: %v does not carry the blob server error", code, err)
		}
	}
	// Manager errors on the read path (the ticket) map through the
	// Manager's table.
	s.ExpireSessions()
	s.InjectError("get-ticket", ManagerAccessDenied, 1)
	_, err := readAll(t, b, id, e.Version, 0, 3)
	mustKind(t, err, remote.Permission)
	// A ticket the blob server refuses (401, code 3): the Manager login
	// that issued it is valid, so the blob server is at fault.
	s.InjectError("create-session", BlobAuthenticationFailed, 1)
	_, err = readAll(t, b, id, e.Version, 0, 3)
	mustKind(t, err, remote.Unavailable)
	if be := (*BlobServerError)(nil); !errors.As(err, &be) || be.Code != BlobAuthenticationFailed || strings.Contains(err.Error(), "bimfs login") {
		t.Fatalf("refused ticket reported as %v", err)
	}
	if data, err := readAll(t, b, id, e.Version, 0, 3); err != nil || string(data) != "abc" {
		t.Fatalf("after the injected errors: %q, %v", data, err)
	}
}

func TestBusyServerRetried(t *testing.T) {
	s := newServer(t, emulator.Options{})
	id := s.AddBlob(emulator.RootID, "a.txt", emulator.Bytes([]byte("abc")), "")
	b, _ := loggedIn(t, s)
	s.InjectError("get-resources-by-criterion", http.StatusServiceUnavailable, 1)
	if _, err := b.List(t.Context(), RootID); err != nil {
		t.Fatalf("503 not retried: %v", err)
	}
	s.InjectError("get-resource", http.StatusServiceUnavailable, 10)
	_, err := b.Stat(t.Context(), remote.ID(id))
	mustKind(t, err, remote.Unavailable)
}

// fakeManager is a Manager that answers every API call with status and
// body, for quirks the emulator does not produce.
func fakeManager(t *testing.T, status int, contentType, body string) (*Backend, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	store := &httpx.TokenStore{Path: filepath.Join(t.TempDir(), "acct.json")}
	if err := store.Save(&oauth2.Token{AccessToken: "at", RefreshToken: "rt", Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	b, err := New(t.Context(), Config{Account: "acct", ManagerURL: srv.URL, TokenStore: store, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return b, srv
}

// The model server answers unknown routes with 200 and a non-JSON body
// (legacy); such an answer is an error, never an empty result.
func TestNonJSON200IsAnError(t *testing.T) {
	b, srv := fakeManager(t, 200, "text/html", "<html>Welcome</html>")
	_, err := b.Stat(t.Context(), RootID)
	mustKind(t, err, remote.Unavailable)
	_, err = b.List(t.Context(), RootID)
	mustKind(t, err, remote.Unavailable)
	_, err = b.bs.CreateSession(t.Context(), srv.URL, "demo", "ticket")
	mustKind(t, err, remote.Unavailable)
	if !strings.Contains(err.Error(), "without a JSON payload") {
		t.Fatalf("unclear error: %v", err)
	}
}

// Undecodable 430 bodies and unknown codes still give a typed error.
func TestOddErrorBodies(t *testing.T) {
	b, _ := fakeManager(t, StatusBIMcloudError, "application/json", `{"error-code":99,"error-message":"NewError: something"}`)
	_, err := b.Stat(t.Context(), RootID)
	mustKind(t, err, remote.KindUnknown)
	if !strings.Contains(err.Error(), "UnknownManagerError99") || !strings.Contains(err.Error(), "something") {
		t.Fatalf("unknown code not reported: %v", err)
	}
	b2, _ := fakeManager(t, StatusBIMcloudError, "text/plain", "oops")
	_, err = b2.Stat(t.Context(), RootID)
	mustKind(t, err, remote.KindUnknown)
	if !strings.Contains(err.Error(), "oops") {
		t.Fatalf("body not reported: %v", err)
	}
}

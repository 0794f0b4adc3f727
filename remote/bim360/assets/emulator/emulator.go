// Package emulator serves the Assets API (under both /construction/assets/
// and the tutorial's /bim360/assets/), the Locations v2 nodes call and the
// Relationship v2 search from memory, in the shapes of Autodesk's "Retrieve
// BIM 360 Assets Data" tutorial: cursor pagination whose cursorState is
// base64 JSON {"limit","offset"} and whose v2 assets nextUrl points at the
// v1 assets route, status step sets with nested statuses, category
// assignments by batch-get and per-category custom attributes with
// inheritance.
//
// Like the Data Connector emulator it has no listener: Routes registers its
// handlers with a host server (the BIM 360 emulator). Fault knobs:
// FailNext (429 with Retry-After, 503), Options.EmptyPages (every other page
// empty but with a cursor), Options.OpaqueCursors (cursors that are random
// server-side tokens, so only following them works), Options.PageSize.
package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Operation names for the host's counters.
const (
	OpAssets            = "ASSETS GET assets"
	OpCategories        = "ASSETS GET categories"
	OpStatusStepSets    = "ASSETS GET status-step-sets"
	OpAssetStatuses     = "ASSETS GET asset-statuses"
	OpCustomAttributes  = "ASSETS GET custom-attributes"
	OpCategoryAttrs     = "ASSETS GET category custom-attributes"
	OpBatchGetStatusSet = "ASSETS POST status-step-sets:batch-get"
	OpLocationNodes     = "LOCATIONS GET nodes"
	OpRelationships     = "RELATIONSHIP GET search"
)

// DefaultLimit and MaxLimit bound page sizes (the tutorial's cursor
// decodes to a limit of 25).
const (
	DefaultLimit = 25
	MaxLimit     = 100
)

// Options are the knobs.
type Options struct {
	// PageSize, if set, caps every page below the asked limit.
	PageSize int
	// EmptyPages makes every other page of a listing empty while still
	// carrying a cursor.
	EmptyPages bool
	// OpaqueCursors makes cursorState a random token the server keeps,
	// instead of base64 JSON a client could forge.
	OpaqueCursors bool
}

// Handle registers one route with the host.
type Handle func(pattern, op string, public bool, h http.HandlerFunc)

// Service is the emulated Assets, Locations and Relationship APIs.
type Service struct {
	now func() time.Time

	mu       sync.Mutex
	opts     Options
	projects map[string]*project // by Assets project ID; mu protects all
	cursors  map[string]cursor   // opaque cursors
	fail     []int
	seq      int
}

// New returns an empty service whose clock is now (nil means time.Now).
func New(opts Options, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{now: now, opts: opts, projects: map[string]*project{}, cursors: map[string]cursor{}}
}

// SetOptions replaces the knobs.
func (s *Service) SetOptions(o Options) {
	s.mu.Lock()
	s.opts = o
	s.mu.Unlock()
}

// FailNext makes the next n calls answer status (429 carries Retry-After: 1).
func (s *Service) FailNext(status, n int) {
	s.mu.Lock()
	for range n {
		s.fail = append(s.fail, status)
	}
	s.mu.Unlock()
}

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

// Routes registers the handlers with the host.
func (s *Service) Routes(h Handle) {
	for _, p := range []string{"/construction/assets", "/bim360/assets"} {
		h("GET "+p+"/v2/projects/{projectId}/assets", OpAssets, false, s.handleAssets)
		h("GET "+p+"/v1/projects/{projectId}/assets", OpAssets, false, s.handleAssets)
		h("GET "+p+"/v1/projects/{projectId}/categories", OpCategories, false, s.handleCategories)
		h("GET "+p+"/v1/projects/{projectId}/status-step-sets", OpStatusStepSets, false, s.handleStatusStepSets)
		h("GET "+p+"/v1/projects/{projectId}/asset-statuses", OpAssetStatuses, false, s.handleAssetStatuses)
		h("GET "+p+"/v1/projects/{projectId}/custom-attributes", OpCustomAttributes, false, s.handleCustomAttributes)
		h("GET "+p+"/v1/projects/{projectId}/categories/{categoryId}/custom-attributes", OpCategoryAttrs, false, s.handleCategoryAttributes)
		h("POST "+p+"/v1/projects/{projectId}/category-status-step-sets/status-step-sets:batch-get", OpBatchGetStatusSet, false, s.handleBatchGetStatusSets)
	}
	h("GET /bim360/locations/v2/containers/{containerId}/trees/default/nodes", OpLocationNodes, false, s.handleLocationNodes)
	h("GET /bim360/relationship/v2/containers/{containerId}/relationships:search", OpRelationships, false, s.handleRelationships)
}

// guard applies FailNext; it reports whether the call may go on.
func (s *Service) guard(w http.ResponseWriter) bool {
	s.mu.Lock()
	var status int
	if len(s.fail) > 0 {
		status, s.fail = s.fail[0], s.fail[1:]
	}
	s.mu.Unlock()
	switch {
	case status == http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
		writeJSON(w, status, map[string]string{"developerMessage": "Quota limit exceeded."})
		return false
	case status != 0:
		writeProblem(w, status, "Injected", http.StatusText(status))
		return false
	}
	return true
}

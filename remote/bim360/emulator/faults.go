package emulator

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Operation names used as Counters keys and rate-limit keys.
const (
	OpAuthorize      = "GET authorize"
	OpToken          = "POST token"
	OpRevoke         = "POST revoke"
	OpHubs           = "GET hubs"
	OpProjects       = "GET projects"
	OpTopFolders     = "GET top folders"
	OpFolder         = "GET folder"
	OpFolderContents = "GET folder contents"
	OpItem           = "GET item"
	OpItemTip        = "GET item tip"
	OpItemVersions   = "GET item versions"
	OpVersion        = "GET version"
	OpSignedDownload = "GET signeds3download"
	OpOSSSigned      = "GET signedresources" // the "fallback" OSS signed URL
	OpS3Get          = "S3 GET"
	OpCreateStorage  = "POST storage"
	OpSignedUpload   = "GET signeds3upload"
	OpCompleteUpload = "POST signeds3upload"
	OpS3Put          = "S3 PUT"
	OpCreateItem     = "POST items"
	OpCreateVersion  = "POST versions"
	OpCreateFolder   = "POST folders"
	OpPatchFolder    = "PATCH folder"
	OpCommand        = "POST commands"
	OpNotFound       = "unknown route"
)

// limit is a documented requests-per-minute quota and the bucket it is
// counted in: DM limits are per endpoint, OSS has one limit for all of OSS.
type limit struct {
	perMinute int
	group     string
}

// rateLimits are the documented per-client quotas (DM rate-limits page; OSS
// 1000/min total; authentication endpoint descriptions).
var rateLimits = map[string]limit{
	OpAuthorize:      {500, OpAuthorize},
	OpToken:          {500, OpToken},
	OpRevoke:         {100, OpRevoke},
	OpHubs:           {50, OpHubs},
	OpProjects:       {50, OpProjects},
	OpItemTip:        {50, OpItemTip},
	OpTopFolders:     {300, OpTopFolders},
	OpFolder:         {300, OpFolder},
	OpFolderContents: {300, OpFolderContents},
	OpItem:           {300, OpItem},
	OpVersion:        {300, OpVersion},
	OpItemVersions:   {800, OpItemVersions},
	OpSignedDownload: {1000, "OSS"},
	OpOSSSigned:      {1000, "OSS"},
	OpCreateFolder:   {50, OpCreateFolder},
	OpPatchFolder:    {50, OpPatchFolder},
	OpCreateItem:     {50, OpCreateItem},
	OpCreateStorage:  {300, OpCreateStorage},
	OpCreateVersion:  {300, OpCreateVersion},
	OpCommand:        {300, OpCommand},
	OpSignedUpload:   {1000, "OSS"},
	OpCompleteUpload: {1000, "OSS"},
}

// requiredScope is the scope each write operation needs beyond data:read
// (the specs' security blocks; OSS upload asks for data:write).
var requiredScope = map[string]string{
	OpCreateStorage:  "data:create",
	OpCreateItem:     "data:create",
	OpCreateVersion:  "data:create",
	OpCreateFolder:   "data:create",
	OpCommand:        "data:create",
	OpPatchFolder:    "data:write",
	OpSignedUpload:   "data:write",
	OpCompleteUpload: "data:write",
}

// faults makes the random and quota decisions.
type faults struct {
	mu sync.Mutex
	// mu protects the following.
	rng     *rand.Rand
	windows map[string]*window
}

type window struct {
	start time.Time
	n     int
}

func newFaults(seed int64) *faults {
	return &faults{
		rng:     rand.New(rand.NewPCG(uint64(seed), 0x6661756c7473)),
		windows: map[string]*window{},
	}
}

// roll reports true with probability p.
func (f *faults) roll(p float64) bool {
	if p <= 0 {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rng.Float64() < p
}

// int63n returns a random value in [0, n).
func (f *faults) int63n(n int64) int64 {
	if n <= 0 {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rng.Int64N(n)
}

// take counts one request against key's quota of perWindow requests per
// fixed window. When the quota is used up it returns false and the time
// until the window ends.
func (f *faults) take(key string, perWindow int, now time.Time, length time.Duration) (bool, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.windows[key]
	if w == nil || now.Sub(w.start) >= length || now.Before(w.start) {
		w = &window{start: now}
		f.windows[key] = w
	}
	if w.n >= perWindow {
		return false, w.start.Add(length).Sub(now)
	}
	w.n++
	return true, 0
}

// retryAfterSeconds renders d as a Retry-After value: whole seconds, rounded
// up, at least 1.
func retryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}

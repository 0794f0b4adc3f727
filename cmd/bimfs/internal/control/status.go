// Package control is the per-mount control socket: a mount serves its live
// state as JSON over a unix socket that only its user can open, and
// `bimfs status` and `bimfs unmount` read it.
package control

import (
	"time"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/apistats"
)

// Upload states beyond those of the staging journal (open, pending,
// uploading, failed).
const (
	// StateRecovered marks a staged upload that no running mount is
	// uploading: it waits for the next mount of its cache directory.
	StateRecovered = "recovered"
)

// Status is the live state of one mount, the wire type of GET /v1/status.
type Status struct {
	Version    string `json:"version"`
	PID        int    `json:"pid"`
	Mountpoint string `json:"mountpoint"`
	CacheDir   string `json:"cacheDir"`
	// TemporaryCache is set when the cache directory (staged uploads
	// included) is removed when the mount ends (the demo's).
	TemporaryCache bool      `json:"temporaryCache,omitempty"`
	Started        time.Time `json:"started"`
	ReadOnly       bool      `json:"readOnly"`
	Accounts       []Account `json:"accounts"`
	Uploads        []Upload  `json:"uploads"`
	// Cache is nil when the state comes from a journal, not a mount.
	Cache *Cache `json:"cache,omitempty"`
	// API lists calls per operation since the mount started.
	API []apistats.Endpoint `json:"api"`
}

// Account is one account of a mount.
type Account struct {
	Name     string `json:"name"`
	Service  string `json:"service"`
	BaseURL  string `json:"baseUrl"`
	Writable bool   `json:"writable"`
}

// Upload is one staged file that the service does not have yet.
type Upload struct {
	Account string `json:"account"`
	// Folder is the folder path starting with the account name, when known.
	Folder string `json:"folder,omitempty"`
	// ParentID is the folder's remote ID.
	ParentID string `json:"parentId"`
	Name     string `json:"name"`
	// State is open, pending, uploading, failed or recovered.
	State     string    `json:"state"`
	Size      int64     `json:"size"`
	Uploaded  int64     `json:"uploaded"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"lastError,omitempty"`
	Updated   time.Time `json:"updated"`
}

// Path is the upload's path for display: folder path and name, or
// account/name when the folder is unknown.
func (u Upload) Path() string {
	if u.Folder != "" {
		return u.Folder + "/" + u.Name
	}
	return u.Account + "/" + u.Name
}

// Percent is the uploaded share, 0 to 100.
func (u Upload) Percent() int {
	if u.Size <= 0 {
		return 0
	}
	return int(u.Uploaded * 100 / u.Size)
}

// Troubled reports whether the upload needs attention: it failed, or it
// waits with no mount to upload it.
func (u Upload) Troubled() bool { return u.State == "failed" || u.State == StateRecovered }

// InFlight reports whether a running mount still has work to do for it.
func (u Upload) InFlight() bool {
	return u.State == "open" || u.State == "pending" || u.State == "uploading"
}

// Cache is the block cache's use.
type Cache struct {
	MemoryBytes int64 `json:"memoryBytes"`
	DiskBytes   int64 `json:"diskBytes"`
	DiskBlocks  int64 `json:"diskBlocks"`
	// Hits counts block lookups served without a new request (read-ahead
	// buffer, memory, disk, or joining a fetch already in flight); Misses
	// those that started a fetch.
	Hits   int64 `json:"hits"`
	Misses int64 `json:"misses"`
	// HitRatio is Hits / (Hits + Misses), 0 before any read.
	HitRatio     float64 `json:"hitRatio"`
	BytesFetched int64   `json:"bytesFetched"`
}

// StatusSource is what a mount exposes to the control socket and to
// metrics.
type StatusSource interface {
	Status() Status
}

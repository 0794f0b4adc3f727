package bimcloud

import (
	"sync"
	"time"
)

// Proving which content a read got.
//
// get-resource (the version) and get-blob-content (the bytes) are two
// calls, and the blob can change between them or while the bytes stream.
// So a read is verified after its last byte: get-resource again, and only
// if the blob still has the version being read are the final bytes handed
// over; otherwise the read fails with remote.Stale and the bytes are
// dropped. A revision header from the blob server (ETag) once verified for
// a version proves later downloads of that version without the extra call.
//
// The check before the download only fails early. It is skipped when this
// backend listed the blob with that version less than Config.ListingTTL
// ago: the listing is as good as a get-resource of moments ago.

// maxMemo bounds the listing and revision memos; beyond it expired
// entries are dropped, and if that is not enough, all of them.
const maxMemo = 1 << 14

// listedBlob is what a listing said about a blob.
type listedBlob struct {
	version string
	size    int64
	at      time.Time
}

// readMemo remembers recent listings and verified revision headers.
type readMemo struct {
	ttl time.Duration

	mu     sync.Mutex // protects the maps
	listed map[string]listedBlob
	etags  map[string]string // version ID → ETag proven for it
}

// listed records that a listing showed blob id with version v and size.
func (m *readMemo) recordListed(id, version string, size int64, now time.Time) {
	if m.ttl <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.listed == nil {
		m.listed = map[string]listedBlob{}
	}
	if len(m.listed) >= maxMemo {
		for k, b := range m.listed {
			if now.Sub(b.at) >= m.ttl {
				delete(m.listed, k)
			}
		}
		if len(m.listed) >= maxMemo {
			clear(m.listed)
		}
	}
	m.listed[id] = listedBlob{version: version, size: size, at: now}
}

// freshSize reports the size of blob id if a listing younger than the TTL
// showed it with version.
func (m *readMemo) freshSize(id, version string, now time.Time) (int64, bool) {
	if m.ttl <= 0 {
		return 0, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.listed[id]
	if !ok || b.version != version || now.Sub(b.at) >= m.ttl {
		return 0, false
	}
	return b.size, true
}

// forget drops what a listing said about blob id (its read went stale).
func (m *readMemo) forget(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.listed, id)
}

// provenETag returns the ETag verified for version, if any.
func (m *readMemo) provenETag(version string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.etags[version]
}

// proveETag records that etag belongs to version.
func (m *readMemo) proveETag(version, etag string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.etags == nil || len(m.etags) >= maxMemo {
		m.etags = map[string]string{}
	}
	m.etags[version] = etag
}

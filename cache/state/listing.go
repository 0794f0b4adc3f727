package state

import (
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bimfs/bimfs/remote"
)

// bucketListing holds folder listings: identity NUL folder ID -> JSON of
// savedListing. The "-v1" names the format: a future format gets a new
// bucket, so old data is never misread.
var bucketListing = []byte("listing-v1")

type savedListing struct {
	Fetched int64          `json:"fetched"` // unix nanoseconds
	Stamp   string         `json:"stamp,omitempty"`
	Entries []remote.Entry `json:"entries"`
}

// Listings is the listing store of one account (cache.ListingStore).
type Listings struct {
	s        *Store
	identity string
}

// Listings returns the listing store of the account with identity.
func (s *Store) Listings(identity string) Listings { return Listings{s, identity} }

// LoadListing returns the saved listing of dir. Data that does not decode
// (corrupt, or written by something else) is dropped and reported absent.
func (l Listings) LoadListing(dir remote.ID) ([]remote.Entry, time.Time, string, bool) {
	k := key(l.identity, string(dir))
	b := l.s.get(bucketListing, k)
	if b == nil {
		return nil, time.Time{}, "", false
	}
	var v savedListing
	if err := json.Unmarshal(b, &v); err != nil || v.Fetched <= 0 {
		l.s.del(bucketListing, k)
		return nil, time.Time{}, "", false
	}
	if v.Entries == nil {
		v.Entries = []remote.Entry{}
	}
	return v.Entries, time.Unix(0, v.Fetched), v.Stamp, true
}

// SaveListing saves the listing of dir fetched at fetched, with the
// folder's stamp taken before it ("" if none).
func (l Listings) SaveListing(dir remote.ID, entries []remote.Entry, fetched time.Time, stamp string) {
	b, err := json.Marshal(savedListing{Fetched: fetched.UnixNano(), Stamp: stamp, Entries: entries})
	if err == nil {
		l.s.put(bucketListing, key(l.identity, string(dir)), b)
	}
}

// DropListing forgets the saved listing of dir.
func (l Listings) DropListing(dir remote.ID) { l.s.del(bucketListing, key(l.identity, string(dir))) }

func (s *Store) del(bucket, k []byte) {
	if s.db == nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.mem, string(bucket)+"\x00"+string(k))
		return
	}
	s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete(k) })
}

// Package state keeps what must outlive a node, a mount and a restart: the
// modification time a user set on a version (touch -d, cp -p, rsync -a),
// the inode number a file created here was first given, and folder
// listings (so a restart serves known folders at once, see
// cache.Meta.SetStore).
//
// Keys always start with the account's identity (service, server, app,
// user), so facts of two accounts whose IDs coincide never mix. The store
// is a bbolt file (one B+tree file with crash-safe transactions). Writes
// are not fsynced one by one (rsync -a sets a time on every file): they
// reach the disk every SyncEvery and at Close, so a crash loses at most
// the last few seconds of times, which costs a re-upload by rsync, never
// data.
package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SyncEvery is how often written facts reach the disk.
const SyncEvery = 5 * time.Second

var (
	bucketMTime = []byte("mtime-v1") // identity NUL version ID -> unix nanoseconds
	bucketIno   = []byte("ino-v1")   // identity NUL item ID -> inode number
)

// Store holds the facts. The zero of *Store is not valid; use Open or
// Memory. Methods are safe for concurrent use.
type Store struct {
	db   *bolt.DB // nil for a memory store
	stop chan struct{}
	done chan struct{}

	// mu protects mem (the memory store's data).
	mu  sync.Mutex
	mem map[string][]byte
}

// Memory returns a store that keeps facts for the life of the process.
func Memory() *Store { return &Store{mem: map[string][]byte{}} }

// Open opens (or creates, mode 0600) the store at path. A file another
// process holds fails at once rather than waiting.
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		return nil, fmt.Errorf("state store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMTime, bucketIno, bucketListing} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("state store %s: %w", path, err)
	}
	s := &Store{db: db, stop: make(chan struct{}), done: make(chan struct{})}
	go s.syncLoop()
	return s, nil
}

func (s *Store) syncLoop() {
	defer close(s.done)
	t := time.NewTicker(SyncEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.db.Sync()
		}
	}
}

// Close writes what is pending and closes the store.
func (s *Store) Close() error {
	if s.db == nil {
		return nil
	}
	close(s.stop)
	<-s.done
	err := s.db.Sync()
	return errors.Join(err, s.db.Close())
}

func key(identity, id string) []byte { return []byte(identity + "\x00" + id) }

func (s *Store) get(bucket []byte, k []byte) []byte {
	if s.db == nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.mem[string(bucket)+"\x00"+string(k)]
	}
	var v []byte
	s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucket).Get(k); b != nil {
			v = append([]byte(nil), b...)
		}
		return nil
	})
	return v
}

func (s *Store) put(bucket []byte, k, v []byte) error {
	if s.db == nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.mem[string(bucket)+"\x00"+string(k)] = v
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(k, v) })
}

// MTime returns the modification time set on version of an account.
func (s *Store) MTime(identity, version string) (time.Time, bool) {
	v := s.get(bucketMTime, key(identity, version))
	if len(v) != 8 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))), true
}

// SetMTime records the modification time set on version of an account.
func (s *Store) SetMTime(identity, version string, t time.Time) error {
	return s.put(bucketMTime, key(identity, version), binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano())))
}

// Ino returns the inode number recorded for object id of an account.
func (s *Store) Ino(identity, id string) (uint64, bool) {
	v := s.get(bucketIno, key(identity, id))
	if len(v) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(v), true
}

// SetIno records the inode number of object id of an account.
func (s *Store) SetIno(identity, id string, ino uint64) error {
	return s.put(bucketIno, key(identity, id), binary.BigEndian.AppendUint64(nil, ino))
}

// Package writeback stages files written through the filesystem on local
// disk and uploads them, keeping a journal so that nothing written is lost
// when an upload fails or the process dies, and nothing unconfirmed is ever
// published.
//
// A staged file belongs to a remote item (Record.Item), or, for a file that
// has never been uploaded, to its own key: never to a folder and a name, so
// two items that share a name can never exchange content.
//
// Files on disk, per staged file with key K:
//
//   - K.json: the journal record, replaced atomically (temp file, fsync,
//     rename, directory fsync) at each state change.
//   - K.data: the live copy that handles read and write. It is not fsynced
//     while the file is open: its content is unconfirmed.
//   - K.<gen>.snap: an immutable snapshot taken by a close or fsync, the
//     only thing ever uploaded. It is fsynced before it is journaled.
//
// Crash semantics (see Manager.New): a snapshot whose record says Confirmed
// (a close or fsync returned success for it in asynchronous mode) is
// uploaded after a restart, with the size the snapshot file has. Anything
// else that holds user changes (a live copy written since its last
// snapshot, an unconfirmed snapshot) becomes a local-only "recovered" file
// beside the original, never uploaded under the original's name and never
// deleted until the user renames (publishes) or deletes it.
package writeback

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// State is where a staged file's upload is.
type State string

// Upload states. A file whose content the service has carries no state.
const (
	// Pending: a snapshot waits for upload.
	Pending State = "pending"
	// Uploading: a snapshot is being uploaded.
	Uploading State = "uploading"
	// Failed: the last upload failed; it is retried unless the failure
	// needs the user (an invalid name, a permission).
	Failed State = "failed"
	// Recovered: content left unconfirmed by a crash; local only until the
	// user renames it (which publishes it) or deletes it.
	Recovered State = "recovered"
)

// Record is the journal entry of one staged file.
type Record struct {
	// Key identifies the staged file and names its data files.
	Key     string    `json:"key"`
	Account string    `json:"account"`
	Parent  remote.ID `json:"parent"`
	Name    string    `json:"name"`
	// Item is the remote item the content belongs to; empty for a file
	// that has never been uploaded (it is known by its key until then).
	Item remote.ID `json:"item,omitempty"`
	// BaseVersion is the remote version the content was edited from.
	BaseVersion string `json:"baseVersion,omitempty"`
	// Dirty is set while the live copy holds changes no snapshot has.
	Dirty bool `json:"dirty,omitempty"`
	// Snapshot is the generation of the snapshot waiting for upload (0:
	// none) and Confirmed whether a successful close or fsync confirmed it.
	Snapshot  uint64 `json:"snapshot,omitempty"`
	Confirmed bool   `json:"confirmed,omitempty"`
	State     State  `json:"state,omitempty"`
	// Size is informational (status output); after a restart sizes come
	// from the data files themselves.
	Size      int64  `json:"size"`
	Attempts  int    `json:"attempts,omitempty"`
	LastError string `json:"lastError,omitempty"`
	Uploaded  int64  `json:"uploaded,omitempty"`
	// Modified is when the content was last changed here.
	Modified time.Time `json:"modified"`
	// MTime is a modification time the user set on this content (utimes),
	// to be kept for the version it becomes; zero if none. A later change
	// clears it.
	MTime time.Time `json:"mtime,omitempty"`
	// From names the file a recovered file was recovered from.
	From    string    `json:"from,omitempty"`
	Updated time.Time `json:"updated"`
}

// Status is the record's state for people: "open" for changes not yet
// closed, else the upload state.
func (r Record) Status() string {
	if r.State == "" {
		if r.Dirty {
			return "open"
		}
		return "committed"
	}
	return string(r.State)
}

const (
	recordSuffix = ".json"
	dataSuffix   = ".data"
	snapSuffix   = ".snap"
)

func (m *Manager) recordPath(key string) string { return filepath.Join(m.dir, key+recordSuffix) }
func (m *Manager) dataPath(key string) string   { return filepath.Join(m.dir, key+dataSuffix) }
func (m *Manager) snapPath(key string, gen uint64) string {
	return filepath.Join(m.dir, key+"."+strconv.FormatUint(gen, 10)+snapSuffix)
}

// saveRecord replaces the record atomically so a crash leaves either the
// old or the new state, never a torn file.
func (m *Manager) saveRecord(r Record) error {
	r.Updated = time.Now().UTC()
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(m.dir, ".rec-*")
	if err != nil {
		return localErr("writeback.journal", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return localErr("writeback.journal", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return localErr("writeback.journal", err)
	}
	if err := tmp.Close(); err != nil {
		return localErr("writeback.journal", err)
	}
	if err := os.Rename(tmp.Name(), m.recordPath(r.Key)); err != nil {
		return localErr("writeback.journal", err)
	}
	return syncDir(m.dir)
}

// removeFiles deletes every file of key: record, live copy and snapshots.
func (m *Manager) removeFiles(key string) {
	os.Remove(m.recordPath(key))
	os.Remove(m.dataPath(key))
	m.removeSnapshots(key, 0)
	syncDir(m.dir)
}

// removeSnapshots deletes the snapshots of key other than keep.
func (m *Manager) removeSnapshots(key string, keep uint64) {
	matches, _ := filepath.Glob(filepath.Join(m.dir, key+".*"+snapSuffix))
	for _, p := range matches {
		if keep != 0 && p == m.snapPath(key, keep) {
			continue
		}
		os.Remove(p)
	}
}

// loadRecords reads every record in the staging directory. Unreadable
// records are reported, not deleted: their data may still matter.
func (m *Manager) loadRecords() ([]Record, []error) {
	entries, err := os.ReadDir(m.dir)
	if err != nil {
		return nil, []error{err}
	}
	var recs []Record
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".rec-") || strings.HasPrefix(name, ".copy-") {
			os.Remove(filepath.Join(m.dir, name)) // from an interrupted save or copy
			continue
		}
		if !strings.HasSuffix(name, recordSuffix) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(m.dir, name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var r Record
		if err := json.Unmarshal(b, &r); err != nil || r.Key+recordSuffix != name {
			errs = append(errs, fmt.Errorf("staging record %s is corrupt: %v", name, err))
			continue
		}
		recs = append(recs, r)
	}
	return recs, errs
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ReadRecords lists the staged files in dir without starting an uploader,
// for `bimfs status` while a mount (or none) is running.
func ReadRecords(dir string) ([]Record, error) {
	m := &Manager{dir: dir}
	recs, errs := m.loadRecords()
	if len(errs) > 0 && os.IsNotExist(errs[0]) {
		return nil, nil
	}
	if len(errs) > 0 {
		return recs, errs[0]
	}
	return recs, nil
}

// fileSize is the size of the file at path, or -1 if it does not exist.
func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return st.Size()
}

// Package writeback stages files written through the mount on local disk
// and uploads them, keeping a journal so that nothing written is lost when
// an upload fails or the process dies.
//
// Every staged file is a sparse data file plus a small JSON record in the
// staging directory. The record is written atomically (temp file, fsync,
// rename, directory fsync) at each state change; the data file is fsynced
// before an upload starts. On start, Manager.Recover finds every record
// left behind and uploads it again.
package writeback

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bimfs/bimfs/remote"
)

// State is where a staged file is in its life.
type State string

// States of a staged file. Committed files have no record.
const (
	// Open: at least one handle may still write; content not yet final.
	Open State = "open"
	// Pending: closed (or fsynced) and waiting for upload.
	Pending State = "pending"
	// Uploading: an upload is in progress.
	Uploading State = "uploading"
	// Failed: the last upload failed; it will be retried.
	Failed State = "failed"
)

// Record is the journal entry of one staged file.
type Record struct {
	// Key identifies the staged file; its data lives in Key+".data".
	Key     string    `json:"key"`
	Account string    `json:"account"`
	Parent  remote.ID `json:"parent"`
	Name    string    `json:"name"`
	// Existing is the remote file this content replaces (a new version);
	// empty for a new file.
	Existing remote.ID `json:"existing,omitempty"`
	// BaseVersion is the remote version the staged copy started from.
	BaseVersion string    `json:"baseVersion,omitempty"`
	State       State     `json:"state"`
	Size        int64     `json:"size"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"lastError,omitempty"`
	Uploaded    int64     `json:"uploaded"`
	Updated     time.Time `json:"updated"`
}

const (
	recordSuffix = ".json"
	dataSuffix   = ".data"
)

func (m *Manager) recordPath(key string) string { return filepath.Join(m.dir, key+recordSuffix) }
func (m *Manager) dataPath(key string) string   { return filepath.Join(m.dir, key+dataSuffix) }

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
		return noSpace(err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return noSpace(err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return noSpace(err)
	}
	if err := tmp.Close(); err != nil {
		return noSpace(err)
	}
	if err := os.Rename(tmp.Name(), m.recordPath(r.Key)); err != nil {
		return err
	}
	return syncDir(m.dir)
}

func (m *Manager) removeRecord(key string) error {
	err := os.Remove(m.recordPath(key))
	os.Remove(m.dataPath(key))
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	return syncDir(m.dir)
}

// loadRecords reads every record in the staging directory. Unreadable
// records are reported, not deleted: their data file may still matter.
func (m *Manager) loadRecords() ([]Record, []error) {
	entries, err := os.ReadDir(m.dir)
	if err != nil {
		return nil, []error{err}
	}
	var recs []Record
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".rec-") {
			os.Remove(filepath.Join(m.dir, name)) // a temp file from an interrupted save
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

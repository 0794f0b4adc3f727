package bimcloud

import (
	"testing"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bimcloud/emulator"
)

// TestHistoryIsTheCurrentRevision: BIMcloud has no history call, so the
// history is the blob as it is now.
func TestHistoryIsTheCurrentRevision(t *testing.T) {
	s := newServer(t, emulator.Options{})
	dir := s.AddFolder(emulator.RootID, "Projects")
	blob := s.AddBlob(dir, "plan.pln", emulator.Bytes([]byte("twelve bytes")), "")
	b, _ := loggedIn(t, s)

	hist, err := b.History(t.Context(), remote.ID(blob))
	if err != nil {
		t.Fatal(err)
	}
	st := stat(t, b, blob)
	if len(hist) != 1 || hist[0].Version != st.Version || hist[0].Size != 12 || hist[0].Name != "plan.pln" || !hist[0].ModTime.Equal(st.ModTime) {
		t.Fatalf("history %+v, entry %+v", hist, st)
	}
	_, err = b.History(t.Context(), remote.ID(dir))
	if !remote.IsKind(err, remote.Invalid) {
		t.Errorf("history of a folder: %v", err)
	}
	_, err = b.History(t.Context(), "no-such-blob")
	if !remote.IsKind(err, remote.NotFound) {
		t.Errorf("history of a missing blob: %v", err)
	}
}

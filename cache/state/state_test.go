package state

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote"
)

func TestFactsSurviveReopenAndStayPerIdentity(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
	if err := s.SetMTime("bim360 https://a", "ver-1", when); err != nil {
		t.Fatal(err)
	}
	if err := s.SetIno("bim360 https://a", "item-1", 12345); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); err == nil {
		t.Fatal("a second process opened the store in use")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, ok := s.MTime("bim360 https://a", "ver-1"); !ok || !got.Equal(when) {
		t.Fatalf("mtime after reopen: %v %v", got, ok)
	}
	if _, ok := s.MTime("bim360 https://b", "ver-1"); ok {
		t.Fatal("another account sees the time")
	}
	if ino, ok := s.Ino("bim360 https://a", "item-1"); !ok || ino != 12345 {
		t.Fatalf("ino after reopen: %d %v", ino, ok)
	}
	if _, ok := s.Ino("bim360 https://a", "item-2"); ok {
		t.Fatal("an unknown item has an inode number")
	}
}

func TestMemoryStore(t *testing.T) {
	s := Memory()
	s.SetMTime("a", "v", time.Unix(7, 0))
	if got, ok := s.MTime("a", "v"); !ok || got.Unix() != 7 {
		t.Fatalf("%v %v", got, ok)
	}
	if _, ok := s.MTime("b", "v"); ok {
		t.Fatal("identity ignored")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestListingsRoundTripAndCorruptDataDropped(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := s.Listings("svc https://one")
	at := time.Unix(1700000000, 5)
	l.SaveListing("dir", []remote.Entry{{ID: "f1", Name: "a.txt", Size: 3, Version: remote.Version{ID: "v1", Number: 2}}}, at, "stamp-1")
	got, fetched, stamp, ok := l.LoadListing("dir")
	if !ok || !fetched.Equal(at) || stamp != "stamp-1" || len(got) != 1 || got[0].Name != "a.txt" || got[0].Version.Number != 2 {
		t.Fatalf("round trip: %+v %v %q %v", got, fetched, stamp, ok)
	}
	if _, _, _, ok := s.Listings("svc https://two").LoadListing("dir"); ok {
		t.Fatal("another account's listing was served")
	}
	// Corrupt (or foreign) data is dropped, never served.
	s.put(bucketListing, key("svc https://one", "dir"), []byte("{not json"))
	if _, _, _, ok := l.LoadListing("dir"); ok {
		t.Fatal("corrupt data was served")
	}
	if b := s.get(bucketListing, key("svc https://one", "dir")); b != nil {
		t.Fatal("corrupt data was kept")
	}
	l.SaveListing("empty", nil, at, "")
	if got, _, _, ok := l.LoadListing("empty"); !ok || got == nil || len(got) != 0 {
		t.Fatalf("empty listing: %v %v", got, ok)
	}
	l.DropListing("empty")
	if _, _, _, ok := l.LoadListing("empty"); ok {
		t.Fatal("dropped listing still served")
	}
}

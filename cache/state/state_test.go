package state

import (
	"path/filepath"
	"testing"
	"time"
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

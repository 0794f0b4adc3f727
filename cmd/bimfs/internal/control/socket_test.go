package control

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type fixed Status

func (f fixed) Status() Status { return Status(f) }

func TestServeGetAndLongPaths(t *testing.T) {
	rt := filepath.Join(t.TempDir(), strings.Repeat("r", 20))
	t.Setenv("XDG_RUNTIME_DIR", rt)
	mnt := "/mnt/" + strings.Repeat("deep/", 20) + "bim"
	srv, err := Serve(mnt, fixed{Mountpoint: mnt, PID: 42, Uploads: []Upload{{Account: "a", Name: "f", State: "failed"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.Path()) > maxSocketPath {
		t.Fatalf("socket path of %d bytes", len(srv.Path()))
	}
	fi, err := os.Stat(srv.Path())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v %v", fi.Mode(), err)
	}
	if di, err := os.Stat(filepath.Dir(srv.Path())); err != nil || di.Mode().Perm() != 0o700 {
		t.Fatalf("runtime dir mode %v %v", di.Mode(), err)
	}
	// A second server for the same mountpoint is refused while the first answers.
	if _, err := Serve(mnt, fixed{}); err == nil || !strings.Contains(err.Error(), "another bimfs") {
		t.Fatalf("second server: %v", err)
	}
	st, err := GetMount(context.Background(), mnt)
	if err != nil || st.PID != 42 || len(st.Uploads) != 1 || !st.Uploads[0].Troubled() {
		t.Fatalf("GetMount: %+v %v", st, err)
	}
	all, err := All(context.Background())
	if err != nil || len(all) != 1 {
		t.Fatalf("All: %+v %v", all, err)
	}
	srv.Close()
	if _, err := os.Stat(srv.Path()); !os.IsNotExist(err) {
		t.Fatalf("socket left after Close: %v", err)
	}
	if _, err := GetMount(context.Background(), mnt); err == nil {
		t.Fatal("status from a closed mount")
	}
}

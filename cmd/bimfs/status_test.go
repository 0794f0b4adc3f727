package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bimfs/bimfs/cache/writeback"
	"github.com/bimfs/bimfs/mountopts"
	"github.com/bimfs/bimfs/remote"
)

func TestStatusListsFailedUploads(t *testing.T) {
	home := t.TempDir()
	cacheDir := filepath.Join(home, "cache")
	m, err := writeback.New(writeback.Options{Dir: filepath.Join(cacheDir, "staging"),
		Upload: func(ctx context.Context, account string, req remote.UploadRequest) (remote.Entry, error) {
			return remote.Entry{}, &remote.Error{Kind: remote.Invalid, Op: "upload", Message: "name contains '|'"}
		}})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := m.Create("work", "parent", "plan|v2.dwg", "", "")
	f.WriteAt([]byte("0123456789"), 0)
	if err := f.Commit(context.Background(), writeback.CommitOptions{Confirmed: true, Wait: true}); err == nil {
		t.Fatal("upload should fail")
	}
	f.Release()
	m.Close()

	cfg := filepath.Join(home, "config")
	os.WriteFile(cfg, []byte("cache_dir = "+cacheDir+"\n[account work]\nservice = bim360\nclient_id = x\n"), 0o600)
	out, code := run(t, home, "status", "--config", cfg)
	// A failed upload makes status exit 1, so scripts notice.
	if code != 1 {
		t.Fatalf("status: %d %s", code, out)
	}
	for _, want := range []string{"work", "not logged in", "1 pending upload", "failed", "work/plan|v2.dwg", "10 bytes", "name contains '|'"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}

// stageFailed leaves one failed upload in the journal of cacheDir.
func stageFailed(t *testing.T, cacheDir, account, name string) {
	t.Helper()
	m, err := writeback.New(writeback.Options{Dir: filepath.Join(cacheDir, "staging"),
		Upload: func(ctx context.Context, account string, req remote.UploadRequest) (remote.Entry, error) {
			return remote.Entry{}, &remote.Error{Kind: remote.Invalid, Op: "upload", Message: "refused"}
		}})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := m.Create(account, "parent", name, "", "")
	f.WriteAt([]byte("abc"), 0)
	f.Commit(context.Background(), writeback.CommitOptions{Confirmed: true, Wait: true})
	f.Release()
	m.Close()
}

// TestStatusScansDefaultCacheDirs finds staged uploads in every mount's
// default cache directory without a running mount or a config, and in
// one directory with --cache-dir; with none, the exit status is 0.
func TestStatusScansDefaultCacheDirs(t *testing.T) {
	home := t.TempDir()
	if out, code := run(t, home, "status"); code != 0 || !strings.Contains(out, "no pending uploads") {
		t.Fatalf("empty status: %d %s", code, out)
	}
	mounts := filepath.Join(home, ".cache", "bimfs", "mounts")
	stageFailed(t, filepath.Join(mounts, mountopts.MountKey("/mnt/a")), "work", "a.dwg")
	stageFailed(t, filepath.Join(mounts, mountopts.MountKey("/mnt/b")), "work", "b.dwg")
	out, code := run(t, home, "status")
	if code != 1 || !strings.Contains(out, "work/a.dwg") || !strings.Contains(out, "work/b.dwg") || !strings.Contains(out, "refused") {
		t.Fatalf("status: %d %s", code, out)
	}
	out, code = run(t, home, "status", "--json", "--cache-dir", filepath.Join(mounts, mountopts.MountKey("/mnt/b")))
	var r statusReport
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 1 || len(r.Staged) != 1 || len(r.Staged[0].Uploads) != 1 ||
		r.Staged[0].Uploads[0].Name != "b.dwg" || r.Staged[0].Uploads[0].State != "failed" {
		t.Fatalf("status --cache-dir: %d %v %s", code, err, out)
	}
}

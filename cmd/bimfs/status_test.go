package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bimfs/bimfs/cache/writeback"
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
	if err := f.Flush(context.Background()); err == nil {
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

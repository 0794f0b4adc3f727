package bim360

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bim360/emulator"
	"github.com/bimfs/bimfs/remote/httpx"
	"github.com/bimfs/bimfs/remote/remotetest"
)

// TestConformance runs the backend-neutral suite against the emulator. The
// tree lives in a project's "Project Files" folder; file content goes in as
// given and comes back through signed S3 range reads.
func TestConformance(t *testing.T) {
	var mu sync.Mutex
	var last struct {
		b       *Backend
		proj    string
		items   map[string]string
		folders map[string]string
	}
	build := func(t *testing.T, tree []remotetest.File) (remote.Backend, remote.ID) {
		s := emulator.New(emulator.Options{Seed: 42})
		t.Cleanup(s.Close)
		proj := s.AddProject(s.AddHub("Hub"), "Project")
		top := s.TopFolder(proj, "Project Files")
		folders := map[string]string{"": top, ".": top}
		items := map[string]string{}
		for _, f := range tree {
			parent := folders[path.Dir(f.Path)]
			if f.Dir {
				folders[f.Path] = s.AddFolder(proj, parent, path.Base(f.Path))
			} else {
				items[f.Path] = s.AddFile(proj, parent, path.Base(f.Path), emulator.Bytes(f.Data))
			}
		}

		cfg := Config{
			Account: "conformance", BaseURL: s.URL, ClientID: emulator.DefaultClientID,
			RedirectURI: "http://127.0.0.1:0/callback",
			TokenStore:  &httpx.TokenStore{Path: filepath.Join(t.TempDir(), "tok.json")},
			Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		}
		if err := Login(context.Background(), cfg, browser(t)); err != nil {
			t.Fatal(err)
		}
		b, err := New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		fastRetries(b)
		t.Cleanup(func() { b.Close() })
		mu.Lock()
		last.b, last.proj, last.items, last.folders = b, proj, items, folders
		mu.Unlock()
		id, _ := folderID(proj, top)
		return b, id
	}
	remotetest.RunConfig(t, remotetest.Config{
		Build: build,
		// New content goes in through the backend's own upload path.
		Update: func(t *testing.T, p string, data []byte) {
			mu.Lock()
			defer mu.Unlock()
			_, err := last.b.Upload(context.Background(), remote.UploadRequest{
				Parent: mustFolderID(last.proj, last.folders[path.Dir(p)]), Name: path.Base(p),
				Existing: mustItemID(last.proj, last.items[p]), Size: int64(len(data)), Content: bytes.NewReader(data),
			})
			if err != nil {
				t.Fatal(err)
			}
		},
		// Changing the last character of an APS URN yields a well-formed ID
		// of an object that does not exist.
		Missing: func(known remote.ID) remote.ID {
			s := string(known)
			if strings.HasSuffix(s, "Q") {
				return remote.ID(s[:len(s)-1] + "R")
			}
			return remote.ID(s[:len(s)-1] + "Q")
		},
	})
}

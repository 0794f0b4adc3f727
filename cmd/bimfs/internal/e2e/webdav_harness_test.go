package e2e

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/davserver"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/demo"
	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/davfs"
	"github.com/bimfs/bimfs/fs/fusefs"
)

// export is the WebDAV export of both emulators, wired like `bimfs serve
// webdav --demo`, optionally with a FUSE mount of the same core beside it
// (`bimfs mount --webdav`).
type export struct {
	url  string // base URL, ending in "/"
	dir  string // mount root, when mounted
	demo *demo.Demo
	log  *logBuffer
}

type exportConfig struct {
	mountConfig
	mount bool             // mount the same core too (needs FUSE)
	dav   davserver.Config // Addr defaults to 127.0.0.1:0
}

func startExport(tb testing.TB, cfg exportConfig) *export {
	tb.Helper()
	if cfg.mount {
		if _, err := os.Stat("/dev/fuse"); err != nil {
			tb.Skip("no /dev/fuse: the mount beside the export needs FUSE")
		}
	}
	parts := startParts(tb, cfg.mountConfig)
	d, log, logs, fo, accounts := parts.demo, parts.log, parts.logs, parts.opts, parts.accounts
	core, err := fs.New(accounts, fo.Options)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(core.Close)
	e := &export{demo: d, log: logs}
	if cfg.mount {
		e.dir = tb.TempDir()
		m, err := fusefs.MountFS(e.dir, core, fo)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			if err := m.Unmount(); err != nil {
				tb.Errorf("unmount: %v", err)
			}
		})
	}
	dc := cfg.dav
	if dc.Addr == "" {
		dc.Addr = "127.0.0.1:0"
	}
	srv, err := davserver.Start(dc, davfs.NewHandler(core, davfs.Options{Logger: log}), log)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Shutdown(context.Background()) })
	e.url = srv.URL()
	return e
}

// bimPath is the export path of a BIM 360 project's top folder and below,
// unescaped (as rclone takes it).
func (e *export) bimPath(hub, project, top string, rest ...string) string {
	return strings.Join(append([]string{demo.BIM360Account, hub, project, top}, rest...), "/")
}

// bimURL is the URL of a path bimPath gives.
func (e *export) bimURL(hub, project, top string, rest ...string) string {
	parts := append([]string{demo.BIM360Account, hub, project, top}, rest...)
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return e.url + strings.Join(parts, "/")
}

package fs_test

import (
	"os/exec"
	"strings"
	"testing"
)

// forbiddenImport reports why package path must not be a dependency of fs:
// the core stays backend-neutral and knows nothing about HTTP or FUSE
// (front ends such as fs/fusefs sit on top of it).
func forbiddenImport(path string) string {
	const module = "github.com/bimfs/bimfs/"
	switch {
	case path == "net/http" || strings.HasPrefix(path, "net/http/"):
		return "fs must not depend on HTTP"
	case strings.HasPrefix(path, module+"remote/"):
		rest := strings.TrimPrefix(path, module+"remote/")
		if strings.HasPrefix(rest, "bim360") || strings.HasPrefix(rest, "bimcloud") || strings.HasPrefix(rest, "httpx") {
			return "fs must not depend on a concrete service or the HTTP plumbing"
		}
		return "" // neutral packages below remote
	case strings.HasPrefix(path, "github.com/hanwen/go-fuse"):
		return "the core must not depend on FUSE; front ends translate"
	case strings.HasPrefix(path, module+"fs/"):
		return "the core must not depend on its front ends"
	case strings.HasPrefix(path, module+"cmd"):
		return "fs must not depend on the CLI"
	}
	return ""
}

func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps returned only %q", deps)
	}
	for _, p := range deps {
		if why := forbiddenImport(p); why != "" {
			t.Errorf("fs depends on %s: %s", p, why)
		}
	}
}

func TestForbiddenImportRules(t *testing.T) {
	for path, bad := range map[string]bool{
		"net/http":                                 true,
		"net/http/httptrace":                       true,
		"github.com/bimfs/bimfs/remote/bim360":     true,
		"github.com/bimfs/bimfs/remote/bim360/emu": true,
		"github.com/bimfs/bimfs/remote/bimcloud":   true,
		"github.com/bimfs/bimfs/remote/httpx":      true,
		"github.com/bimfs/bimfs/remote/remotetest": false,
		"github.com/bimfs/bimfs/cmd/bimfs":         true,
		"github.com/bimfs/bimfs/remote":            false,
		"github.com/bimfs/bimfs/cache":             false,
		"net":                                      false,
		"github.com/hanwen/go-fuse/v2/fs":          true,
		"github.com/hanwen/go-fuse/v2/fuse":        true,
		"github.com/bimfs/bimfs/fs/fusefs":         true,
	} {
		if got := forbiddenImport(path) != ""; got != bad {
			t.Errorf("forbiddenImport(%q) = %v, want %v", path, got, bad)
		}
	}
}

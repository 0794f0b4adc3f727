package fusefs_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bimfs/bimfs/fs/fusefs"
	"github.com/bimfs/bimfs/remote/remotetest"
)

// TestAwkwardRemoteNames mounts names POSIX cannot show as they are and
// checks the documented escaping and duplicate suffixes through readdir,
// stat and read.
func TestAwkwardRemoteNames(t *testing.T) {
	mem := remotetest.NewMemory()
	dir := mem.MkdirAll("Hub/P/F")
	files := map[string][]byte{}
	add := func(name string, data string) {
		e := mem.Add(dir, name, false, []byte(data))
		files[string(e.ID)] = []byte(data)
	}
	add("a/b.txt", "slash")
	add(".", "dot")
	add("..", "dotdot")
	add("50% done.txt", "percent")
	add("x%2Fy.txt", "literal escape")
	add("plan.pdf", "first plan")
	add("plan.pdf", "second plan")
	mem.Add(dir, "plan.pdf", true, nil) // a folder of the same name

	mnt := mountOne(t, mem, fusefs.Options{})
	names := readdirnames(t, filepath.Join(mnt, "Hub/P/F"))
	slices.Sort(names)
	var plain []string
	suffixed := 0
	for _, n := range names {
		if strings.HasPrefix(n, "plan") && strings.Contains(n, " (~") {
			suffixed++
			continue
		}
		plain = append(plain, n)
	}
	want := []string{"%2E", "%2E%2E", "50% done.txt", "a%2Fb.txt", "x%252Fy.txt"}
	if !slices.Equal(plain, want) || suffixed != 3 {
		t.Fatalf("names = %q; want %q plus three suffixed plan names", names, want)
	}
	for _, tc := range []struct{ name, data string }{
		{"%2E", "dot"}, {"%2E%2E", "dotdot"}, {"a%2Fb.txt", "slash"},
		{"50% done.txt", "percent"}, {"x%252Fy.txt", "literal escape"},
	} {
		got, err := os.ReadFile(filepath.Join(mnt, "Hub/P/F", tc.name))
		if err != nil || string(got) != tc.data {
			t.Errorf("read %q = %q, %v; want %q", tc.name, got, err, tc.data)
		}
	}
	// The duplicates are two files and one folder, each reachable.
	var contents []string
	dirs := 0
	for _, n := range names {
		if !strings.HasPrefix(n, "plan") || !strings.Contains(n, " (~") {
			continue
		}
		p := filepath.Join(mnt, "Hub/P/F", n)
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.IsDir() {
			dirs++
			if !strings.HasPrefix(n, "plan.pdf (~") {
				t.Errorf("folder suffix not at the end: %q", n)
			}
			continue
		}
		if !strings.HasSuffix(n, ").pdf") {
			t.Errorf("file suffix not before the extension: %q", n)
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		contents = append(contents, string(got))
	}
	slices.Sort(contents)
	if dirs != 1 || !slices.Equal(contents, []string{"first plan", "second plan"}) {
		t.Errorf("duplicates: %d folders, contents %q", dirs, contents)
	}
	if _, err := os.Stat(filepath.Join(mnt, "Hub/P/F/plan.pdf")); err == nil {
		t.Error("the ambiguous bare name plan.pdf resolves")
	}
}

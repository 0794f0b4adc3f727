package fusefs_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fusefs"
)

// TestVersionsOnMount writes three versions through the mount and reads
// each back from .versions, which no listing tool ever sees.
func TestVersionsOnMount(t *testing.T) {
	m := newWritableMemory()
	const ttl = 300 * time.Millisecond
	acct := mountWritable(t, m, fusefs.Options{Options: fs.Options{MetadataTTL: ttl}, EntryTimeout: ttl, AttrTimeout: ttl, NegativeTimeout: ttl})
	folder := filepath.Join(acct, "Hub A/Project 1/Project Files")
	file := filepath.Join(folder, "Site Plan.pdf")
	written := [][]byte{content(10, 5000), []byte("second, shorter"), content(11, 300000)}
	for _, data := range written {
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hist := filepath.Join(folder, ".versions", "Site Plan.pdf")
	time.Sleep(2 * ttl) // the listing that shows the third version
	ents, err := os.ReadDir(hist)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{"v1.pdf", "v2.pdf", "v3.pdf"}; !slices.Equal(names, want) {
		t.Fatalf("%s lists %q, want %q", hist, names, want)
	}
	for i, data := range written {
		p := filepath.Join(hist, "v"+strconv.Itoa(i+1)+".pdf")
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() != int64(len(data)) || st.Mode().Perm()&0o222 != 0 || !st.Mode().IsRegular() {
			t.Errorf("%s: size %d mode %v, want size %d, read-only", p, st.Size(), st.Mode(), len(data))
		}
		for range 2 { // the second read may come from the kernel's pages
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s: %d bytes (%v) differ from the %d written", p, len(got), err, len(data))
			}
		}
	}

	// Invisible to listings and tree walks; reachable by name.
	if out := run(t, "ls", "-a", folder); strings.Contains(out, ".versions") {
		t.Errorf("ls -a shows .versions:\n%s", out)
	}
	if out := run(t, "find", acct); strings.Contains(out, ".versions") {
		t.Errorf("find descends into .versions:\n%s", out)
	}
	if st, err := os.Stat(filepath.Join(folder, ".versions")); err != nil || !st.IsDir() {
		t.Errorf("stat .versions: %v", err)
	}
	if out := run(t, "ls", filepath.Join(folder, ".versions")); !strings.Contains(out, "Site Plan.pdf") {
		t.Errorf("ls .versions:\n%s", out)
	}

	// Read-only.
	v1 := filepath.Join(hist, "v1.pdf")
	for what, err := range map[string]error{
		"open for writing": openErr(v1, os.O_WRONLY),
		"truncate":         os.Truncate(v1, 0),
		"create":           os.WriteFile(filepath.Join(hist, "v9.pdf"), []byte("x"), 0o644),
		"unlink":           os.Remove(v1),
		"rename":           os.Rename(v1, filepath.Join(hist, "v0.pdf")),
		"mkdir":            os.Mkdir(filepath.Join(folder, ".versions", "new"), 0o755),
		"move into":        os.Rename(filepath.Join(folder, "readme.txt"), filepath.Join(hist, "readme.txt")),
		"setxattr":         unix.Setxattr(v1, "user.x", []byte("1"), 0),
	} {
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s in .versions: %v, want EROFS", what, err)
		}
	}

	// Nothing can take the name .versions.
	if err := os.Mkdir(filepath.Join(folder, "Models2"), 0o755); err != nil {
		t.Fatal(err)
	}
	for what, err := range map[string]error{
		"mkdir":         os.Mkdir(filepath.Join(folder, ".versions"), 0o755),
		"create":        os.WriteFile(filepath.Join(folder, ".versions"), []byte("x"), 0o644),
		"rename folder": os.Rename(filepath.Join(folder, "Models2"), filepath.Join(folder, ".versions")),
	} {
		if err == nil {
			t.Errorf("%s named .versions succeeded", what)
		}
	}

	// A version made elsewhere appears once the listing's TTL passed.
	m.SetFile("Hub A/Project 1/Project Files/Site Plan.pdf", []byte("from the service"))
	time.Sleep(2 * ttl)
	got, err := os.ReadFile(filepath.Join(hist, "v4.pdf"))
	if err != nil || string(got) != "from the service" {
		t.Errorf("v4 after the TTL: %q, %v", got, err)
	}
}

func openErr(path string, flags int) error {
	f, err := os.OpenFile(path, flags, 0)
	if err == nil {
		f.Close()
	}
	return err
}

// TestVersionXattrsOnMount lists and reads the version attributes.
func TestVersionXattrsOnMount(t *testing.T) {
	m := newWritableMemory()
	acct := mountWritable(t, m, fusefs.Options{})
	p := filepath.Join(acct, "Hub A/Project 1/Project Files/readme.txt")
	e, _ := m.Entry("Hub A/Project 1/Project Files/readme.txt")
	want := map[string]string{
		fs.XattrID:          string(e.ID),
		fs.XattrVersion:     "1",
		fs.XattrVersionID:   e.Version.ID,
		"user.bimfs.upload": "committed",
	}
	buf := make([]byte, 4096)
	n, err := unix.Listxattr(p, buf)
	if err != nil {
		t.Fatal(err)
	}
	listed := strings.Split(strings.TrimSuffix(string(buf[:n]), "\x00"), "\x00")
	slices.Sort(listed)
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(listed, keys) {
		t.Errorf("listxattr %q, want %q", listed, keys)
	}
	for k, v := range want {
		n, err := unix.Getxattr(p, k, buf)
		if err != nil || string(buf[:n]) != v {
			t.Errorf("%s = %q (%v), want %q", k, buf[:n], err, v)
		}
	}
	v1 := filepath.Join(acct, "Hub A/Project 1/Project Files/.versions/readme.txt/v1.txt")
	if n, err := unix.Getxattr(v1, fs.XattrVersionID, buf); err != nil || string(buf[:n]) != e.Version.ID {
		t.Errorf("version_id of v1: %q, %v", buf[:n], err)
	}
	if err := unix.Removexattr(p, fs.XattrVersion); !errors.Is(err, syscall.EPERM) {
		t.Errorf("removing a version attribute: %v, want EPERM", err)
	}
}

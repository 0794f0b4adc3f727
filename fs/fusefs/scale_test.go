package fusefs_test

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fstest"
	"github.com/bimfs/bimfs/fs/fusefs"
	"github.com/bimfs/bimfs/remote/remotetest"
)

// TestLsLargeFolderOneList checks that ls -l of a 10,000-entry folder makes
// exactly one List call and no other backend call. The kernel asks for two
// extended attributes per file (ls looks for ACLs and security labels);
// they are answered from memory, never by the backend.
func TestLsLargeFolderOneList(t *testing.T) {
	const n = 10000
	mem := remotetest.NewMemory()
	dir := mem.MkdirAll("Hub/Project/Big")
	for i := range n {
		mem.Add(dir, fmt.Sprintf("sheet-%05d.pdf", (i*7919)%n), false, []byte(fmt.Sprint(i)))
	}
	logs := &logBuffer{}
	mnt := mountOne(t, mem, fusefs.Options{Options: fs.Options{Logger: slog.New(logs)}, Debug: true})
	big := filepath.Join(mnt, "Hub/Project/Big")
	if _, err := os.Stat(big); err != nil {
		t.Fatal(err)
	}
	mem.ResetCalls()
	logs.reset()

	out := run(t, "ls", "-l", big)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != n+1 { // plus the "total" line
		t.Fatalf("ls -l printed %d lines, want %d", len(lines), n+1)
	}
	if !strings.HasSuffix(lines[1], "sheet-00000.pdf") || !strings.HasSuffix(lines[n], fmt.Sprintf("sheet-%05d.pdf", n-1)) {
		t.Fatalf("ls -l output not in order: %q … %q", lines[1], lines[n])
	}
	if got := mem.Calls(remotetest.OpList); got != 1 {
		t.Errorf("ls -l made %d List calls, want 1", got)
	}
	for _, op := range []string{remotetest.OpStat, remotetest.OpReadRange, remotetest.OpRoot} {
		if got := mem.Calls(op); got != 0 {
			t.Errorf("ls -l made %d %s calls, want 0", got, op)
		}
	}
	getxattr := logs.count("GETXATTR")
	listxattr := logs.count("LISTXATTR")
	t.Logf("kernel requests during ls -l: %d GETXATTR, %d LISTXATTR, %d LOOKUP, %d GETATTR",
		getxattr, listxattr, logs.count(": LOOKUP "), logs.count(": GETATTR "))
	// The debug trace names the opcode on the request line only; GNU ls
	// asks for at most two attributes per file.
	if getxattr > 2*(n+2) || listxattr > n+2 {
		t.Errorf("ls -l sent %d GETXATTR and %d LISTXATTR requests for %d files", getxattr, listxattr, n)
	}
}

// BenchmarkLsLargeFolder times ls -l of 10,000 files whose listing is
// cached, the case where per-file kernel requests (GETXATTR answered from
// memory) dominate.
func BenchmarkLsLargeFolder(b *testing.B) {
	const n = 10000
	mem := remotetest.NewMemory()
	dir := mem.MkdirAll("Hub/Project/Big")
	for i := range n {
		mem.Add(dir, fmt.Sprintf("sheet-%05d.pdf", i), false, []byte(fmt.Sprint(i)))
	}
	mnt := filepath.Join(fstest.Mount(b, []fs.Account{{Name: "acme", Backend: mem}}, fusefs.Options{Options: fs.Options{MetadataTTL: time.Hour}}), "acme")
	big := filepath.Join(mnt, "Hub/Project/Big")
	if _, err := os.ReadDir(big); err != nil {
		b.Fatal(err)
	}
	mem.ResetCalls()
	b.ResetTimer()
	for range b.N {
		if out, err := exec.Command("ls", "-l", big).Output(); err != nil || strings.Count(string(out), "\n") != n+1 {
			b.Fatalf("ls -l: %v", err)
		}
	}
	b.StopTimer()
	if got := mem.Calls(remotetest.OpList) + mem.Calls(remotetest.OpStat); got != 0 {
		b.Errorf("%d backend calls during ls -l with a cached listing", got)
	}
}

// TestNoXattrsStopsGetxattr: with NoXattrs the kernel gets ENOSYS once and
// sends no further GETXATTR, so ls -l of a large folder costs one kernel
// round trip per file less than with the upload-state attribute.
func TestNoXattrsStopsGetxattr(t *testing.T) {
	const n = 2000
	mem := remotetest.NewMemory()
	dir := mem.MkdirAll("Hub/Project/Big")
	for i := range n {
		mem.Add(dir, fmt.Sprintf("sheet-%05d.pdf", i), false, []byte(fmt.Sprint(i)))
	}
	logs := &logBuffer{}
	mnt := mountOne(t, mem, fusefs.Options{Options: fs.Options{Logger: slog.New(logs)}, Debug: true, NoXattrs: true})
	big := filepath.Join(mnt, "Hub/Project/Big")
	run(t, "ls", "-l", big)
	logs.reset()
	run(t, "ls", "-l", big)
	if got := logs.count("GETXATTR") + logs.count("LISTXATTR"); got != 0 {
		t.Fatalf("ls -l sent %d xattr requests after the kernel was told ENOSYS", got)
	}
	p := filepath.Join(big, "sheet-00001.pdf")
	if _, err := syscall.Getxattr(p, "user.bimfs.upload", make([]byte, 64)); err != syscall.EOPNOTSUPP {
		t.Fatalf("getxattr with xattrs off: %v, want EOPNOTSUPP", err)
	}
}

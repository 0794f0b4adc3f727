package fusefs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fusefs"
	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/remotetest"
)

// shortTTL lets a test outwait the listing cache quickly. Tests sleep past
// it; they never assert how long anything took.
const shortTTL = 50 * time.Millisecond

func readAt(t *testing.T, f *os.File, off int64, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("pread %s at %d: %v", f.Name(), off, err)
	}
	return buf[:got]
}

// TestNewVersionVisibleOldHandleKeepsVersion covers both kernel states an
// open after the listing TTL can meet: names and attributes cached by the
// kernel (default timeouts) and not cached (timeouts disabled).
func TestNewVersionVisibleOldHandleKeepsVersion(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts fusefs.Options
	}{
		{"kernel caches attributes", fusefs.Options{Options: fs.Options{MetadataTTL: shortTTL}, EntryTimeout: time.Hour, AttrTimeout: time.Hour}},
		{"no kernel caching", fusefs.Options{Options: fs.Options{MetadataTTL: shortTTL}, EntryTimeout: -1, AttrTimeout: -1, NegativeTimeout: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := remotetest.NewMemory()
			v1 := content(10, 300000)
			e := mem.AddFile("p/doc.bin", v1)
			path := filepath.Join(mountOne(t, mem, tc.opts), "p/doc.bin")

			old, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer old.Close()
			if got := readAt(t, old, 0, 1000); !bytes.Equal(got, v1[:1000]) {
				t.Fatal("first read of v1 is wrong")
			}

			// A longer and a shorter new version: neither may be cut
			// or padded by the size the kernel knew for v1.
			for i, v := range [][]byte{content(11, 500000), content(12, 1234)} {
				mem.SetContent(e.ID, v)
				time.Sleep(2 * shortTTL)
				got, err := os.ReadFile(path)
				if err != nil || !bytes.Equal(got, v) {
					t.Fatalf("version %d: read %d bytes, %v; want the new %d bytes", i+2, len(got), err, len(v))
				}
				// The handle opened before the change still reads v1,
				// wherever it reads.
				for _, off := range []int64{1000, 250000, int64(len(v1)) - 10} {
					if got := readAt(t, old, off, 5000); !bytes.Equal(got, v1[off:min(off+5000, int64(len(v1)))]) {
						t.Fatalf("old handle at %d read %d bytes that are not v1's", off, len(got))
					}
				}
			}
			old.Close()
			// With no handle pinning v1, stat shows the newest version.
			time.Sleep(2 * shortTTL)
			if tc.opts.AttrTimeout < 0 {
				fi, err := os.Stat(path)
				if err != nil || fi.Size() != 1234 {
					t.Fatalf("stat after close: %v, %v; want size 1234", fi, err)
				}
			}
		})
	}
}

func TestListingReusedWithinTTL(t *testing.T) {
	mem := newProjectMemory()
	mnt := mountOne(t, mem, fusefs.Options{Options: fs.Options{MetadataTTL: time.Hour}, EntryTimeout: -1, AttrTimeout: -1})
	path := filepath.Join(mnt, "Hub A/Project 1/Project Files/readme.txt")
	if _, err := os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	mem.ResetCalls()
	for range 5 {
		if _, err := os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(path); err != nil {
			t.Fatal(err)
		}
	}
	if n := mem.Calls(remotetest.OpList) + mem.Calls(remotetest.OpStat); n != 0 {
		t.Fatalf("%d metadata calls within the TTL, want 0", n)
	}
}

func TestDeletedBetweenListingAndOpen(t *testing.T) {
	mem := newProjectMemory()
	mnt := mountOne(t, mem, fusefs.Options{Options: fs.Options{MetadataTTL: shortTTL}})
	path := filepath.Join(mnt, "Hub A/Project 1/Plans/with space.pdf")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mem.Delete("Hub A/Project 1/Plans/with space.pdf")
	time.Sleep(2 * shortTTL)
	// The kernel still has the name cached (1 s entry timeout): the
	// open itself must notice.
	if _, err := os.Open(path); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("open of a deleted file: %v, want ENOENT", err)
	}
	// A handle opened before the deletion reads its version to the end:
	// versions stay readable.
	want := projectTree["Hub A/Project 1/Plans/with space.pdf"]
	if got := readAt(t, f, 1000, 100); !bytes.Equal(got, want[1000:1100]) {
		t.Fatal("open handle of a deleted file read wrong bytes")
	}
}

func TestUnauthenticatedIsEACCES(t *testing.T) {
	mem := newProjectMemory()
	logs := &logBuffer{}
	mnt := mountOne(t, mem, fusefs.Options{Options: fs.Options{MetadataTTL: shortTTL, Logger: slog.New(logs)}})
	files := filepath.Join(mnt, "Hub A/Project 1/Project Files")
	if _, err := os.ReadDir(files); err != nil {
		t.Fatal(err)
	}
	mem.SetFault(func(_ context.Context, op string, id remote.ID) error {
		return &remote.Error{Kind: remote.Unauthenticated, Op: "memory." + op, Status: 401, Message: "token expired"}
	})
	time.Sleep(2 * shortTTL)
	if _, err := os.ReadDir(files); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("readdir without login: %v, want EACCES", err)
	}
	if _, err := os.ReadFile(filepath.Join(files, "readme.txt")); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("read without login: %v, want EACCES", err)
	}
	if n := logs.count("run `bimfs login acme`"); n != 1 {
		t.Fatalf("login hint logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "token expired") {
		t.Fatalf("cause not logged:\n%s", logs)
	}
}

func TestErrorKindsAsErrno(t *testing.T) {
	mem := newProjectMemory()
	mnt := mountOne(t, mem, fusefs.Options{Options: fs.Options{MetadataTTL: -1}, EntryTimeout: -1, AttrTimeout: -1, NegativeTimeout: -1})
	path := filepath.Join(mnt, "Hub A/Project 1/Project Files/readme.txt")
	for kind, want := range map[remote.Kind]syscall.Errno{
		remote.Permission:  syscall.EACCES,
		remote.Unavailable: syscall.EIO,
		remote.Throttled:   syscall.EIO,
		remote.NotFound:    syscall.ENOENT,
	} {
		t.Run(kind.String(), func(t *testing.T) {
			mem.SetFault(func(_ context.Context, op string, id remote.ID) error {
				if op == remotetest.OpReadRange {
					return remote.Errorf(kind, "memory.ReadRange", "injected")
				}
				return nil
			})
			defer mem.SetFault(nil)
			if _, err := os.ReadFile(path); !errors.Is(err, want) {
				t.Fatalf("read failing with %v: %v, want %v", kind, err, want)
			}
		})
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "hello from the cloud\n" {
		t.Fatalf("read after faults cleared: %q, %v", got, err)
	}
}

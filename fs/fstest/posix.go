package fstest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// CheckFile checks that the file at path reads as want through every
// read-only access path: stat, sequential read, pread at edge offsets,
// lseek from each origin, and that write-mode opens fail with EROFS.
func CheckFile(t *testing.T, path string, want []byte) {
	t.Helper()
	size := int64(len(want))
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	if fi.Size() != size || !fi.Mode().IsRegular() {
		t.Errorf("stat %s: size %d mode %v, want regular file of %d bytes", path, fi.Size(), fi.Mode(), size)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("read %s: %d bytes, %v; want %d bytes of content", path, len(got), err, size)
	}

	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	offsets := []int64{0, 1, size / 2, size - 1, size, size + 10, 4095, 4096, 4097, 1 << 20}
	for _, off := range offsets {
		if off < 0 {
			continue
		}
		buf := make([]byte, 5000)
		n, err := f.ReadAt(buf, off)
		end := min(max(off, 0)+int64(len(buf)), size)
		var wantPart []byte
		if off < size {
			wantPart = want[off:end]
		}
		if !bytes.Equal(buf[:n], wantPart) {
			t.Errorf("pread %s at %d: %d bytes differ from the %d expected", path, off, n, len(wantPart))
		}
		if n < len(buf) && !errors.Is(err, io.EOF) {
			t.Errorf("pread %s at %d: short read of %d with %v, want io.EOF", path, off, n, err)
		}
	}

	// Each lseek is followed by a read of up to 3 bytes, which moves the
	// position on by what it read.
	pos := int64(0)
	for _, tc := range []struct {
		off    int64
		whence int
	}{
		{size / 3, io.SeekStart},
		{1, io.SeekCurrent},
		{-1, io.SeekEnd},
		{0, io.SeekEnd},
	} {
		wantPos := tc.off
		switch tc.whence {
		case io.SeekCurrent:
			wantPos += pos
		case io.SeekEnd:
			wantPos += size
		}
		if wantPos < 0 {
			continue
		}
		got, err := f.Seek(tc.off, tc.whence)
		if err != nil || got != wantPos {
			t.Errorf("lseek %s (%d, %d) = %d, %v; want %d", path, tc.off, tc.whence, got, err, wantPos)
			return
		}
		buf := make([]byte, 3)
		n, _ := f.Read(buf)
		start := min(wantPos, size)
		end := max(min(wantPos+3, size), start)
		if !bytes.Equal(buf[:n], want[start:end]) {
			t.Errorf("read after lseek %s to %d: %q, want %q", path, wantPos, buf[:n], want[start:end])
		}
		pos = wantPos + int64(n)
	}

	for _, flag := range []int{os.O_WRONLY, os.O_RDWR, os.O_RDONLY | os.O_TRUNC, os.O_WRONLY | os.O_APPEND} {
		if w, err := os.OpenFile(path, flag, 0); !errors.Is(err, syscall.EROFS) {
			if err == nil {
				w.Close()
			}
			t.Errorf("open %s with flags %#x: %v, want EROFS", path, flag, err)
		}
	}
	if err := os.Truncate(path, 0); !errors.Is(err, syscall.EROFS) {
		t.Errorf("truncate %s: %v, want EROFS", path, err)
	}
	if err := os.Chmod(path, 0o600); !errors.Is(err, syscall.EROFS) {
		t.Errorf("chmod %s: %v, want EROFS", path, err)
	}
	if err := unix.Setxattr(path, "user.x", []byte("y"), 0); err == nil {
		t.Errorf("setxattr %s succeeded on a read-only filesystem", path)
	}
}

// CheckReadOnlyDir checks that every call that would change the folder dir
// fails with EROFS and leaves nothing behind. existing is the name of an
// entry of dir.
func CheckReadOnlyDir(t *testing.T, dir, existing string) {
	t.Helper()
	p := func(name string) string { return filepath.Join(dir, name) }
	ops := []struct {
		name string
		fn   func() error
	}{
		{"create", func() error {
			f, err := os.OpenFile(p("new.txt"), os.O_CREATE|os.O_WRONLY, 0o644)
			if err == nil {
				f.Close()
			}
			return err
		}},
		{"mkdir", func() error { return os.Mkdir(p("newdir"), 0o755) }},
		{"unlink", func() error { return syscall.Unlink(p(existing)) }},
		{"rmdir", func() error { return syscall.Rmdir(p(existing)) }},
		{"rename", func() error { return os.Rename(p(existing), p("renamed")) }},
		{"symlink", func() error { return os.Symlink("target", p("link")) }},
		{"link", func() error { return os.Link(p(existing), p("hardlink")) }},
		{"mknod", func() error { return syscall.Mknod(p("fifo"), syscall.S_IFIFO|0o644, 0) }},
		{"chmod", func() error { return os.Chmod(dir, 0o700) }},
		{"utimes", func() error { return unix.UtimesNano(dir, []unix.Timespec{{Sec: 1}, {Sec: 1}}) }},
	}
	// The kernel answers some calls on the wrong file type itself, before
	// asking the filesystem.
	fi, err := os.Lstat(p(existing))
	if err != nil {
		t.Fatalf("lstat %s: %v", existing, err)
	}
	kernelErr := map[string]error{"rmdir": syscall.ENOTDIR}
	if fi.IsDir() {
		kernelErr = map[string]error{"unlink": syscall.EISDIR, "link": syscall.EPERM}
	}
	for _, op := range ops {
		err := op.fn()
		if !errors.Is(err, syscall.EROFS) && (kernelErr[op.name] == nil || !errors.Is(err, kernelErr[op.name])) {
			t.Errorf("%s in %s: %v, want EROFS", op.name, dir, err)
		}
	}
	for _, name := range []string{"new.txt", "newdir", "renamed", "link", "hardlink", "fifo"} {
		if _, err := os.Lstat(p(name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists after a refused write: %v", name, err)
		}
	}
	if _, err := os.Lstat(p(existing)); err != nil {
		t.Errorf("%s is gone after refused writes: %v", existing, err)
	}
}

package remotetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"unicode"

	"github.com/bimfs/bimfs/remote"
)

// File is one object of a test tree. Path is slash-separated and relative
// to the folder the builder returns; Dir marks a folder (Data is then
// ignored). Parents always come before their children.
type File struct {
	Path string
	Data []byte
	Dir  bool
}

// Builder populates a fresh backend with tree below some folder and returns
// the backend and that folder's ID. It registers its own cleanup with t.
type Builder func(t *testing.T, tree []File) (remote.Backend, remote.ID)

// Config describes a backend under test for RunConfig.
type Config struct {
	// Build is required.
	Build Builder
	// Update, if set, stores data as the new content of the file at path in
	// the tree Build returned last; the suite then checks that the file
	// keeps its ID and gets a new version. Leave nil if the backend or its
	// emulator cannot make new versions.
	Update func(t *testing.T, path string, data []byte)
	// Missing, if set, returns an ID of the same form as known that names no
	// object. By default the suite changes known's last letter or digit.
	Missing func(known remote.ID) remote.ID
}

// Run checks the semantics package remote documents against the backend
// build returns. It is RunConfig without the optional checks.
func Run(t *testing.T, build Builder) {
	RunConfig(t, Config{Build: build})
}

// bigSize is large enough that ranges inside it cross any sane block size.
const bigSize = 256<<10 + 123

// StandardTree is the tree every conformance run builds.
func StandardTree() []File {
	big := make([]byte, bigSize)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(r.UintN(256))
	}
	return []File{
		{Path: "hello.txt", Data: []byte("hello, world\n")},
		{Path: "empty.txt", Data: []byte{}},
		{Path: "with space.txt", Data: []byte("spaced out")},
		{Path: "Ünïcödé 文件.txt", Data: []byte("unicode name")},
		{Path: "sub", Dir: true},
		{Path: "sub/nested", Dir: true},
		{Path: "sub/nested/deep.txt", Data: []byte("deep")},
		{Path: "sub/big.bin", Data: big},
		{Path: "emptydir", Dir: true},
	}
}

// want describes the expected children of each folder path ("" is the top).
func wantChildren(tree []File) map[string]map[string]File {
	out := map[string]map[string]File{"": {}}
	for _, f := range tree {
		dir, name := "", f.Path
		if i := lastSlash(f.Path); i >= 0 {
			dir, name = f.Path[:i], f.Path[i+1:]
		}
		if out[dir] == nil {
			out[dir] = map[string]File{}
		}
		out[dir][name] = f
		if f.Dir && out[f.Path] == nil {
			out[f.Path] = map[string]File{}
		}
	}
	return out
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}

// RunConfig runs the conformance suite described by c.
func RunConfig(t *testing.T, c Config) {
	tree := StandardTree()
	b, top := c.Build(t, tree)
	want := wantChildren(tree)
	data := map[string][]byte{}
	for _, f := range tree {
		if !f.Dir {
			data[f.Path] = f.Data
		}
	}
	s := &suite{b: b, top: top}

	t.Run("Root", func(t *testing.T) {
		root, err := b.Root(t.Context())
		if err != nil {
			t.Fatalf("Root: %v", err)
		}
		if !root.Dir || root.ID == "" {
			t.Errorf("Root = %+v, want a folder with an ID", root)
		}
		if _, err := b.List(t.Context(), root.ID); err != nil {
			t.Errorf("List(root): %v", err)
		}
	})

	t.Run("List", func(t *testing.T) {
		for dir, children := range want {
			got := s.listPath(t, dir)
			names := make([]string, 0, len(got))
			for name := range got {
				names = append(names, name)
			}
			sort.Strings(names)
			wantNames := make([]string, 0, len(children))
			for name := range children {
				wantNames = append(wantNames, name)
			}
			sort.Strings(wantNames)
			if !equalStrings(names, wantNames) {
				t.Errorf("List(%q) names = %q, want %q", dir, names, wantNames)
				continue
			}
			for name, f := range children {
				e := got[name]
				checkEntry(t, dir+"/"+name, e, f)
			}
		}
	})

	t.Run("UniqueStableIDs", func(t *testing.T) {
		seen := map[remote.ID]string{}
		for dir := range want {
			first := s.listPath(t, dir)
			again := s.listPath(t, dir)
			for name, e := range first {
				if p, dup := seen[e.ID]; dup {
					t.Errorf("ID %q used by %q and %q/%q", e.ID, p, dir, name)
				}
				seen[e.ID] = dir + "/" + name
				if a := again[name]; a.ID != e.ID || a.Version.ID != e.Version.ID {
					t.Errorf("%s/%s: second listing has ID %q version %q, first had %q %q",
						dir, name, a.ID, a.Version.ID, e.ID, e.Version.ID)
				}
			}
		}
	})

	t.Run("Stat", func(t *testing.T) {
		for dir := range want {
			for name, e := range s.listPath(t, dir) {
				got, err := b.Stat(t.Context(), e.ID)
				if err != nil {
					t.Errorf("Stat(%s/%s): %v", dir, name, err)
					continue
				}
				if got.ID != e.ID || got.Name != e.Name || got.Dir != e.Dir || got.Size != e.Size ||
					got.Version.ID != e.Version.ID {
					t.Errorf("Stat(%s/%s) = %+v, listing says %+v", dir, name, got, e)
				}
			}
		}
		got, err := b.Stat(t.Context(), top)
		if err != nil || !got.Dir || got.ID != top {
			t.Errorf("Stat(top) = %+v, %v; want the folder", got, err)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		missing := c.Missing
		if missing == nil {
			missing = changeLast
		}
		file := s.listPath(t, "")["hello.txt"]
		dir := s.listPath(t, "")["sub"]
		for _, id := range []remote.ID{missing(file.ID), missing(dir.ID)} {
			if _, err := b.Stat(t.Context(), id); !remote.IsKind(err, remote.NotFound) {
				t.Errorf("Stat(%q) error = %v (kind %v), want kind NotFound", id, err, remote.KindOf(err))
			}
		}
		if _, err := b.List(t.Context(), missing(dir.ID)); !remote.IsKind(err, remote.NotFound) {
			t.Errorf("List(missing) error = %v (kind %v), want kind NotFound", err, remote.KindOf(err))
		}
		// Versions are immutable and may stay readable after their file is
		// deleted, so only a version that never existed must be NotFound.
		gone := remote.Version{ID: string(changeLast(remote.ID(file.Version.ID))), Number: file.Version.Number, Ref: string(changeLast(remote.ID(file.Version.Ref)))}
		if rc, err := b.ReadRange(t.Context(), missing(file.ID), gone, 0, 1); !remote.IsKind(err, remote.NotFound) {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("ReadRange(missing) error = %v (kind %v), want kind NotFound", err, remote.KindOf(err))
		}
	})

	t.Run("ReadWhole", func(t *testing.T) {
		for p, want := range data {
			e := s.entry(t, p)
			got, err := s.read(t.Context(), e, 0, e.Size)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("ReadRange(%s, 0, %d) = %d bytes, %v; want %d bytes of content", p, e.Size, len(got), err, len(want))
			}
			// Asking for more than there is is how readers find EOF.
			got, err = s.read(t.Context(), e, 0, e.Size+100)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("ReadRange(%s, 0, size+100) = %d bytes, %v; want the %d bytes of content", p, len(got), err, len(want))
			}
		}
	})

	t.Run("Ranges", func(t *testing.T) {
		big := data["sub/big.bin"]
		e := s.entry(t, "sub/big.bin")
		size := int64(len(big))
		if !b.Features().RangeReads {
			got, err := s.read(t.Context(), e, 0, 1000)
			if err != nil || !bytes.Equal(got, big[:1000]) {
				t.Errorf("prefix read = %d bytes, %v; want the first 1000 bytes", len(got), err)
			}
			return
		}
		cases := []struct{ off, n int64 }{
			{0, 1}, {1, 4095}, {100000, 5000}, {65536, 65536}, {size - 1, 1},
			{size - 10, 100}, // crosses EOF: short read
			{size, 10},       // at EOF: no bytes
		}
		for _, tc := range cases {
			got, err := s.read(t.Context(), e, tc.off, tc.n)
			end := min(tc.off+tc.n, size)
			if err != nil || !bytes.Equal(got, big[tc.off:end]) {
				t.Errorf("ReadRange(%d, %d) = %d bytes, %v; want bytes [%d,%d)", tc.off, tc.n, len(got), err, tc.off, end)
			}
		}
		got, err := s.read(t.Context(), e, size+10, 10)
		if len(got) != 0 || (err != nil && !remote.IsKind(err, remote.Invalid)) {
			t.Errorf("ReadRange past EOF = %d bytes, %v; want no bytes (or an Invalid error)", len(got), err)
		}
		empty := s.entry(t, "empty.txt")
		got, err = s.read(t.Context(), empty, 0, 10)
		if err != nil || len(got) != 0 {
			t.Errorf("ReadRange(empty file) = %d bytes, %v; want 0 bytes and no error", len(got), err)
		}
	})

	t.Run("ConcurrentReads", func(t *testing.T) {
		big := data["sub/big.bin"]
		e := s.entry(t, "sub/big.bin")
		rangeReads := b.Features().RangeReads
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				off, n := int64(i)*30000, int64(20000)
				if !rangeReads {
					off = 0
				}
				got, err := s.read(t.Context(), e, off, n)
				if err != nil {
					errs <- err
				} else if !bytes.Equal(got, big[off:off+n]) {
					errs <- errors.New("concurrent read returned wrong bytes")
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("Canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := b.List(ctx, top); !remote.IsKind(err, remote.Canceled) {
			t.Errorf("List(canceled ctx) error = %v (kind %v), want kind Canceled", err, remote.KindOf(err))
		}
		e := s.entry(t, "hello.txt")
		if _, err := s.read(ctx, e, 0, e.Size); !remote.IsKind(err, remote.Canceled) {
			t.Errorf("ReadRange(canceled ctx) error = %v (kind %v), want kind Canceled", err, remote.KindOf(err))
		}
	})

	runHistory(t, c, tree, data)

	if c.Update != nil {
		t.Run("NewVersion", func(t *testing.T) {
			b, top := c.Build(t, tree)
			s := &suite{b: b, top: top}
			before := s.entry(t, "hello.txt")
			content := []byte("a longer second version of hello\n")
			c.Update(t, "hello.txt", content)
			after := s.entry(t, "hello.txt")
			if after.ID != before.ID {
				t.Errorf("ID changed from %q to %q with new content", before.ID, after.ID)
			}
			if after.Version.ID == before.Version.ID || after.Version.ID == "" {
				t.Errorf("version ID %q → %q, want a new version ID", before.Version.ID, after.Version.ID)
			}
			if after.Size != int64(len(content)) {
				t.Errorf("size after update = %d, want %d", after.Size, len(content))
			}
			got, err := s.read(t.Context(), after, 0, after.Size)
			if err != nil || !bytes.Equal(got, content) {
				t.Errorf("reading the new version = %q, %v; want %q", got, err, content)
			}
			if st, err := b.Stat(t.Context(), after.ID); err != nil || st.Version.ID != after.Version.ID {
				t.Errorf("Stat after update = %+v, %v; want version %q", st, err, after.Version.ID)
			}
		})
	}
}

type suite struct {
	b   remote.Backend
	top remote.ID
}

// listPath lists the folder at slash path below top, by name.
func (s *suite) listPath(t *testing.T, path string) map[string]remote.Entry {
	t.Helper()
	id := s.top
	if path != "" {
		id = s.entry(t, path).ID
	}
	entries, err := s.b.List(t.Context(), id)
	if err != nil {
		t.Fatalf("List(%q): %v", path, err)
	}
	out := map[string]remote.Entry{}
	for _, e := range entries {
		if _, dup := out[e.Name]; dup {
			t.Fatalf("List(%q) returned %q twice", path, e.Name)
		}
		out[e.Name] = e
	}
	return out
}

// entry resolves a slash path below top by listing each folder.
func (s *suite) entry(t *testing.T, path string) remote.Entry {
	t.Helper()
	dir := s.top
	var cur remote.Entry
	for _, name := range splitPath(path) {
		entries, err := s.b.List(t.Context(), dir)
		if err != nil {
			t.Fatalf("List on the way to %q: %v", path, err)
		}
		found := false
		for _, e := range entries {
			if e.Name == name {
				cur, found = e, true
				break
			}
		}
		if !found {
			t.Fatalf("%q: no %q in its folder", path, name)
		}
		dir = cur.ID
	}
	return cur
}

func (s *suite) read(ctx context.Context, e remote.Entry, off, n int64) ([]byte, error) {
	rc, err := s.b.ReadRange(ctx, e.ID, e.Version, off, n)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		return got, err
	}
	if int64(len(got)) > n {
		return got, errors.New("ReadRange returned more bytes than asked for")
	}
	return got, nil
}

func checkEntry(t *testing.T, path string, e remote.Entry, f File) {
	t.Helper()
	if e.ID == "" {
		t.Errorf("%s: empty ID", path)
	}
	if e.Dir != f.Dir {
		t.Errorf("%s: Dir = %v, want %v", path, e.Dir, f.Dir)
	}
	if f.Dir {
		if e.Size != 0 || e.Version != (remote.Version{}) {
			t.Errorf("%s: folder has size %d, version %+v; want zero", path, e.Size, e.Version)
		}
		return
	}
	if e.Size != int64(len(f.Data)) {
		t.Errorf("%s: Size = %d, want %d", path, e.Size, len(f.Data))
	}
	if e.Version.ID == "" {
		t.Errorf("%s: file without a version ID", path)
	}
	if e.ModTime.IsZero() {
		t.Errorf("%s: zero ModTime", path)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// changeLast returns id with its last letter or digit replaced by the next
// one of the same class, which keeps the ID's shape but names nothing.
func changeLast(id remote.ID) remote.ID {
	r := []rune(string(id))
	for i := len(r) - 1; i >= 0; i-- {
		c := r[i]
		switch {
		case c >= '0' && c <= '9':
			r[i] = '0' + (c-'0'+1)%10
		case c >= 'a' && c <= 'z':
			r[i] = 'a' + (c-'a'+1)%26
		case c >= 'A' && c <= 'Z':
			r[i] = 'A' + (c-'A'+1)%26
		case unicode.IsLetter(c) || unicode.IsDigit(c):
			r[i] = 'x'
		default:
			continue
		}
		return remote.ID(r)
	}
	return id + "x"
}

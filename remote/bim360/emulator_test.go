package bim360

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bim360/emulator"
	"github.com/bimfs/bimfs/remote/httpx"
)

// logBuf collects log output so tests can check that no secret reaches it.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type env struct {
	t    *testing.T
	s    *emulator.Server
	cfg  Config
	b    *Backend
	logs *logBuf
}

// browser returns an open func that plays the user's browser: it fetches
// the authorize URL and follows the redirect to the loopback callback.
func browser(t *testing.T) func(string) error {
	return func(u string) error {
		resp, err := http.Get(u)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			t.Errorf("callback answered %s", resp.Status)
		}
		return nil
	}
}

// newEnv starts an emulator, logs in with PKCE through the loopback
// callback and builds a backend with fast retries.
func newEnv(t *testing.T, opts emulator.Options) *env {
	t.Helper()
	s := emulator.New(opts)
	t.Cleanup(s.Close)
	logs := &logBuf{}
	cfg := Config{
		Account:     "test",
		BaseURL:     s.URL,
		ClientID:    emulator.DefaultClientID,
		RedirectURI: "http://127.0.0.1:0/callback",
		TokenStore:  &httpx.TokenStore{Path: filepath.Join(t.TempDir(), "tokens", "test.json")},
		Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MaxAttempts: 8,
	}
	if err := Login(context.Background(), cfg, browser(t)); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, s: s, cfg: cfg, logs: logs}
	e.b = e.backend(cfg)
	return e
}

func (e *env) backend(cfg Config) *Backend {
	e.t.Helper()
	b, err := New(context.Background(), cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	fastRetries(b)
	e.t.Cleanup(func() { b.Close() })
	return b
}

func fastRetries(b *Backend) {
	b.up.retryDelay = time.Millisecond
	for _, c := range []*httpx.Client{b.api.http, b.s3, b.extraAPI} {
		c.BaseDelay = time.Millisecond
		c.MaxDelay = 5 * time.Millisecond
	}
}

// walk lists the whole tree below root and returns entries by path.
func walk(t *testing.T, b remote.Backend) map[string]remote.Entry {
	t.Helper()
	out, _ := walkCount(t, b)
	return out
}

// walkCount is walk that also returns the number of children of each
// directory path.
func walkCount(t *testing.T, b remote.Backend) (map[string]remote.Entry, map[string]int) {
	t.Helper()
	children := map[string]int{}
	ctx := context.Background()
	root, err := b.Root(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]remote.Entry{}
	var rec func(dir remote.ID, p string)
	rec = func(dir remote.ID, p string) {
		list, err := b.List(ctx, dir)
		if err != nil {
			t.Fatalf("List %s: %v", p, err)
		}
		children[p] = len(list)
		for _, c := range list {
			cp := p + "/" + c.Name
			if _, dup := out[cp]; dup {
				cp += "#" + string(c.ID)
			}
			out[cp] = c
			if c.Dir {
				rec(c.ID, cp)
			}
		}
	}
	rec(root.ID, "")
	return out, children
}

func pages(n int) int64 { return int64(max(1, (n+PageLimit-1)/PageLimit)) }

func TestEmulatorBrowse(t *testing.T) {
	e := newEnv(t, emulator.Options{Seed: 1})
	s := e.s
	hub := s.AddHub("Acme")
	proj := s.AddProject(hub, "Tower")
	files := s.TopFolder(proj, "Project Files")
	plans := s.TopFolder(proj, "Plans")
	sub := s.AddFolder(proj, files, "Sub")
	gone := s.AddFolder(proj, files, "Gone")
	s.HideFolder(proj, gone)
	s.AddFile(proj, sub, "a.txt", emulator.Bytes([]byte("hello")))
	renamed := s.AddFile(proj, sub, "old name.dwg", emulator.Bytes([]byte("v1")))
	s.AddVersion(proj, renamed, "new name.dwg", emulator.Bytes([]byte("version two")))
	del := s.AddFile(proj, sub, "deleted.rvt", emulator.Bytes([]byte("x")))
	s.DeleteItem(proj, del)
	s.AddFile(proj, plans, "A-101.pdf", emulator.Synthetic(3, 12345))

	// A big folder whose second page holds only deleted items: the listing
	// must go on past the empty page.
	big := s.AddFolder(proj, files, "big")
	for i := range 200 {
		s.AddFile(proj, big, fmt.Sprintf("keep-%03d", i), emulator.Synthetic(int64(i), int64(i)))
	}
	for i := range 200 {
		s.DeleteItem(proj, s.AddFile(proj, big, fmt.Sprintf("del-%03d", i), emulator.Bytes(nil)))
	}
	for i := range 50 {
		s.AddFile(proj, big, fmt.Sprintf("tail-%03d", i), emulator.Bytes([]byte{byte(i)}))
	}

	s.ResetCounters()
	tree := walk(t, e.b)
	var paths []string
	for p := range tree {
		if !strings.HasPrefix(p, "/Acme/Tower/Project Files/big/") {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	want := []string{
		"/Acme", "/Acme/Data Connector", "/Acme/Tower",
		"/Acme/Tower/Assets", "/Acme/Tower/Assets/asset-statuses.json", "/Acme/Tower/Assets/assets.csv",
		"/Acme/Tower/Assets/assets.json", "/Acme/Tower/Assets/categories.json",
		"/Acme/Tower/Assets/category-assignments.json", "/Acme/Tower/Assets/custom-attributes.json",
		"/Acme/Tower/Assets/locations.json", "/Acme/Tower/Assets/relationships.json",
		"/Acme/Tower/Assets/status-step-sets.json",
		"/Acme/Tower/Plans", "/Acme/Tower/Plans/A-101.pdf",
		"/Acme/Tower/Project Files", "/Acme/Tower/Project Files/Sub",
		"/Acme/Tower/Project Files/Sub/a.txt", "/Acme/Tower/Project Files/Sub/new name.dwg",
		"/Acme/Tower/Project Files/big",
	}
	if strings.Join(paths, "\n") != strings.Join(want, "\n") {
		t.Fatalf("tree:\n%s\nwant:\n%s", strings.Join(paths, "\n"), strings.Join(want, "\n"))
	}
	nBig := 0
	for p := range tree {
		if strings.HasPrefix(p, "/Acme/Tower/Project Files/big/") {
			nBig++
			if strings.Contains(p, "/del-") {
				t.Errorf("deleted item listed: %s", p)
			}
		}
	}
	if nBig != 250 {
		t.Errorf("big folder lists %d files, want 250", nBig)
	}

	for _, p := range []string{"/Acme", "/Acme/Tower"} {
		if !tree[p].ReadOnly || !tree[p].Dir {
			t.Errorf("%s: %+v, want read-only dir", p, tree[p])
		}
	}
	f := tree["/Acme/Tower/Project Files/Sub/new name.dwg"]
	if f.Dir || f.Size != int64(len("version two")) || f.Version.Number != 2 || f.ModTime.IsZero() ||
		!strings.HasPrefix(f.Version.Ref, "urn:adsk.objects:os.object:") || !strings.Contains(f.Version.ID, "?version=2") {
		t.Errorf("renamed file entry %+v", f)
	}

	// Costs: one contents call per 200 rows (hidden rows count) per folder,
	// one topFolders, projects and hubs call, and no tip, item or version call.
	c := s.Counters()
	wantContents := pages(2) + pages(1) + pages(3) + pages(450) // Project Files, Plans, Sub, big
	if c[emulator.OpFolderContents] != wantContents {
		t.Errorf("contents calls %d, want %d", c[emulator.OpFolderContents], wantContents)
	}
	for op, n := range map[string]int64{emulator.OpHubs: 1, emulator.OpProjects: 1, emulator.OpTopFolders: 1,
		emulator.OpItemTip: 0, emulator.OpItem: 0, emulator.OpVersion: 0, emulator.OpSignedDownload: 0} {
		if c[op] != n {
			t.Errorf("%s: %d calls, want %d", op, c[op], n)
		}
	}

	// Stat agrees with the listing and reports deletion.
	ctx := context.Background()
	st, err := e.b.Stat(ctx, f.ID)
	if err != nil || st != f {
		t.Errorf("Stat = %+v, %v; listing had %+v", st, err, f)
	}
	delID, _ := itemID(proj, del)
	if _, err := e.b.Stat(ctx, delID); !remote.IsKind(err, remote.NotFound) {
		t.Errorf("Stat of deleted item: %v", err)
	}
	goneID, _ := folderID(proj, gone)
	if _, err := e.b.Stat(ctx, goneID); !remote.IsKind(err, remote.NotFound) {
		t.Errorf("Stat of hidden folder: %v", err)
	}
	for _, p := range []string{"/Acme", "/Acme/Tower", "/Acme/Tower/Plans"} {
		got, err := e.b.Stat(ctx, tree[p].ID)
		if err != nil || got.Name != path.Base(p) || !got.Dir {
			t.Errorf("Stat %s = %+v, %v", p, got, err)
		}
	}
	if c := s.Counters(); c[emulator.OpItemTip] != 0 {
		t.Errorf("Stat used GET tip %d times", c[emulator.OpItemTip])
	}
}

func TestEmulatorRelativeLinks(t *testing.T) {
	e := newEnv(t, emulator.Options{Seed: 2, RelativeLinks: true})
	hub := e.s.AddHub("H")
	proj := e.s.AddProject(hub, "P")
	top := e.s.TopFolder(proj, "Project Files")
	for i := range 401 {
		e.s.AddFile(proj, top, fmt.Sprintf("f%03d", i), emulator.Bytes(nil))
	}
	id, _ := folderID(proj, top)
	list, err := e.b.List(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 401 || list[0].Name != "f000" || list[400].Name != "f400" {
		t.Fatalf("%d entries", len(list))
	}
}

// TestEmulatorDemoWalk walks the demo account (10,000 files in one folder)
// and checks the call budget of a find over it.
func TestEmulatorDemoWalk(t *testing.T) {
	e := newEnv(t, emulator.Options{Seed: 3})
	e.s.Demo()
	// A walk slower than the listing TTL (a loaded machine) would list the
	// read-only folders twice; the budget is per listing.
	cfg := e.cfg
	cfg.ExtrasTTL = time.Hour
	e.b = e.backend(cfg)
	e.s.ResetCounters()
	tree, children := walkCount(t, e.b)
	var want int64
	hubs, projects := 0, 0
	for p, ent := range tree {
		extra := strings.HasPrefix(string(ent.ID), "dc:") || strings.HasPrefix(string(ent.ID), "assets:")
		if ent.Dir && strings.Count(p, "/") >= 3 && !extra { // top folders and below
			want += pages(children[p])
		}
		if _, ok := parseID(ent.ID); ok && ent.Dir && strings.Count(p, "/") == 1 {
			hubs++
		}
		if _, ok := parseID(ent.ID); ok && ent.Dir && strings.Count(p, "/") == 2 {
			projects++
		}
	}
	c := e.s.Counters()
	if c[emulator.OpFolderContents] != want {
		t.Errorf("contents calls %d, want %d", c[emulator.OpFolderContents], want)
	}
	checkExtrasCalls(t, e.s, c, hubs, projects)
	if c[emulator.OpItemTip]+c[emulator.OpItem]+c[emulator.OpVersion]+c[emulator.OpSignedDownload] != 0 {
		t.Errorf("walk made per-file calls: %v", c)
	}
	if n := children["/Demo Construction Co/Tower A/Project Files/"+emulator.DemoLargeFolder]; n != 10000 {
		t.Errorf("large folder lists %d files", n)
	}
}

// fileEnv is one project with one top folder for read tests.
func fileEnv(t *testing.T, opts emulator.Options) (*env, string, string) {
	e := newEnv(t, opts)
	hub := e.s.AddHub("H")
	proj := e.s.AddProject(hub, "P")
	top := e.s.TopFolder(proj, "Project Files")
	return e, proj, top
}

func (e *env) entry(proj, item string) remote.Entry {
	e.t.Helper()
	id, _ := itemID(proj, item)
	ent, err := e.b.Stat(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return ent
}

// readAll reads [off, off+n) of ent and returns the bytes and error.
func readRange(b *Backend, ent remote.Entry, off, n int64) ([]byte, error) {
	r, err := b.ReadRange(context.Background(), ent.ID, ent.Version, off, n)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func checkSynthetic(t *testing.T, seed, off int64, got []byte) {
	t.Helper()
	for i, c := range got {
		if w := emulator.SyntheticByte(seed, off+int64(i)); c != w {
			t.Fatalf("byte %d: %#x, want %#x", off+int64(i), c, w)
		}
	}
}

func TestEmulatorReadRange(t *testing.T) {
	e, proj, top := fileEnv(t, emulator.Options{Seed: 4})
	const seed, size = 77, 5<<20 + 123
	ent := e.entry(proj, e.s.AddFile(proj, top, "model.rvt", emulator.Synthetic(seed, size)))
	empty := e.entry(proj, e.s.AddFile(proj, top, "empty.txt", emulator.Bytes(nil)))
	e.s.ResetCounters()

	rng := rand.New(rand.NewPCG(1, 2))
	for range 40 {
		off := rng.Int64N(size)
		n := 1 + rng.Int64N(300<<10)
		got, err := readRange(e.b, ent, off, n)
		if err != nil {
			t.Fatal(err)
		}
		if want := min(n, size-off); int64(len(got)) != want {
			t.Fatalf("read %d+%d: %d bytes, want %d", off, n, len(got), want)
		}
		checkSynthetic(t, seed, off, got)
	}
	tests := []struct {
		name    string
		ent     remote.Entry
		off, n  int64
		wantLen int
	}{
		{"whole", ent, 0, size, size},
		{"tail", ent, size - 10, 100, 10},
		{"at EOF", ent, size, 10, 0},
		{"past EOF", ent, size + 1000, 10, 0},
		{"zero length", ent, 5, 0, 0},
		{"empty file", empty, 0, 10, 0},
	}
	for _, tt := range tests {
		got, err := readRange(e.b, tt.ent, tt.off, tt.n)
		if err != nil || len(got) != tt.wantLen {
			t.Errorf("%s: %d bytes, %v; want %d", tt.name, len(got), err, tt.wantLen)
		}
		if tt.ent == ent {
			checkSynthetic(t, seed, tt.off, got)
		}
	}
	// One signed URL per object serves all reads; reads of a listed
	// version cost no Data Management call.
	c := e.s.Counters()
	if c[emulator.OpSignedDownload] != 2 || c[emulator.OpItem] != 0 || c[emulator.OpItemTip] != 0 || c[emulator.OpVersion] != 0 {
		t.Errorf("%d signeds3download, %d GET item, %d GET tip, %d GET version calls; want 2, 0, 0, 0",
			c[emulator.OpSignedDownload], c[emulator.OpItem], c[emulator.OpItemTip], c[emulator.OpVersion])
	}
}

func TestEmulatorChunked(t *testing.T) {
	e, proj, top := fileEnv(t, emulator.Options{Seed: 5})
	const seed, size = 9, 10007
	item := e.s.AddFile(proj, top, "assembling.nwd", emulator.Synthetic(seed, size))
	e.s.SetChunked(proj, e.s.TipVersion(proj, item), 1000)
	ent := e.entry(proj, item)
	for _, r := range [][2]int64{{0, 1000}, {999, 2}, {1500, 3000}, {9990, 100}, {0, size}, {4000, 1}} {
		got, err := readRange(e.b, ent, r[0], r[1])
		if err != nil {
			t.Fatalf("%v: %v", r, err)
		}
		if want := min(r[1], size-r[0]); int64(len(got)) != want {
			t.Fatalf("%v: %d bytes, want %d", r, len(got), want)
		}
		checkSynthetic(t, seed, r[0], got)
	}
}

func TestEmulatorURLExpiry(t *testing.T) {
	e, proj, top := fileEnv(t, emulator.Options{Seed: 6, URLLifetime: time.Second})
	const seed = 11
	ent := e.entry(proj, e.s.AddFile(proj, top, "a.bin", emulator.Synthetic(seed, 4096)))
	e.s.ResetCounters()
	got, err := readRange(e.b, ent, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	checkSynthetic(t, seed, 0, got)
	e.s.Advance(5 * time.Second) // the cached URL has expired at S3
	got, err = readRange(e.b, ent, 1000, 100)
	if err != nil {
		t.Fatal(err)
	}
	checkSynthetic(t, seed, 1000, got)
	c := e.s.Counters()
	if c[emulator.OpSignedDownload] != 2 || c[emulator.OpS3Get] != 3 {
		t.Errorf("signs %d, S3 GETs %d; want 2 and 3 (one refused)", c[emulator.OpSignedDownload], c[emulator.OpS3Get])
	}
}

// TestEmulatorFaults runs a walk and reads while the emulator answers 503
// to a third of the requests: everything must still come out right.
func TestEmulatorFaults(t *testing.T) {
	e, proj, top := fileEnv(t, emulator.Options{Seed: 7})
	const seed, size = 21, 300000
	for i := range 5 {
		e.s.AddFile(proj, top, fmt.Sprintf("f%d", i), emulator.Synthetic(seed+int64(i), size))
	}
	e.s.SetOptions(emulator.Options{Seed: 7, Rate503: 0.3})
	tree := walk(t, e.b)
	for i := range 5 {
		ent := tree[fmt.Sprintf("/H/P/Project Files/f%d", i)]
		got, err := readRange(e.b, ent, 1234, 50000)
		if err != nil {
			t.Fatal(err)
		}
		checkSynthetic(t, seed+int64(i), 1234, got)
	}
	if !strings.Contains(e.logs.String(), "retrying") {
		t.Error("no request was retried: the fault injection did not happen")
	}
	checkNoSecrets(t, e)
}

// TestEmulatorRateLimit makes 60 concurrent hub listings against the
// documented 50-a-minute quota: the excess is answered 429 with
// Retry-After, retried after the wait, and every call succeeds.
func TestEmulatorRateLimit(t *testing.T) {
	e := newEnv(t, emulator.Options{Seed: 8, RateLimits: true, RateWindow: 200 * time.Millisecond})
	e.s.AddHub("H")
	e.s.ResetCounters()
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			list, err := e.b.List(context.Background(), rootID)
			if err == nil && len(list) != 1 {
				err = fmt.Errorf("%d hubs", len(list))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := e.s.Counters()[emulator.OpHubs]; n <= 60 {
		t.Errorf("%d hub calls: the quota was never hit", n)
	}
}

// TestEmulatorConnectionReset breaks every S3 body part-way: the reader
// must fail, and what it delivered before failing must be correct.
func TestEmulatorConnectionReset(t *testing.T) {
	e, proj, top := fileEnv(t, emulator.Options{Seed: 9})
	const seed, size = 31, 1 << 20
	ent := e.entry(proj, e.s.AddFile(proj, top, "big.bin", emulator.Synthetic(seed, size)))
	e.s.SetOptions(emulator.Options{Seed: 9, RateReset: 1})
	got, err := readRange(e.b, ent, 100, size-100)
	if err == nil {
		t.Fatalf("read %d bytes without error through a broken connection", len(got))
	}
	if !remote.IsKind(err, remote.Unavailable) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("error %v (kind %v), want Unavailable wrapping ErrUnexpectedEOF", err, remote.KindOf(err))
	}
	if int64(len(got)) >= size-100 {
		t.Errorf("got all %d bytes despite the reset", len(got))
	}
	checkSynthetic(t, seed, 100, got)
	checkNoSecrets(t, e)
}

// TestLoginForgedCallback sends a callback with a wrong state before the
// real one: it is refused and does not end the login.
// TestEmulatorDeletedBetweenListAndRead: after a remote delete, Stat,
// listings and reads of the tip say NotFound. The listed version stays
// readable (versions are immutable and APS keeps their storage); the
// filesystem notices the delete through the parent's listing.
func TestEmulatorDeletedBetweenListAndRead(t *testing.T) {
	e, proj, top := fileEnv(t, emulator.Options{Seed: 14})
	item := e.s.AddFile(proj, top, "a.txt", emulator.Bytes([]byte("contents")))
	ent := e.entry(proj, item)
	e.s.DeleteItem(proj, item)
	ctx := context.Background()
	if _, err := e.b.Stat(ctx, ent.ID); !remote.IsKind(err, remote.NotFound) {
		t.Errorf("Stat: %v", err)
	}
	if _, err := e.b.ReadRange(ctx, ent.ID, remote.Version{}, 0, 10); !remote.IsKind(err, remote.NotFound) {
		t.Errorf("ReadRange of the tip: %v", err)
	}
	if got, err := readRange(e.b, ent, 0, 100); err != nil || string(got) != "contents" {
		t.Errorf("ReadRange of the listed version: %q, %v; want its bytes", got, err)
	}
	parent, _ := folderID(proj, top)
	if list, err := e.b.List(ctx, parent); err != nil || len(list) != 0 {
		t.Errorf("List: %v, %v", list, err)
	}
}

func TestEmulatorReadVersionWithoutRef(t *testing.T) {
	e, proj, top := fileEnv(t, emulator.Options{Seed: 15})
	item := e.s.AddFile(proj, top, "a.txt", emulator.Bytes([]byte("one")))
	e.s.AddVersion(proj, item, "", emulator.Bytes([]byte("two!")))
	ent := e.entry(proj, item)
	v1 := remote.Version{ID: strings.Replace(ent.Version.ID, "version=2", "version=1", 1)}
	r, err := e.b.ReadRange(context.Background(), ent.ID, v1, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(got) != "one" {
		t.Fatalf("version 1: %q, %v", got, err)
	}
}

// checkNoSecrets fails if a bearer token or a signed URL's query reached
// the log.
func checkNoSecrets(t *testing.T, e *env) {
	t.Helper()
	logs := e.logs.String()
	tok, _ := e.cfg.TokenStore.Load()
	for _, secret := range []string{"X-Amz-Signature", "Bearer ", "access_token"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q:\n%s", secret, logs)
		}
	}
	if tok != nil && (strings.Contains(logs, tok.AccessToken) || strings.Contains(logs, tok.RefreshToken)) {
		t.Error("log contains a token")
	}
}

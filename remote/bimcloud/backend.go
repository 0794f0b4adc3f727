package bimcloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/httpx"
)

// Backend is one BIMcloud account as a remote.Backend and remote.Watcher.
type Backend struct {
	cfg      Config
	log      *slog.Logger
	tokens   *httpx.TokenSource
	mgr      *manager
	bs       *blobServer
	sessions *sessionPool

	// memo holds recent listings and proven revision headers for reads.
	memo readMemo

	// rangeReads is set once a blob server answered a Range request with 206.
	rangeReads atomic.Bool
	closed     atomic.Bool

	metaMu sync.Mutex // protects meta
	meta   loginMeta
}

var (
	_ remote.Backend = (*Backend)(nil)
	_ remote.Watcher = (*Backend)(nil)
	_ remote.Writer  = (*Backend)(nil)
)

// New returns the backend of a logged-in account. It loads the stored
// login and makes no request; without a login it fails with an
// Unauthenticated error that tells the user to run `bimfs login`.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	tok, err := cfg.TokenStore.Load()
	if err != nil {
		return nil, &remote.Error{Kind: remote.KindOf(err), Op: "bimcloud.New",
			Message: fmt.Sprintf("account %q is not logged in%s", cfg.Account, loginHint(cfg.Account)), Err: err}
	}
	b := &Backend{cfg: cfg, log: cfg.Logger, memo: readMemo{ttl: cfg.ListingTTL}}
	if err := cfg.TokenStore.LoadMeta(&b.meta); err != nil && !errors.Is(err, os.ErrNotExist) {
		b.log.Warn("ignoring unreadable login data", "err", err)
	}
	if b.meta.ManagerURL != "" && b.meta.ManagerURL != cfg.ManagerURL {
		return nil, errorf(remote.Unauthenticated, "bimcloud.New", "the stored login of account %q is for %s, not %s%s",
			cfg.Account, b.meta.ManagerURL, cfg.ManagerURL, loginHint(cfg.Account))
	}
	b.tokens = httpx.NewTokenSource(cfg.Account, tok, b.refresh, cfg.TokenStore)
	b.mgr = &manager{cfg: cfg, c: cfg.managerClient(b.tokens)}
	b.bs = newBlobServer(cfg)
	b.sessions = &sessionPool{
		managerURL: cfg.ManagerURL,
		mgr:        b.mgr,
		bs:         b.bs,
		username:   b.username,
		log:        b.log,
		servers:    map[string]*modelServer{},
	}
	return b, nil
}

// refresh is the TokenSource's refresh function. A refresh answer also
// names the user, which fills in login data written by older versions.
func (b *Backend) refresh(ctx context.Context, old *oauth2.Token) (*oauth2.Token, error) {
	tok, user, err := refreshGrant(ctx, b.cfg, old.RefreshToken)
	if err != nil {
		return nil, err
	}
	b.metaMu.Lock()
	defer b.metaMu.Unlock()
	if user != "" && user != b.meta.UserID {
		b.meta = loginMeta{ManagerURL: b.cfg.ManagerURL, UserID: user}
		if err := b.cfg.TokenStore.SaveMeta(b.meta); err != nil {
			b.log.Warn("saving login data", "err", err)
		}
	}
	return tok, nil
}

// username returns the login's user name, which blob-server sessions need.
func (b *Backend) username(ctx context.Context) (string, error) {
	b.metaMu.Lock()
	meta := b.meta
	b.metaMu.Unlock()
	if meta.Username != "" {
		return meta.Username, nil
	}
	if meta.UserID == "" {
		// Only a token response says whose token this is: refresh once.
		if cur := b.tokens.Current(); cur != nil {
			b.tokens.Invalidate(cur.AccessToken)
		}
		if _, err := b.tokens.Token(ctx); err != nil {
			return "", err
		}
		b.metaMu.Lock()
		meta = b.meta
		b.metaMu.Unlock()
		if meta.UserID == "" {
			return "", errorf(remote.Unauthenticated, "bimcloud.User", "the Manager did not say whose login this is%s", loginHint(b.cfg.Account))
		}
	}
	u, err := getUser(ctx, b.mgr.c, b.cfg, meta.UserID)
	if err != nil {
		return "", err
	}
	b.metaMu.Lock()
	defer b.metaMu.Unlock()
	if b.meta.UserID == meta.UserID {
		b.meta.Username = u.Username
		if err := b.cfg.TokenStore.SaveMeta(b.meta); err != nil {
			b.log.Warn("saving login data", "err", err)
		}
	}
	return u.Username, nil
}

// Root returns the "Project Root" folder.
func (b *Backend) Root(ctx context.Context) (remote.Entry, error) {
	return b.Stat(ctx, RootID)
}

// List returns the folders and files in folder dir. Other resources
// (model servers, Teamwork projects, libraries) are not files and are left
// out.
func (b *Backend) List(ctx context.Context, dir remote.ID) ([]remote.Entry, error) {
	rs, err := b.mgr.Resources(ctx, ChildrenOf(string(dir)))
	if err != nil {
		return nil, err
	}
	out := make([]remote.Entry, 0, len(rs))
	now := time.Now()
	for i := range rs {
		if e, ok := entryOf(&rs[i]); ok {
			b.remember(e, now)
			out = append(out, e)
		} else {
			b.log.Debug("skipping resource that is neither folder nor file", "type", rs[i].Type, "name", rs[i].Name)
		}
	}
	if len(out) == 0 && dir != RootID {
		// An empty answer is also what a vanished folder gets; tell the
		// two apart so a stale directory reports ENOENT.
		e, err := b.Stat(ctx, dir)
		if err != nil {
			return nil, err
		}
		if !e.Dir {
			return nil, errorf(remote.Invalid, "bimcloud.List", "%q is a file, not a folder", e.Name)
		}
	}
	return out, nil
}

// Stat is get-resource for one folder or file.
func (b *Backend) Stat(ctx context.Context, id remote.ID) (remote.Entry, error) {
	r, err := b.mgr.GetResource(ctx, string(id))
	if err != nil {
		return remote.Entry{}, err
	}
	e, ok := entryOf(r)
	if !ok {
		return remote.Entry{}, errorf(remote.NotFound, "bimcloud.Stat", "%q is a %s, neither a folder nor a file", r.Name, r.Type)
	}
	b.remember(e, time.Now())
	return e, nil
}

// remember records a file's listed version for reads (Config.ListingTTL).
func (b *Backend) remember(e remote.Entry, at time.Time) {
	if !e.Dir {
		b.memo.recordListed(string(e.ID), e.Version.ID, e.Size, at)
	}
}

// entryOf converts a resource; ok is false for resources that are neither
// folders nor files.
func entryOf(r *Resource) (remote.Entry, bool) {
	e := remote.Entry{ID: remote.ID(r.ID), Name: r.Name}
	if r.ModifiedDate > 0 {
		e.ModTime = time.UnixMilli(int64(r.ModifiedDate))
	}
	switch r.Type {
	case TypeResourceGroup:
		e.Dir = true
	case TypeBlob:
		e.Size = int64(r.Size)
		e.Version = versionOf(r)
	default:
		return e, false
	}
	return e, true
}

// versionOf names a blob's current content. Resource carries no content
// revision (only blob metadata and the change feed do), so the version is
// "<blobID>@<$modifiedDate>.<$size>": every content change sets a new
// modification time, and the size guards against two changes within one
// millisecond. A rename may also move $modifiedDate; that costs a refetch,
// never stale bytes. Ref is the hosting model server, which a read needs.
func versionOf(r *Resource) remote.Version {
	return remote.Version{
		ID:  r.ID + "@" + strconv.FormatInt(int64(r.ModifiedDate), 10) + "." + strconv.FormatInt(int64(r.Size), 10),
		Ref: r.ModelServerID,
	}
}

// Features reports RangeReads once a blob server has answered a Range
// request with 206 (the 2023.2 spec documents no partial reads), and
// Writable: Backend implements remote.Writer.
func (b *Backend) Features() remote.Features {
	return remote.Features{RangeReads: b.rangeReads.Load(), Writable: true}
}

// Close closes the open blob-server sessions.
func (b *Backend) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	b.sessions.closeAll()
	return nil
}

// ReadRange streams bytes [off, off+length) of version v of blob id.
func (b *Backend) ReadRange(ctx context.Context, id remote.ID, v remote.Version, off, length int64) (io.ReadCloser, error) {
	if off < 0 || length < 0 {
		return nil, errorf(remote.Invalid, "bimcloud.ReadRange", "bad range %d+%d", off, length)
	}
	if b.closed.Load() {
		return nil, errorf(remote.Canceled, "bimcloud.ReadRange", "backend closed")
	}
	r := &blobReader{b: b, ctx: ctx, id: string(id), v: v, pos: off, end: off + length}
	if r.end < off { // overflow: "to the end"
		r.end = -1
	}
	if length == 0 {
		return io.NopCloser(&emptyReader{}), nil
	}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

type emptyReader struct{}

func (*emptyReader) Read([]byte) (int, error) { return 0, io.EOF }

package emulator

import (
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"path"
	"strings"
	"sync"
	"time"
)

// Extension types and the bucket BIM 360 Docs stores file content in.
const (
	bucketWIP     = "wip.dm.prod"
	extHub        = "hubs:autodesk.bim360:Account"
	extProject    = "projects:autodesk.bim360:Project"
	extFolder     = "folders:autodesk.bim360:Folder"
	extItem       = "items:autodesk.bim360:File"
	extVersion    = "versions:autodesk.bim360:File"
	extDeleted    = "versions:autodesk.core:Deleted"
	storagePrefix = "urn:adsk.objects:os.object:"

	demoUserID   = "EMULATORUSER1"
	demoUserName = "Emulator User"
)

// store is the emulated DM + OSS state. Its lock is taken after no other
// lock of the package, so any handler may take it.
type store struct {
	mu sync.RWMutex
	// mu protects the following.
	hubs     []*hub
	hubByID  map[string]*hub
	projects map[string]*project
	objects  map[string]*object // by bucket + "/" + objectKey
	rng      *rand.Rand         // ID generator, seeded for reproducible demo IDs

	reservations map[string]*reservation // POST storage placeholders, by bucket + "/" + objectKey
	uploads      map[string]*upload      // open signeds3upload sessions, by uploadKey
	completed    map[string]*upload      // completed sessions, by uploadKey, for repeated completes
}

type hub struct {
	id, name string
	projects []*project
	created  time.Time
}

type project struct {
	id, name string
	hub      *hub
	root     *folder
	folders  map[string]*folder
	items    map[string]*item
	versions map[string]*version
	created  time.Time
	// commands is false for projects that refuse the CreateFolder command.
	commands bool
	// noPostFolders is set for projects that refuse POST folders, as BIM
	// 360 projects did before the spec documented it for them.
	noPostFolders bool
}

type folder struct {
	id, name string
	project  *project
	parent   *folder // nil for the root folder
	folders  []*folder
	items    []*item
	hidden   bool
	readOnly bool // no writes here or below (SetFolderReadOnly)
	created  time.Time
	modified time.Time
}

type item struct {
	id       string
	lineage  string // the suffix shared with the version IDs
	project  *project
	parent   *folder
	versions []*version // versions[i].number == i+1
	hidden   bool
	locked   bool // POST versions answers 423 (LockItem)
	created  time.Time
	modified time.Time
}

type version struct {
	id     string
	item   *item
	number int
	name   string
	ext    string
	object *object // nil for a Deleted version
	// originalName is the item's name before deletion (Deleted versions only).
	originalName string
	created      time.Time
}

type object struct {
	bucket, key string
	name        string // the file name it was uploaded as (Content-Disposition)
	content     Content
	contentType string
	created     time.Time
	// chunkSize > 0 makes signeds3download answer "chunked" (the upload is
	// still being assembled) with one URL per chunkSize bytes.
	chunkSize int64
	// parts are the uploaded parts content reads from (nil for objects
	// made by builders); released when an unattached object is replaced.
	parts []*part
	// attached is set once a version refers to the object; it can then no
	// longer be uploaded to.
	attached bool

	digestOnce sync.Once
	sha1       string // empty when the object is too large to hash cheaply
	etag       string
}

// maxHashedSize bounds the content hashed for sha1/ETag; larger synthetic
// objects get a derived ETag and no sha1 (the field is optional).
const maxHashedSize = 64 << 20

func (o *object) storageID() string { return storagePrefix + o.bucket + "/" + o.key }

// digests returns the object's sha1 (possibly empty) and quoted ETag.
func (o *object) digests() (sha1hex, etag string) {
	o.digestOnce.Do(func() {
		size := o.content.Size()
		if size > maxHashedSize {
			h := md5.Sum([]byte(fmt.Sprintf("%s/%s/%d", o.bucket, o.key, size)))
			o.etag = fmt.Sprintf("%q", hex.EncodeToString(h[:])+"-"+fmt.Sprint(1+size/(100<<20)))
			return
		}
		s, m := sha1.New(), md5.New()
		w := io.MultiWriter(s, m)
		if _, err := io.Copy(w, io.NewSectionReader(o.content, 0, size)); err != nil {
			o.etag = `"unreadable"`
			return
		}
		o.sha1 = hex.EncodeToString(s.Sum(nil))
		o.etag = fmt.Sprintf("%q", hex.EncodeToString(m.Sum(nil)))
	})
	return o.sha1, o.etag
}

func newStore(seed int64) *store {
	return &store{
		hubByID:      map[string]*hub{},
		projects:     map[string]*project{},
		objects:      map[string]*object{},
		reservations: map[string]*reservation{},
		uploads:      map[string]*upload{},
		completed:    map[string]*upload{},
		rng:          rand.New(rand.NewPCG(uint64(seed), 0x62696d6673)),
	}
}

// uuid returns a random RFC 4122 version 4 UUID string. Caller holds mu.
func (st *store) uuid() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(st.rng.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// short returns a 22-character URL-safe token like the ones in DM URNs.
// Caller holds mu.
func (st *store) short() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(st.rng.Uint32())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (st *store) newFolder(p *project, parent *folder, name string, now time.Time) *folder {
	f := &folder{
		id:       "urn:adsk.wipprod:fs.folder:co." + st.short(),
		name:     name,
		project:  p,
		parent:   parent,
		created:  now,
		modified: now,
	}
	p.folders[f.id] = f
	if parent != nil {
		parent.folders = append(parent.folders, f)
		parent.modified = now
	}
	return f
}

// newObject stores content under a fresh key in bucket. Caller holds mu.
func (st *store) newObject(bucket, name string, c Content, now time.Time) *object {
	key := st.newKey(name)
	o := &object{bucket: bucket, key: key, name: name, content: c, contentType: contentTypeOf(name), created: now, attached: true}
	st.objects[bucket+"/"+key] = o
	return o
}

// newKey returns a fresh object key: a UUID plus the name's extension, as
// POST storage makes them. Caller holds mu.
func (st *store) newKey(name string) string {
	key := st.uuid()
	if ext := strings.ToLower(path.Ext(name)); ext != "" && !strings.ContainsAny(ext, "/ ") {
		key += ext
	}
	return key
}

func contentTypeOf(name string) string {
	if t := mime.TypeByExtension(strings.ToLower(path.Ext(name))); t != "" {
		return t
	}
	return "application/octet-stream"
}

// addVersion appends a new tip version to it. Caller holds mu.
func (st *store) addVersion(it *item, name string, o *object, ext string, now time.Time) *version {
	v := &version{
		id:      fmt.Sprintf("urn:adsk.wipprod:fs.file:vf.%s?version=%d", it.lineage, len(it.versions)+1),
		item:    it,
		number:  len(it.versions) + 1,
		name:    name,
		ext:     ext,
		object:  o,
		created: now,
	}
	it.versions = append(it.versions, v)
	it.modified = now
	it.parent.modified = now
	it.project.versions[v.id] = v
	return v
}

func (it *item) tip() *version { return it.versions[len(it.versions)-1] }

// displayName is the name a listing shows for the item: the tip's name, or
// the name it had before it was deleted.
func (it *item) displayName() string {
	t := it.tip()
	if t.object == nil && t.originalName != "" {
		return t.originalName
	}
	return t.name
}

// pathInProject is the folder path from the project root, e.g.
// "/Project Files/Sub".
func (f *folder) pathInProject() string {
	if f.parent == nil {
		return ""
	}
	return f.parent.pathInProject() + "/" + f.name
}

// visibleCount is the folder's objectCount: children not hidden.
func (f *folder) visibleCount() int {
	n := 0
	for _, c := range f.folders {
		if !c.hidden {
			n++
		}
	}
	for _, it := range f.items {
		if !it.hidden {
			n++
		}
	}
	return n
}

// rollup is the latest modification time in the folder's subtree.
func (f *folder) rollup() time.Time {
	t := f.modified
	for _, c := range f.folders {
		if r := c.rollup(); r.After(t) {
			t = r
		}
	}
	for _, it := range f.items {
		if it.modified.After(t) {
			t = it.modified
		}
	}
	return t
}

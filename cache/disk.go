package cache

import (
	"bytes"
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"
)

// Block file layout (little endian):
//
//	0  magic "bimfsblk"
//	8  format version (uint32)
//	12 data length (uint32)
//	16 block index (uint64)
//	24 CRC-32C of the data (uint32)
//	28 version ID length (uint16)
//	30 reserved
//	32 version ID, then data
//
// Files are written to a temporary name and renamed into place, so a block
// file either does not exist or was written completely. Block files are not
// fsynced: after a crash a file may hold garbage or be short, which the
// length and checksum checks on every read detect, and the file is dropped.
const (
	diskMagic   = "bimfsblk"
	diskFormat  = 1
	diskHdrLen  = 32
	diskSubdir  = "blocks-v1"
	diskTmpDir  = "tmp"
	diskLock    = "lock"
	touchPeriod = time.Minute
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// disk is the disk tier: one file per block under root, named by a hash of
// the key (version IDs contain '/', '?' and ':'), evicted least recently
// used first. The index is rebuilt from the directory at start.
type disk struct {
	root string
	tmp  string
	max  int64
	log  *slog.Logger
	st   *counters
	lock *os.File

	// mu protects the following.
	mu       sync.Mutex
	files    map[string]*list.Element // by file name; values are *diskEntry
	lru      *list.List               // front is most recently used
	total    int64
	lastWarn time.Time
	// room is what the tier may hold now: its bound, lowered while the
	// filesystem it shares with staged uploads runs short (see limit).
	room    int64
	roomAt  time.Time
	reserve int64
}

type diskEntry struct {
	name    string
	size    int64
	touched time.Time
}

func openDisk(dir string, maxBytes int64, log *slog.Logger, st *counters) (*disk, error) {
	d := &disk{
		root:  filepath.Join(dir, diskSubdir),
		tmp:   filepath.Join(dir, diskTmpDir),
		max:   maxBytes,
		log:   log,
		st:    st,
		files: make(map[string]*list.Element),
		lru:   list.New(),
	}
	if err := os.MkdirAll(d.root, 0o700); err != nil {
		return nil, fmt.Errorf("cache: disk tier: %w", err)
	}
	lf, err := os.OpenFile(filepath.Join(dir, diskLock), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cache: disk tier: %w", err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lf.Close()
		return nil, fmt.Errorf("cache: disk tier %s is in use by another process: %w", dir, err)
	}
	d.lock = lf
	// Temporary files are writes that never finished.
	if err := os.RemoveAll(d.tmp); err != nil {
		d.close()
		return nil, fmt.Errorf("cache: disk tier: %w", err)
	}
	if err := os.MkdirAll(d.tmp, 0o700); err != nil {
		d.close()
		return nil, fmt.Errorf("cache: disk tier: %w", err)
	}
	if err := d.scan(); err != nil {
		d.close()
		return nil, err
	}
	var sfs syscall.Statfs_t
	if err := syscall.Statfs(d.root, &sfs); err == nil {
		d.reserve = min(reserveMax, int64(sfs.Blocks)*int64(sfs.Bsize)/reserveFraction)
	}
	d.mu.Lock()
	d.evictLocked("")
	d.mu.Unlock()
	return d, nil
}

// The disk tier leaves free, on the filesystem it lives on, a reserve of a
// tenth of that filesystem (at most reserveMax) for staged uploads: cached
// blocks can be fetched again, written bytes cannot.
const (
	reserveFraction = 10
	reserveMax      = 1 << 30
	roomPeriod      = time.Second
)

// limitLocked is the tier's bound now: Options.DiskBytes, or less when the
// filesystem's free space minus the reserve would not hold that much.
func (d *disk) limitLocked() int64 {
	if time.Since(d.roomAt) < roomPeriod && d.room > 0 {
		return d.room
	}
	d.roomAt = time.Now()
	d.room = d.max
	var st syscall.Statfs_t
	if err := syscall.Statfs(d.root, &st); err == nil {
		free := int64(st.Bavail) * int64(st.Bsize)
		d.room = max(0, min(d.max, d.total+free-d.reserve))
	}
	return d.room
}

// free evicts least recently used blocks until n bytes are free or the
// tier is empty, and returns how many bytes it freed. Staging calls it
// when the disk is full: written data has priority over cached data.
func (d *disk) free(n int64) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	before := d.total
	target := max(0, d.total-n)
	for d.total > target && d.lru.Len() > 0 {
		d.dropLRULocked("")
	}
	d.room, d.roomAt = d.total, time.Now() // stay small until the next check
	return before - d.total
}

// scan rebuilds the index, oldest modification time least recently used.
// Contents are verified lazily, on read.
func (d *disk) scan() error {
	var found []diskEntry
	err := filepath.WalkDir(d.root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		name := e.Name()
		if !validName(name) || filepath.Dir(path) != d.dir(name) {
			d.log.Warn("cache: removing stray file from disk tier", "path", path)
			os.Remove(path)
			return nil
		}
		found = append(found, diskEntry{name: name, size: info.Size(), touched: info.ModTime()})
		return nil
	})
	if err != nil {
		return fmt.Errorf("cache: disk tier scan: %w", err)
	}
	sort.Slice(found, func(i, j int) bool { return found[i].touched.Before(found[j].touched) })
	for i := range found {
		e := found[i]
		d.files[e.name] = d.lru.PushFront(&e)
		d.total += e.size
	}
	return nil
}

func (d *disk) close() error {
	if d.lock == nil {
		return nil
	}
	err := d.lock.Close() // releases the flock
	d.lock = nil
	return err
}

func fileName(k blockKey) string {
	sum := sha256.Sum256([]byte(k.String()))
	return hex.EncodeToString(sum[:20])
}

func validName(name string) bool {
	if len(name) != 40 {
		return false
	}
	_, err := hex.DecodeString(name)
	return err == nil
}

func (d *disk) dir(name string) string  { return filepath.Join(d.root, name[:2]) }
func (d *disk) path(name string) string { return filepath.Join(d.root, name[:2], name) }

// has reports whether the index lists block k with want bytes of data;
// the file's content is verified only when read.
func (d *disk) has(k blockKey, want int64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	el := d.files[fileName(k)]
	return el != nil && el.Value.(*diskEntry).size == diskHdrLen+int64(len(k.version))+want
}

// get reads and verifies block k. A torn or corrupt file is removed; a file
// of another length (a partial block seeded by Put) is merely not used.
func (d *disk) get(k blockKey, want int64) ([]byte, bool) {
	name := fileName(k)
	d.mu.Lock()
	el := d.files[name]
	if el == nil {
		d.mu.Unlock()
		return nil, false
	}
	d.lru.MoveToFront(el)
	e := el.Value.(*diskEntry)
	touch := time.Since(e.touched) > touchPeriod
	if touch {
		e.touched = time.Now()
	}
	d.mu.Unlock()

	path := d.path(name)
	buf, err := os.ReadFile(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			d.log.Warn("cache: cannot read block file", "path", path, "err", err)
		}
		d.drop(name, el, false)
		return nil, false
	}
	data, err := decodeBlock(buf, k)
	if err != nil {
		d.st.diskCorrupt.Add(1)
		d.log.Warn("cache: removing corrupt block file", "path", path, "err", err)
		d.drop(name, el, true)
		return nil, false
	}
	if int64(len(data)) != want {
		return nil, false
	}
	if touch {
		// Keeps the least-recently-used order across restarts.
		now := time.Now()
		os.Chtimes(path, now, now)
	}
	return data, true
}

// drop forgets an index entry (if it is still el) and optionally removes
// its file.
func (d *disk) drop(name string, el *list.Element, remove bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.files[name] != el {
		return // rewritten meanwhile
	}
	if remove {
		os.Remove(d.path(name))
	}
	d.lru.Remove(el)
	delete(d.files, name)
	d.total -= el.Value.(*diskEntry).size
}

// remove deletes block k from the tier.
func (d *disk) remove(k blockKey) {
	name := fileName(k)
	d.mu.Lock()
	el := d.files[name]
	d.mu.Unlock()
	if el != nil {
		d.drop(name, el, true)
	}
}

func decodeBlock(buf []byte, k blockKey) ([]byte, error) {
	if len(buf) < diskHdrLen || string(buf[:8]) != diskMagic {
		return nil, errors.New("bad header")
	}
	le := binary.LittleEndian
	if v := le.Uint32(buf[8:]); v != diskFormat {
		return nil, fmt.Errorf("unknown format %d", v)
	}
	n := int(le.Uint32(buf[12:]))
	idx := int64(le.Uint64(buf[16:]))
	sum := le.Uint32(buf[24:])
	kl := int(le.Uint16(buf[28:]))
	if len(buf) != diskHdrLen+kl+n {
		return nil, fmt.Errorf("file length %d, header says %d", len(buf), diskHdrLen+kl+n)
	}
	if idx != k.index || !bytes.Equal(buf[diskHdrLen:diskHdrLen+kl], []byte(k.version)) {
		return nil, errors.New("holds another block")
	}
	data := buf[diskHdrLen+kl:]
	if crc32.Checksum(data, crcTable) != sum {
		return nil, errors.New("checksum mismatch")
	}
	return data, nil
}

func encodeHeader(k blockKey, data []byte) []byte {
	h := make([]byte, diskHdrLen+len(k.version))
	le := binary.LittleEndian
	copy(h, diskMagic)
	le.PutUint32(h[8:], diskFormat)
	le.PutUint32(h[12:], uint32(len(data)))
	le.PutUint64(h[16:], uint64(k.index))
	le.PutUint32(h[24:], crc32.Checksum(data, crcTable))
	le.PutUint16(h[28:], uint16(len(k.version)))
	copy(h[diskHdrLen:], k.version)
	return h
}

// put writes block k and evicts old blocks beyond the size bound.
func (d *disk) put(k blockKey, data []byte) error {
	if len(k.version) > 0xffff || int64(len(data)) > 0xffffffff {
		return errors.New("block too large for the disk tier")
	}
	name := fileName(k)
	hdr := encodeHeader(k, data)
	size := int64(len(hdr) + len(data))
	if size > d.max {
		return nil // would evict everything else, and itself
	}
	f, err := os.CreateTemp(d.tmp, "blk-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(hdr)
	if err == nil {
		_, err = f.Write(data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, d.path(name))
		if errors.Is(err, fs.ErrNotExist) {
			if err = os.MkdirAll(d.dir(name), 0o700); err == nil {
				err = os.Rename(tmp, d.path(name))
			}
		}
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	if el := d.files[name]; el != nil {
		e := el.Value.(*diskEntry)
		d.total += size - e.size
		e.size, e.touched = size, time.Now()
		d.lru.MoveToFront(el)
	} else {
		d.files[name] = d.lru.PushFront(&diskEntry{name: name, size: size, touched: time.Now()})
		d.total += size
	}
	d.evictLocked(name)
	return nil
}

// evictLocked removes least recently used files until the tier fits its
// bound, sparing keep.
func (d *disk) evictLocked(keep string) {
	limit := d.limitLocked()
	for d.total > limit {
		if !d.dropLRULocked(keep) {
			return
		}
	}
}

// dropLRULocked removes the least recently used block other than keep.
func (d *disk) dropLRULocked(keep string) bool {
	el := d.lru.Back()
	if el == nil {
		return false
	}
	e := el.Value.(*diskEntry)
	if e.name == keep {
		if el = el.Prev(); el == nil {
			return false
		}
		e = el.Value.(*diskEntry)
	}
	if err := os.Remove(d.path(e.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		d.log.Warn("cache: cannot evict block file", "name", e.name, "err", err)
	}
	d.lru.Remove(el)
	delete(d.files, e.name)
	d.total -= e.size
	d.st.diskEvictions.Add(1)
	return true
}

func (d *disk) usage() (bytes, blocks int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.total, int64(len(d.files))
}

// logWriteError reports a failed block write at most once a minute: when
// the disk is full every block fails, and the cache keeps serving from
// memory.
func (d *disk) logWriteError(err error) {
	d.mu.Lock()
	now := time.Now()
	quiet := now.Sub(d.lastWarn) < time.Minute
	if !quiet {
		d.lastWarn = now
	}
	d.mu.Unlock()
	if !quiet {
		d.log.Warn("cache: cannot write to the disk tier; serving from memory", "dir", d.root, "err", err)
	}
}

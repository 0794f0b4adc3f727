package fs

import (
	"crypto/sha256"
	"encoding/hex"
	"path"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bimfs/bimfs/remote"
)

// How remote names become directory entries.
//
// A service may name an object anything: the name may contain '/' or NUL,
// be "." or "..", be longer than a POSIX name may be, or equal a sibling's
// name. The filesystem shows every object under a name that is a valid,
// unique POSIX name, derived only from the object's own name and ID and the
// names of its siblings, so it is the same in every listing whatever order
// the service returns.
//
// Escaping. A remote name is shown verbatim unless it contains '/' or NUL,
// is "", ".", ".." or "%", or already contains one of the escape sequences
// "%25", "%2F", "%00", "%2E" (upper case). Such a name is percent-escaped:
// '%' becomes "%25", '/' "%2F" and NUL "%00"; if the result is "." or ".."
// its dots become "%2E"; the empty name becomes "%". Everything else,
// including a lone '%' as in "50% done.pdf", stays as it is. decodeName
// reverses the mapping exactly: decodeName(encodeName(s)) == s for every s.
//
// Duplicates. When several siblings have the same (escaped) name, each of
// them gets the suffix " (~h)", where h is the first six hex digits of the
// SHA-256 of its remote ID, lengthened by four digits at a time for all the
// siblings whose suffixed names would still clash. For a file the suffix
// goes before the extension ("plan (~1a2b3c).pdf"), for a folder at the
// end. No sibling keeps the bare name: which one would be arbitrary, and a
// path that is ambiguous should fail rather than open the wrong object.
//
// Length. A name longer than maxNameLen bytes is cut at a character
// boundary and gets the same suffix, so it stays unique.
//
// Going back from a shown name to the object always uses the folder's
// listing (see dirTable); decodeName gives the remote name to use for an
// object the filesystem creates.

// maxNameLen is NAME_MAX on Linux, in bytes.
const maxNameLen = 255

// suffixDigits is the initial number of hex digits of a disambiguating suffix.
const suffixDigits = 6

// maxExtLen bounds what counts as an extension when placing the suffix, so
// "report.final version 2" is not split after "report".
const maxExtLen = 16

var escapeSeqs = []string{"%25", "%2F", "%00", "%2E"}

// looksEscaped reports whether decodeName would change s.
func looksEscaped(s string) bool {
	if s == "%" {
		return true
	}
	for _, seq := range escapeSeqs {
		if strings.Contains(s, seq) {
			return true
		}
	}
	return false
}

// encodeName maps a remote name to a POSIX name (before duplicate and
// length handling).
func encodeName(s string) string {
	if s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00") && !looksEscaped(s) {
		return s
	}
	if s == "" {
		return "%"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%':
			b.WriteString("%25")
		case '/':
			b.WriteString("%2F")
		case 0:
			b.WriteString("%00")
		default:
			b.WriteByte(c)
		}
	}
	out := b.String()
	if out == "." || out == ".." {
		out = strings.Repeat("%2E", len(out))
	}
	return out
}

// decodeName is the inverse of encodeName.
func decodeName(s string) string {
	if s == "%" {
		return ""
	}
	if !looksEscaped(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+3 <= len(s) {
			switch s[i : i+3] {
			case "%25":
				b.WriteByte('%')
				i += 2
				continue
			case "%2F":
				b.WriteByte('/')
				i += 2
				continue
			case "%00":
				b.WriteByte(0)
				i += 2
				continue
			case "%2E":
				b.WriteByte('.')
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// idHash is the hex SHA-256 of a remote ID, the source of suffixes.
func idHash(id remote.ID) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// splitExt splits a file name into base and extension for suffix placement.
func splitExt(name string, dir bool) (base, ext string) {
	if dir {
		return name, ""
	}
	ext = path.Ext(name)
	if ext == name || len(ext) > maxExtLen || strings.ContainsAny(ext, " %") {
		return name, ""
	}
	return name[:len(name)-len(ext)], ext
}

// withSuffix builds "base (~h)ext", cutting base so the result fits.
func withSuffix(name string, dir bool, h string) string {
	base, ext := splitExt(name, dir)
	suffix := " (~" + h + ")"
	if len(ext)+len(suffix) > maxNameLen/2 {
		ext = ""
	}
	room := maxNameLen - len(suffix) - len(ext)
	if len(base) > room {
		base = truncateUTF8(base, room)
	}
	return base + suffix + ext
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// assignNames returns the shown name of each entry, index for index.
func assignNames(entries []remote.Entry) []string {
	names := make([]string, len(entries))
	count := make(map[string]int, len(entries))
	for i, e := range entries {
		names[i] = encodeName(e.Name)
		count[names[i]]++
	}
	taken := make(map[string]bool, len(entries))
	var pending []int
	for i, n := range names {
		if count[n] > 1 || len(n) > maxNameLen {
			pending = append(pending, i)
		} else {
			taken[n] = true
		}
	}
	if len(pending) == 0 {
		return names
	}
	hashes := make(map[int]string, len(pending))
	for _, i := range pending {
		hashes[i] = idHash(entries[i].ID)
	}
	// Lengthen the suffixes of exactly those entries whose candidates
	// still clash, so the outcome does not depend on entry order.
	for digits := suffixDigits; len(pending) > 0; digits += 4 {
		cand := make(map[int]string, len(pending))
		clash := map[string]int{}
		for _, i := range pending {
			h := hashes[i]
			if digits < len(h) {
				h = h[:digits]
			}
			cand[i] = withSuffix(names[i], entries[i].Dir, h)
			clash[cand[i]]++
		}
		var next []int
		for _, i := range pending {
			c := cand[i]
			// Two entries with the same ID cannot be told apart; stop
			// lengthening once the whole hash is used.
			if (clash[c] > 1 || taken[c]) && digits < len(hashes[i]) {
				next = append(next, i)
				continue
			}
			names[i] = c
		}
		for _, i := range pending {
			if names[i] == cand[i] {
				taken[names[i]] = true
			}
		}
		pending = next
	}
	return names
}

// dirTable is one listing of a folder with the names the filesystem shows,
// sorted by name (byte order) so readdir is stable across calls.
type dirTable struct {
	at      time.Time // when cache.Meta fetched the listing
	dirs    int       // how many entries are folders
	names   []string
	entries []remote.Entry
	byName  map[string]int
	byID    map[remote.ID]int

	// The listing (identified by its backing array and length, as
	// cache.Meta never changes a listing in place) and the staged files
	// (by signature) the table was built from.
	srcData *remote.Entry
	srcLen  int
	srcSig  string
}

func sliceData(entries []remote.Entry) *remote.Entry {
	if len(entries) == 0 {
		return nil
	}
	return &entries[0]
}

// setSource records what the table was built from.
func (t *dirTable) setSource(entries []remote.Entry, stagedSig string) {
	t.srcData, t.srcLen, t.srcSig = sliceData(entries), len(entries), stagedSig
}

// sameSource reports whether the table was built from exactly this
// listing and these staged files.
func (t *dirTable) sameSource(entries []remote.Entry, stagedSig string) bool {
	return t.srcData == sliceData(entries) && t.srcLen == len(entries) && t.srcSig == stagedSig
}

func newDirTable(entries []remote.Entry, at time.Time) *dirTable {
	names := assignNames(entries)
	order := make([]int, len(entries))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return names[order[a]] < names[order[b]] })
	t := &dirTable{
		at:      at,
		names:   make([]string, len(entries)),
		entries: make([]remote.Entry, len(entries)),
		byName:  make(map[string]int, len(entries)),
		byID:    make(map[remote.ID]int, len(entries)),
	}
	for k, i := range order {
		t.names[k] = names[i]
		t.entries[k] = entries[i]
		t.byName[names[i]] = k
		t.byID[entries[i].ID] = k
		if entries[i].Dir {
			t.dirs++
		}
	}
	return t
}

// lookup finds the entry shown under name.
func (t *dirTable) lookup(name string) (remote.Entry, bool) {
	i, ok := t.byName[name]
	if !ok {
		return remote.Entry{}, false
	}
	return t.entries[i], true
}

// find finds an entry by remote ID and returns it with its shown name.
func (t *dirTable) find(id remote.ID) (remote.Entry, string, bool) {
	i, ok := t.byID[id]
	if !ok {
		return remote.Entry{}, "", false
	}
	return t.entries[i], t.names[i], true
}

// nameTooLong is the error for a name over NAME_MAX bytes.
func nameTooLong(op, name string) error {
	return remote.Errorf(remote.NameTooLong, op, "a name may have at most %d bytes; this one has %d", maxNameLen, len(name))
}

// remoteName checks a name a user gives a new or renamed object and
// returns the name to send to the service. It refuses, with the rule in
// the error:
//   - names over NAME_MAX bytes (NameTooLong);
//   - names that are not in canonical escaped form, such as "rate%25.txt"
//     typed for a file that would then be listed as "rate%.txt": a name
//     is taken as escaped only if escaping its decoded form gives it back,
//     so no name ever silently turns into another (Invalid);
//   - names the service refuses, if its writer says so up front (Invalid).
func (a *account) remoteName(op, name string) (string, error) {
	if len(name) > maxNameLen {
		return "", nameTooLong(op, name)
	}
	dec := decodeName(name)
	if encodeName(dec) != name {
		return "", remote.Errorf(remote.Invalid, op,
			"name %q contains an escape sequence (%%25, %%2F, %%00, %%2E) that would name %q; type that name instead", name, encodeName(dec))
	}
	if c, ok := a.writer.(remote.NameChecker); ok {
		if err := c.CheckName(dec); err != nil {
			return "", err
		}
	}
	return dec, nil
}

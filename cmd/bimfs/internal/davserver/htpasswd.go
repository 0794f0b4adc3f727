package davserver

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Htpasswd is a set of users with bcrypt password hashes, as written by
// `htpasswd -B` (Apache's tools). The file format is two fields a line and
// is parsed here; the hashes are checked with golang.org/x/crypto/bcrypt,
// the Go project's implementation. Other hash schemes (MD5 "$apr1$", SHA1
// "{SHA}", crypt) are refused when the file is read: they are too cheap
// to guess.
type Htpasswd struct {
	users map[string][]byte
	// dummy is compared against for unknown users, so a wrong name takes
	// as long as a wrong password (it has the cost of the file's hashes).
	dummy []byte

	// mu protects verified: hashes of user and password that matched,
	// with when they stop counting. bcrypt costs tens of milliseconds by
	// design and WebDAV clients send many small requests.
	mu       sync.Mutex
	verified map[[32]byte]time.Time
}

// verifiedFor is how long a checked password is remembered.
const verifiedFor = 5 * time.Minute

// maxVerified bounds the memory of checked passwords.
const maxVerified = 1024

// LoadHtpasswd reads an htpasswd file. Errors name the line, never the
// hash.
func LoadHtpasswd(path string) (*Htpasswd, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("htpasswd file: %w", err)
	}
	return ParseHtpasswd(path, data)
}

// ParseHtpasswd parses htpasswd content; name is used in errors.
func ParseHtpasswd(name string, data []byte) (*Htpasswd, error) {
	h := &Htpasswd{users: map[string][]byte{}, verified: map[[32]byte]time.Time{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		user, hash, ok := strings.Cut(text, ":")
		if !ok || user == "" || hash == "" {
			return nil, fmt.Errorf("%s line %d: want user:hash", name, line)
		}
		if !strings.HasPrefix(hash, "$2a$") && !strings.HasPrefix(hash, "$2b$") && !strings.HasPrefix(hash, "$2y$") {
			return nil, fmt.Errorf("%s line %d (user %s): not a bcrypt hash; create it with htpasswd -B", name, line, user)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("%s line %d (user %s): malformed bcrypt hash", name, line, user)
		}
		if _, dup := h.users[user]; dup {
			return nil, fmt.Errorf("%s line %d: user %s appears twice", name, line, user)
		}
		h.users[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(h.users) == 0 {
		return nil, fmt.Errorf("%s has no users", name)
	}
	cost := bcrypt.DefaultCost
	for _, hash := range h.users {
		cost, _ = bcrypt.Cost(hash) // checked above
		break
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("no such user"), cost)
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

// Check reports whether password is user's.
func (h *Htpasswd) Check(user, password string) bool {
	key := sha256.Sum256([]byte(user + "\x00" + password))
	now := time.Now()
	h.mu.Lock()
	until, ok := h.verified[key]
	h.mu.Unlock()
	if ok && now.Before(until) {
		return true
	}
	hash, known := h.users[user]
	if !known {
		hash = h.dummy
	}
	match := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	if !known || !match {
		return false
	}
	h.mu.Lock()
	if len(h.verified) >= maxVerified {
		clear(h.verified)
	}
	h.verified[key] = now.Add(verifiedFor)
	h.mu.Unlock()
	return true
}

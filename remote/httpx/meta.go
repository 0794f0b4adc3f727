package httpx

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// MetaPath is the file beside the token file that keeps service data which
// belongs to the login but is not part of an OAuth2 token (for example the
// user ID a token response returned once). oauth2.Token drops such extra
// fields when it is marshalled, so they live here.
func (s *TokenStore) MetaPath() string {
	return strings.TrimSuffix(s.Path, ".json") + ".meta.json"
}

// SaveMeta writes v as JSON to MetaPath with the same care as Save: mode
// 0600, directory 0700, atomic replace.
func (s *TokenStore) SaveMeta(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writePrivate(s.MetaPath(), b)
}

// LoadMeta reads MetaPath into v. A missing file returns an error for which
// errors.Is(err, os.ErrNotExist) holds.
func (s *TokenStore) LoadMeta(v any) error {
	b, err := os.ReadFile(s.MetaPath())
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("login data %s is corrupt: %w", s.MetaPath(), err)
	}
	return nil
}

// DeleteMeta removes MetaPath; a missing file is not an error.
func (s *TokenStore) DeleteMeta() error {
	err := os.Remove(s.MetaPath())
	if os.IsNotExist(err) {
		return nil
	}
	return err
}

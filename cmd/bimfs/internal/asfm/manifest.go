// Package asfm reads, checks and updates Autodesk Source File Manifests
// (.asfm): the JSON files ArcGIS Pro writes beside data it downloaded from
// BIM 360, naming the project, item and version the data came from.
//
// A manifest is a JSON object with at least
//
//	{"ProjectId": "b.…", "ItemId": "urn:adsk.wipprod:dm.lineage:…",
//	 "Version": 3, "SourceFileName": "Site Plan.dwg"}
//
// Version may be a number or a string holding one. Any other keys are
// kept: an update changes the bytes of the Version value and nothing else,
// so key order, spacing and unknown keys survive.
package asfm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
)

// Manifest is one parsed .asfm file.
type Manifest struct {
	ProjectID      string
	ItemID         string
	Version        int
	SourceFileName string

	raw []byte
	// versionStart and versionEnd delimit the Version value in raw.
	versionStart, versionEnd int
	versionIsString          bool
}

// Keys of a manifest, as ArcGIS Pro writes them.
const (
	keyProject = "ProjectId"
	keyItem    = "ItemId"
	keyVersion = "Version"
	keySource  = "SourceFileName"
)

// Parse reads a manifest. It walks the top-level object token by token so
// it knows where the Version value is in data.
func Parse(data []byte) (*Manifest, error) {
	m := &Manifest{raw: bytes.Clone(data), versionStart: -1}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("bad JSON: %w", err)
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, fmt.Errorf("bad JSON value of %q: %w", key, err)
		}
		end := int(dec.InputOffset())
		if seen[key] {
			return nil, fmt.Errorf("key %q appears twice", key)
		}
		seen[key] = true
		switch key {
		case keyProject:
			err = json.Unmarshal(val, &m.ProjectID)
		case keyItem:
			err = json.Unmarshal(val, &m.ItemID)
		case keySource:
			err = json.Unmarshal(val, &m.SourceFileName)
		case keyVersion:
			m.versionEnd = end
			m.versionStart = end - len(val)
			m.Version, m.versionIsString, err = parseVersion(val)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("bad JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the JSON object")
	}
	var missing []string
	for _, k := range []string{keyProject, keyItem, keyVersion, keySource} {
		if !seen[k] {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	if m.ProjectID == "" || m.ItemID == "" {
		return nil, fmt.Errorf("empty %s or %s", keyProject, keyItem)
	}
	if _, err := m.SourcePath("."); err != nil {
		return nil, err
	}
	return m, nil
}

func parseVersion(val json.RawMessage) (n int, quoted bool, err error) {
	s := string(val)
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(val, &s); err != nil {
			return 0, false, err
		}
		quoted = true
	}
	n, err = strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0, false, fmt.Errorf("%s is not a version number", val)
	}
	return n, quoted, nil
}

// SourcePath is where the manifest's data lives: SourceFileName relative
// to dir, the manifest's folder. Names that would leave that folder are
// refused, so a manifest cannot make an update overwrite other files.
func (m *Manifest) SourcePath(dir string) (string, error) {
	name := m.SourceFileName
	clean := filepath.Clean(filepath.FromSlash(strings.ReplaceAll(name, `\`, "/")))
	if name == "" || filepath.IsAbs(clean) || clean == "." || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s %q does not name a file in the manifest's folder", keySource, name)
	}
	return filepath.Join(dir, clean), nil
}

// WithVersion returns the manifest's bytes with Version set to n, in the
// form (number or string) it had; every other byte is unchanged.
func (m *Manifest) WithVersion(n int) []byte {
	v := strconv.Itoa(n)
	if m.versionIsString {
		v = strconv.Quote(v)
	}
	out := make([]byte, 0, len(m.raw)+len(v))
	out = append(out, m.raw[:m.versionStart]...)
	out = append(out, v...)
	return append(out, m.raw[m.versionEnd:]...)
}

// New returns the bytes of a new manifest, keys in ArcGIS Pro's order.
func New(projectID, itemID string, version int, sourceFileName string) []byte {
	var b bytes.Buffer
	enc := func(v any) string {
		j, _ := json.Marshal(v)
		return string(j)
	}
	fmt.Fprintf(&b, "{\n  %q: %s,\n  %q: %s,\n  %q: %d,\n  %q: %s\n}\n",
		keyProject, enc(projectID), keyItem, enc(itemID), keyVersion, version, keySource, enc(sourceFileName))
	return b.Bytes()
}

package assets

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// File names of the Assets folder, in listing order.
const (
	FileAssetsJSON          = "assets.json"
	FileAssetsCSV           = "assets.csv"
	FileCategories          = "categories.json"
	FileStatusStepSets      = "status-step-sets.json"
	FileAssetStatuses       = "asset-statuses.json"
	FileCustomAttributes    = "custom-attributes.json"
	FileCategoryAssignments = "category-assignments.json"
	FileLocations           = "locations.json"
	FileRelationships       = "relationships.json"
)

// FileNames lists the files of an Assets folder.
var FileNames = []string{FileAssetsCSV, FileAssetsJSON, FileAssetStatuses, FileCategories,
	FileCategoryAssignments, FileCustomAttributes, FileLocations, FileRelationships, FileStatusStepSets}

// BuiltinColumns are the first columns of assets.csv: the asset's own
// fields, then the category path (names from the top category down, the
// automatic ROOT left out, joined with " > ") and the status label. One
// column per custom attribute follows, headed by its display name.
var BuiltinColumns = []string{"id", "clientAssetId", "description", "barcode", "categoryId", "statusId",
	"locationId", "companyId", "isActive", "version", "createdAt", "createdBy", "updatedAt", "updatedBy",
	"categoryPath", "status"}

// Snapshot is one consistent fetch of a project's Assets data rendered as
// files. Each file's version is a hash of its content.
type Snapshot struct {
	At       time.Time
	Files    map[string][]byte
	Versions map[string]string // file name → content hash
	Assets   int               // number of assets
}

// raw views of the fields the CSV needs; the JSON files keep every field.
type assetView struct {
	ID               string         `json:"id"`
	CategoryID       string         `json:"categoryId"`
	StatusID         string         `json:"statusId"`
	CustomAttributes map[string]any `json:"customAttributes"`
}

type categoryView struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	ParentID string `json:"parentId"`
	IsRoot   bool   `json:"isRoot"`
}

type statusView struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

type attributeView struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	DataType    string `json:"dataType"`
}

// Fetch reads everything from the service, in a fixed order, and renders
// the snapshot. Calls: one per page of assets, categories, status step
// sets, asset statuses, custom attributes, location nodes and
// relationships, one batch-get per 100 categories, and one per category
// for its custom attributes.
func Fetch(ctx context.Context, c *Client, projectID, locationsContainer string, now time.Time) (*Snapshot, error) {
	pid := ProjectID(projectID)
	assets, err := c.Assets.List(ctx, pid)
	if err != nil {
		return nil, err
	}
	cats, err := c.Assets.Categories(ctx, pid)
	if err != nil {
		return nil, err
	}
	sets, err := c.Assets.StatusStepSets(ctx, pid)
	if err != nil {
		return nil, err
	}
	statuses, err := c.Assets.Statuses(ctx, pid)
	if err != nil {
		return nil, err
	}
	attrs, err := c.Assets.CustomAttributes(ctx, pid)
	if err != nil {
		return nil, err
	}
	catViews := make([]categoryView, len(cats))
	ids := make([]string, len(cats))
	for i, raw := range cats {
		if err := json.Unmarshal(raw, &catViews[i]); err != nil {
			return nil, malformed("category", err)
		}
		ids[i] = catViews[i].ID
	}
	setOf, err := c.Assets.CategoryStatusStepSets(ctx, pid, ids)
	if err != nil {
		return nil, err
	}
	setByCat := map[string]string{}
	for _, a := range setOf {
		setByCat[a.CategoryID] = a.StatusStepSetID
	}
	paths := categoryPaths(catViews)
	type assignment struct {
		CategoryID       string            `json:"categoryId"`
		CategoryPath     string            `json:"categoryPath"`
		StatusStepSetID  string            `json:"statusStepSetId,omitempty"`
		CustomAttributes []json.RawMessage `json:"customAttributes"`
	}
	assignments := make([]assignment, 0, len(cats))
	for _, cv := range catViews {
		ca, err := c.Assets.CategoryCustomAttributes(ctx, pid, cv.ID)
		if err != nil {
			return nil, err
		}
		if ca == nil {
			ca = []json.RawMessage{}
		}
		assignments = append(assignments, assignment{CategoryID: cv.ID, CategoryPath: paths[cv.ID],
			StatusStepSetID: setByCat[cv.ID], CustomAttributes: ca})
	}
	nodes, err := c.Locations.Nodes(ctx, locationsContainer)
	if err != nil {
		return nil, err
	}
	rels, err := c.Relationships.Search(ctx, pid)
	if err != nil {
		return nil, err
	}

	s := &Snapshot{At: now, Files: map[string][]byte{}, Versions: map[string]string{}, Assets: len(assets)}
	put := func(name string, v any) error {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return malformed(name, err)
		}
		s.Files[name] = append(b, '\n')
		return nil
	}
	for name, v := range map[string]any{
		FileAssetsJSON: nonNil(assets), FileCategories: nonNil(cats), FileStatusStepSets: nonNil(sets),
		FileAssetStatuses: nonNil(statuses), FileCustomAttributes: nonNil(attrs),
		FileCategoryAssignments: assignments, FileLocations: nonNil(nodes), FileRelationships: nonNil(rels),
	} {
		if err := put(name, v); err != nil {
			return nil, err
		}
	}
	table, err := assetsCSV(assets, paths, statuses, sets, attrs)
	if err != nil {
		return nil, err
	}
	s.Files[FileAssetsCSV] = table
	for name, b := range s.Files {
		sum := sha256.Sum256(b)
		s.Versions[name] = "assets:" + hex.EncodeToString(sum[:16])
	}
	return s, nil
}

func nonNil(v []json.RawMessage) []json.RawMessage {
	if v == nil {
		return []json.RawMessage{}
	}
	return v
}

func malformed(what string, err error) error {
	return remoteErrorf("malformed %s in the Assets answer: %v", what, err)
}

// categoryPaths names each category by its path from the top, the
// automatic ROOT category left out.
func categoryPaths(cats []categoryView) map[string]string {
	byID := map[string]categoryView{}
	for _, c := range cats {
		byID[c.ID] = c
	}
	out := map[string]string{}
	for _, c := range cats {
		var parts []string
		seen := map[string]bool{}
		for cur, ok := c, true; ok && !seen[cur.ID]; cur, ok = byID[cur.ParentID] {
			seen[cur.ID] = true
			if cur.IsRoot || (cur.ParentID == "" && cur.Name == "ROOT") {
				break
			}
			parts = append(parts, cur.Name)
		}
		for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
			parts[i], parts[j] = parts[j], parts[i]
		}
		out[c.ID] = strings.Join(parts, " > ")
	}
	return out
}

// assetsCSV renders one row per asset (RFC 4180, UTF-8, header row).
func assetsCSV(assets []json.RawMessage, paths map[string]string, statuses, sets, attrs []json.RawMessage) ([]byte, error) {
	label := map[string]string{}
	for _, raw := range statuses {
		var st statusView
		if json.Unmarshal(raw, &st) == nil && st.ID != "" {
			label[st.ID] = st.Label
		}
	}
	for _, raw := range sets { // statuses nested in their sets, for servers that list them only there
		var set struct {
			Values []statusView `json:"values"`
		}
		if json.Unmarshal(raw, &set) == nil {
			for _, st := range set.Values {
				if _, ok := label[st.ID]; !ok && st.ID != "" {
					label[st.ID] = st.Label
				}
			}
		}
	}
	var cols []attributeView
	for _, raw := range attrs {
		var a attributeView
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, malformed("custom attribute", err)
		}
		if a.Name != "" {
			cols = append(cols, a)
		}
	}
	header := append([]string(nil), BuiltinColumns...)
	used := map[string]int{}
	for _, h := range header {
		used[h]++
	}
	for _, a := range cols {
		h := a.DisplayName
		if h == "" {
			h = a.Name
		}
		if used[h] > 0 { // two attributes (or a built-in) share a display name
			h = fmt.Sprintf("%s (%s)", h, a.Name)
		}
		used[h]++
		header = append(header, h)
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(header); err != nil {
		return nil, err
	}
	row := make([]string, len(header))
	for _, raw := range assets {
		var fields map[string]any
		var v assetView
		if err := json.Unmarshal(raw, &fields); err != nil {
			return nil, malformed("asset", err)
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, malformed("asset", err)
		}
		for i, c := range BuiltinColumns {
			switch c {
			case "categoryPath":
				row[i] = paths[v.CategoryID]
			case "status":
				row[i] = label[v.StatusID]
			default:
				row[i] = cell(fields[c])
			}
		}
		for i, a := range cols {
			row[len(BuiltinColumns)+i] = cell(v.CustomAttributes[a.Name])
		}
		if err := w.Write(row); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// cell renders one JSON value as CSV text: strings as they are, numbers
// and booleans as JSON writes them, lists (multi-select) joined by "; ",
// null and absent as empty.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = cell(e)
		}
		return strings.Join(parts, "; ")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// sortedNames returns the snapshot's file names in listing order.
func (s *Snapshot) sortedNames() []string {
	names := make([]string, 0, len(s.Files))
	for n := range s.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

package bim360

import (
	"bytes"
	"encoding/json"
	"time"
)

// Wire types shared by the Data Management responses (JSON:API). Fields the
// filesystem does not need are left out; absent values decode as zero.

// Link is a JSON:API link object.
type Link struct {
	Href string `json:"href"`
}

// Links holds a response's self link and, for paginated listings, first,
// prev and next. An empty Next.Href means the listing is complete.
type Links struct {
	Self  Link `json:"self"`
	First Link `json:"first"`
	Prev  Link `json:"prev"`
	Next  Link `json:"next"`
}

// ResourceID is a JSON:API resource identifier ({type, id}).
type ResourceID struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// Relationship is a to-one relationship: its data and, for storage, a meta
// link. Clients must not build download URLs from Meta.Link: the notes and
// spec examples show its bucket disagreeing with Data.ID.
type Relationship struct {
	Data ResourceID `json:"data"`
	Meta struct {
		Link Link `json:"link"`
	} `json:"meta"`
}

// Extension is the "extension" attribute naming a resource's subtype, e.g.
// "items:autodesk.bim360:File" or "versions:autodesk.core:Deleted".
type Extension struct {
	Type    string          `json:"type"`
	Version string          `json:"version"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// Time is a timestamp as the Data Management API writes it. The API mixes
// "2015-11-27T11:11:23.000Z", seven fraction digits and "+00:00" offsets;
// all are RFC 3339. An empty or unparsable value decodes as the zero time
// rather than failing the whole listing.
type Time struct{ time.Time }

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' && bytes.IndexByte(b, '\\') < 0 {
		s = string(b[1 : len(b)-1]) // the common case, without a nested decode
	} else if bytes.Equal(b, []byte("null")) || json.Unmarshal(b, &s) != nil {
		s = ""
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Time = time.Time{}
		return nil
	}
	t.Time = v
	return nil
}

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte(`""`), nil
	}
	return json.Marshal(t.UTC().Format(time.RFC3339Nano))
}

// JSONAPI is the "jsonapi" member of every response and request body.
type JSONAPI struct {
	Version string `json:"version"`
}

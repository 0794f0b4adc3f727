package emulator

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Wire types of the Data Management JSON:API documents. Field names and
// nesting follow datamanagement.yaml (Hubs, Projects, TopFolders, Folder,
// FolderContents, Item, ItemTip, Versions, Version).

type jsonAPI struct {
	Version string `json:"version"`
}

var jsonAPIv1 = jsonAPI{Version: "1.0"}

type link struct {
	Href string `json:"href"`
}

type selfLinks struct {
	Self    link  `json:"self"`
	WebView *link `json:"webView,omitempty"`
}

// pageLinks is PaginationInfo / FolderContents.links: first, prev and next
// appear only when the result spans several pages; next is absent on the
// last page.
type pageLinks struct {
	Self  link  `json:"self"`
	First *link `json:"first,omitempty"`
	Prev  *link `json:"prev,omitempty"`
	Next  *link `json:"next,omitempty"`
}

type typeID struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type relatedLinks struct {
	Related link `json:"related"`
}

type metaLink struct {
	Link link `json:"link"`
}

// rel is a relationship with optional data, related link and meta link.
type rel struct {
	Data  *typeID       `json:"data,omitempty"`
	Links *relatedLinks `json:"links,omitempty"`
	Meta  *metaLink     `json:"meta,omitempty"`
}

type linksOnly struct {
	Links relatedLinks `json:"links"`
}

type refsRel struct {
	Links struct {
		Self    link `json:"self"`
		Related link `json:"related"`
	} `json:"links"`
}

type selfRel struct {
	Links struct {
		Self link `json:"self"`
	} `json:"links"`
}

type extension struct {
	Type    string         `json:"type"`
	Version string         `json:"version"`
	Schema  link           `json:"schema"`
	Data    map[string]any `json:"data"`
}

type resource struct {
	Type          string    `json:"type"`
	ID            string    `json:"id"`
	Attributes    any       `json:"attributes"`
	Links         selfLinks `json:"links"`
	Relationships any       `json:"relationships,omitempty"`
}

type hubAttributes struct {
	Name      string    `json:"name"`
	Extension extension `json:"extension"`
	Region    string    `json:"region"`
}

type hubRelationships struct {
	Projects linksOnly `json:"projects"`
}

type projectAttributes struct {
	Name      string    `json:"name"`
	Scopes    []string  `json:"scopes"`
	Extension extension `json:"extension"`
}

type projectRelationships struct {
	Hub        rel       `json:"hub"`
	RootFolder rel       `json:"rootFolder"`
	TopFolders linksOnly `json:"topFolders"`
}

// auditAttributes are the creation and modification fields that folder,
// item and version attributes share. Embedded without a tag, encoding/json
// writes them inline, in this order, where the embedding stands.
type auditAttributes struct {
	CreateTime           string `json:"createTime"`
	CreateUserID         string `json:"createUserId"`
	CreateUserName       string `json:"createUserName"`
	LastModifiedTime     string `json:"lastModifiedTime"`
	LastModifiedUserID   string `json:"lastModifiedUserId"`
	LastModifiedUserName string `json:"lastModifiedUserName"`
}

// demoAudit is the audit block of a resource created and last modified at
// the given times, by the emulator's one user.
func demoAudit(created, modified time.Time) auditAttributes {
	return auditAttributes{
		CreateTime: dmTime(created), CreateUserID: demoUserID, CreateUserName: demoUserName,
		LastModifiedTime: dmTime(modified), LastModifiedUserID: demoUserID, LastModifiedUserName: demoUserName,
	}
}

type folderAttributes struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	ObjectCount int    `json:"objectCount"`
	auditAttributes
	LastModifiedTimeRollup string    `json:"lastModifiedTimeRollup"`
	Hidden                 bool      `json:"hidden"`
	Extension              extension `json:"extension"`
}

type folderRelationships struct {
	Parent   rel       `json:"parent"`
	Refs     refsRel   `json:"refs"`
	Links    selfRel   `json:"links"`
	Contents linksOnly `json:"contents"`
}

type itemAttributes struct {
	DisplayName string `json:"displayName"`
	auditAttributes
	Hidden        bool      `json:"hidden"`
	Reserved      bool      `json:"reserved"`
	Extension     extension `json:"extension"`
	PathInProject string    `json:"pathInProject,omitempty"`
}

type itemRelationships struct {
	Tip      rel       `json:"tip"`
	Versions linksOnly `json:"versions"`
	Parent   rel       `json:"parent"`
	Refs     refsRel   `json:"refs"`
	Links    selfRel   `json:"links"`
}

type versionAttributes struct {
	Name          string `json:"name"`
	DisplayName   string `json:"displayName"`
	VersionNumber int    `json:"versionNumber"`
	auditAttributes
	MimeType    string    `json:"mimeType,omitempty"`
	FileType    string    `json:"fileType,omitempty"`
	StorageSize *int64    `json:"storageSize,omitempty"`
	Extension   extension `json:"extension"`
}

type versionRelationships struct {
	Item    rel     `json:"item"`
	Refs    refsRel `json:"refs"`
	Links   selfRel `json:"links"`
	Storage *rel    `json:"storage,omitempty"`
}

// document is a JSON:API top-level document.
type document struct {
	JSONAPI  jsonAPI    `json:"jsonapi"`
	Links    any        `json:"links"`
	Data     any        `json:"data"`
	Included []resource `json:"included,omitempty"`
}

type apiError struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Code   string `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
}

// writeDMError sends a JSON:API error document. The spec leaves DM error
// bodies nearly unspecified ({id}); this is the common JSON:API shape.
func writeDMError(w http.ResponseWriter, status int, code, title, detail string) {
	writeJSON(w, status, struct {
		JSONAPI jsonAPI    `json:"jsonapi"`
		Errors  []apiError `json:"errors"`
	}{jsonAPIv1, []apiError{{ID: randomUUID(), Status: itoa(status), Code: code, Title: title, Detail: detail}}})
}

// encodeID escapes an ID for use as one path segment the way APS does:
// ':' → %3A, '?' → %3F, '=' → %3D.
func encodeID(id string) string {
	return strings.ReplaceAll(url.QueryEscape(id), "+", "%20")
}

// dmTime renders times like BIM 360 Docs does (seven fractional digits).
func dmTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.0000000Z")
}

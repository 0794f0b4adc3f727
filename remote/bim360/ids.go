package bim360

import (
	"strings"

	"github.com/bimfs/bimfs/remote"
)

// Entry IDs encode what later calls need, so Stat, List and ReadRange work
// from an ID alone without a lookup table that a restart would lose. They
// are built from APS IDs, which never change on rename, move or new
// version, so the entry IDs are stable too:
//
//	account              "acct"
//	hub                  "h|<hubID>"
//	project              "p|<hubID>|<projectID>"
//	folder               "f|<projectID>|<folderURN>"
//	item (file)          "i|<projectID>|<itemURN>"
//
// The last field is taken verbatim (it may contain any character); earlier
// fields never contain "|" (hub and project IDs are "b.<uuid>"), and IDs
// that would break that are not listed.
const rootID remote.ID = "acct"

type idKind byte

const (
	kindAccount idKind = 'a'
	kindHub     idKind = 'h'
	kindProject idKind = 'p'
	kindFolder  idKind = 'f'
	kindItem    idKind = 'i'
)

// entryID is a decoded remote.ID.
type entryID struct {
	kind    idKind
	hub     string // hubs and projects
	project string // projects, folders, items
	folder  string // folders
	item    string // items
}

func hubID(hub string) (remote.ID, bool) {
	if hub == "" || strings.Contains(hub, "|") {
		return "", false
	}
	return remote.ID("h|" + hub), true
}

func projectID(hub, project string) (remote.ID, bool) {
	if hub == "" || project == "" || strings.Contains(hub, "|") {
		return "", false
	}
	return remote.ID("p|" + hub + "|" + project), true
}

func folderID(project, folder string) (remote.ID, bool) {
	if project == "" || folder == "" || strings.Contains(project, "|") {
		return "", false
	}
	return remote.ID("f|" + project + "|" + folder), true
}

func itemID(project, item string) (remote.ID, bool) {
	if project == "" || item == "" || strings.Contains(project, "|") {
		return "", false
	}
	return remote.ID("i|" + project + "|" + item), true
}

// parseID decodes id; ok is false for IDs this backend never issued.
func parseID(id remote.ID) (e entryID, ok bool) {
	s := string(id)
	if id == rootID {
		return entryID{kind: kindAccount}, true
	}
	if len(s) < 2 || s[1] != '|' {
		return e, false
	}
	switch idKind(s[0]) {
	case kindHub:
		e = entryID{kind: kindHub, hub: s[2:]}
		return e, e.hub != ""
	case kindProject:
		a, b, found := strings.Cut(s[2:], "|")
		e = entryID{kind: kindProject, hub: a, project: b}
		return e, found && a != "" && b != ""
	case kindFolder:
		a, b, found := strings.Cut(s[2:], "|")
		e = entryID{kind: kindFolder, project: a, folder: b}
		return e, found && a != "" && b != ""
	case kindItem:
		a, b, found := strings.Cut(s[2:], "|")
		e = entryID{kind: kindItem, project: a, item: b}
		return e, found && a != "" && b != ""
	}
	return e, false
}

package dataconnector

import (
	"sort"
	"strings"

	"github.com/bimfs/bimfs/remote"
)

// Entry IDs below the folder (all start with Prefix; hub, request and job
// IDs never contain "|", a file name is taken verbatim as the last field):
//
//	Data Connector        "dc:<hubID>"
//	<request>             "dc:<hubID>|r|<requestID>"
//	<request>/latest      "dc:<hubID>|l|<requestID>"
//	<request>/<job>       "dc:<hubID>|j|<requestID>|<jobID>"
//	<job>/<file>          "dc:<hubID>|f|<requestID>|<jobID>|<name>"
//	latest/<file>         "dc:<hubID>|lf|<requestID>|<jobID>|<name>"
//
// A file below latest has its own ID (one parent per ID) but the version of
// the job's file, so both share cached bytes.
const Prefix = "dc:"

type nodeKind string

const (
	nodeTop        nodeKind = ""
	nodeRequest    nodeKind = "r"
	nodeLatest     nodeKind = "l"
	nodeJob        nodeKind = "j"
	nodeFile       nodeKind = "f"
	nodeLatestFile nodeKind = "lf"
)

type node struct {
	kind              nodeKind
	hub, request, job string
	name              string
}

func (n node) id() remote.ID {
	s := Prefix + n.hub
	switch n.kind {
	case nodeRequest, nodeLatest:
		s += "|" + string(n.kind) + "|" + n.request
	case nodeJob:
		s += "|j|" + n.request + "|" + n.job
	case nodeFile, nodeLatestFile:
		s += "|" + string(n.kind) + "|" + n.request + "|" + n.job + "|" + n.name
	}
	return remote.ID(s)
}

func parseNode(id remote.ID) (node, bool) {
	s, ok := strings.CutPrefix(string(id), Prefix)
	if !ok || s == "" {
		return node{}, false
	}
	f := strings.SplitN(s, "|", 5)
	n := node{hub: f[0]}
	if len(f) == 1 {
		return n, n.hub != ""
	}
	n.kind = nodeKind(f[1])
	switch {
	case (n.kind == nodeRequest || n.kind == nodeLatest) && len(f) == 3:
		n.request = f[2]
	case n.kind == nodeJob && len(f) == 4:
		n.request, n.job = f[2], f[3]
	case (n.kind == nodeFile || n.kind == nodeLatestFile) && len(f) == 5:
		n.request, n.job, n.name = f[2], f[3], f[4]
	default:
		return node{}, false
	}
	needJob := n.kind == nodeJob || n.kind == nodeFile || n.kind == nodeLatestFile
	needName := n.kind == nodeFile || n.kind == nodeLatestFile
	return n, n.hub != "" && n.request != "" && (!needJob || n.job != "") && (!needName || n.name != "")
}

// Owns reports whether id is an entry of a Source.
func Owns(id remote.ID) bool { return strings.HasPrefix(string(id), Prefix) }

func requestEntry(hub string, r *Request) remote.Entry {
	name := strings.TrimSpace(r.Description)
	if name == "" {
		name = r.ID
	}
	mod := r.UpdatedAt
	if mod.IsZero() {
		mod = r.CreatedAt
	}
	return remote.Entry{ID: node{kind: nodeRequest, hub: hub, request: r.ID}.id(), Name: name, Dir: true, ModTime: mod, ReadOnly: true}
}

// JobName is the folder name of a completed job: its completion time (UTC)
// and the first eight characters of its ID.
func JobName(j *Job) string {
	short := j.ID
	if len(short) > 8 {
		short = short[:8]
	}
	return j.CompletedAt.UTC().Format("2006-01-02 150405") + " " + short
}

func jobEntry(hub, request string, j *Job) remote.Entry {
	return remote.Entry{ID: node{kind: nodeJob, hub: hub, request: request, job: j.ID}.id(),
		Name: JobName(j), Dir: true, ModTime: j.CompletedAt, ReadOnly: true}
}

func latestEntry(hub, request string, j *Job) remote.Entry {
	return remote.Entry{ID: node{kind: nodeLatest, hub: hub, request: request}.id(),
		Name: LatestName, Dir: true, ModTime: j.CompletedAt, ReadOnly: true}
}

func fileEntry(parent node, f DataFile) remote.Entry {
	n := node{kind: parent.kind, hub: parent.hub, request: parent.request, job: parent.job, name: f.Name}
	if n.kind != nodeLatestFile {
		n.kind = nodeFile
	}
	return remote.Entry{ID: n.id(), Name: f.Name, Size: f.Size, ModTime: f.CreatedAt, ReadOnly: true,
		Version: remote.Version{ID: Prefix + parent.job + "/" + f.Name, Number: 1}}
}

func sortEntries(es []remote.Entry) {
	sort.Slice(es, func(i, j int) bool {
		if es[i].Name != es[j].Name {
			return es[i].Name < es[j].Name
		}
		return es[i].ID < es[j].ID
	})
}

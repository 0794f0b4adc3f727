package emulator

import (
	"net/http"
)

// handleCommand implements POST /data/v1/projects/{project_id}/commands for
// the one command the emulator knows, commands:autodesk.core:CreateFolder
// (seed 004; not in the DM spec's command list).
//
// Request: data.relationships.resources.data lists {type:"folders", id:<temporary
// ID>}; included holds one FolderPayload-like folder per temporary ID. All
// folders are checked before any is created, so a refused command creates
// nothing.
//
// Answer (200, the spec's status for commands; shaped like the spec's
// CheckPermission answer): data is the command (type "commands", a fresh
// id, attributes.extension echoing the command type), data.relationships.resources.data
// lists the created folders' real IDs in the order of the request's
// resources, and included holds the created folders as GET folder renders
// them, in the same order.
//
// Projects marked with SetProjectCommands(id, false) answer every command
// 400 with the JSON:API error code "BAD_INPUT", title "Bad Input" and a
// detail naming the unsupported command type — what the service answers an
// unknown command — so a client can fall back to POST folders. Other
// command types get the same answer everywhere.
func (s *Server) handleCommand(w http.ResponseWriter, r *http.Request, _ *call) {
	var in struct {
		Data struct {
			Type       string `json:"type"`
			Attributes struct {
				Extension *extIn `json:"extension"`
			} `json:"attributes"`
			Relationships struct {
				Resources struct {
					Data []typeIDIn `json:"data"`
				} `json:"resources"`
			} `json:"relationships"`
		} `json:"data"`
		Included []folderIn `json:"included"`
	}
	if !decodeDM(w, r, &in, false) {
		return
	}
	d := in.Data
	if d.Type != "commands" || d.Attributes.Extension == nil || d.Attributes.Extension.Type == "" {
		badRequest(w, `data.type must be "commands" and data.attributes.extension.type must name the command`)
		return
	}
	cmd := d.Attributes.Extension.Type

	now := s.now()
	rd := s.renderer()
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	p := s.pathProject(w, r)
	if p == nil {
		return
	}
	if cmd != extCommandCreateFolder || !p.commands {
		writeUnsupportedCommand(w, cmd)
		return
	}
	refs := d.Relationships.Resources.Data
	if len(refs) == 0 {
		badRequest(w, "data.relationships.resources.data must list the folders to create")
		return
	}
	byID := map[string]folderIn{}
	for _, f := range in.Included {
		byID[f.ID] = f
	}
	if len(byID) != len(in.Included) || len(in.Included) != len(refs) {
		badRequest(w, "included must hold exactly one folder for each resource, with distinct temporary IDs")
		return
	}
	pending := map[*folder][]string{}
	parents := make([]*folder, len(refs))
	for i, ref := range refs {
		f, ok := byID[ref.ID]
		if ref.Type != "folders" || !ok {
			badRequest(w, "resource "+ref.ID+" has no matching folder in included (temporary IDs must match)")
			return
		}
		parent, problem := st.checkNewFolder(p, f, pending)
		if problem != nil {
			problem.detail = "folder " + ref.ID + ": " + problem.detail
			problem.write(w)
			return
		}
		parents[i] = parent
	}
	created := make([]typeID, len(refs))
	included := make([]resource, len(refs))
	for i, ref := range refs {
		f := st.newFolder(p, parents[i], byID[ref.ID].Attributes.Name, now)
		created[i] = typeID{"folders", f.id}
		included[i] = rd.folder(f)
	}
	version := d.Attributes.Extension.Version
	if version == "" {
		version = "1.0.0"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"jsonapi": jsonAPIv1,
		"data": map[string]any{
			"type": "commands",
			"id":   st.uuid(),
			"attributes": map[string]any{"extension": map[string]any{
				"type":    cmd,
				"version": version,
				"schema":  rd.link("/schema/v1/versions/" + cmd + "-" + version),
				"data":    map[string]any{},
			}},
			"relationships": map[string]any{"resources": map[string]any{"data": created}},
		},
		"included": included,
	})
}

// writeUnsupportedCommand is the answer to a command the project does not
// accept.
func writeUnsupportedCommand(w http.ResponseWriter, cmd string) {
	writeDMError(w, http.StatusBadRequest, "BAD_INPUT", "Bad Input", "The command type "+cmd+" is not supported")
}

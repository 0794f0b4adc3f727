package bim360

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/bimfs/bimfs/remote"
)

// CommandCreateFolder is the extension type of the CreateFolder command.
const CommandCreateFolder = "commands:autodesk.core:CreateFolder"

// createFolderCommandVersion is the command's extension version as the
// BIM 360 Docs announcement of the command shows it (its folder examples
// use both 1.0.0 and 1.0; "1.0" is what the current spec calls current).
const createFolderCommandVersion = "1.0.0"

// maxFoldersPerCommand bounds one CreateFolder command. The command has no
// documented limit; APS batch operations take 25 objects, and a smaller
// command fails less at once.
const maxFoldersPerCommand = 25

// NewFolder is one folder for CommandsService.CreateFolders.
type NewFolder struct {
	// ParentID is the URN of an existing folder.
	ParentID string
	Name     string
	// Extension is the folder extension type; "" means
	// FolderExtensionBIM360.
	Extension string
}

// Values of a command's attributes.status.
const (
	CommandAccepted  = "accepted"
	CommandCommitted = "committed"
	CommandComplete  = "complete"
	CommandFailed    = "failed"
)

type createFolderCommand struct {
	JSONAPI JSONAPI `json:"jsonapi"`
	Data    struct {
		Type       string `json:"type"`
		Attributes struct {
			Extension Extension `json:"extension"`
		} `json:"attributes"`
		Relationships struct {
			Resources struct {
				Data []ResourceID `json:"data"`
			} `json:"resources"`
		} `json:"relationships"`
	} `json:"data"`
	Included []newFolderPayload `json:"included"`
}

// commandResult is the command answer: its status and the folders made,
// named in relationships (created or resources) and described in included.
type commandResult struct {
	Data struct {
		Type       string `json:"type"`
		ID         string `json:"id"`
		Attributes struct {
			Status    string    `json:"status"`
			Extension Extension `json:"extension"`
		} `json:"attributes"`
		Relationships struct {
			Created struct {
				Data []ResourceID `json:"data"`
			} `json:"created"`
			Resources struct {
				Data []ResourceID `json:"data"`
			} `json:"resources"`
		} `json:"relationships"`
	} `json:"data"`
	Included []Folder `json:"included"`
}

// CreateFolders runs the CreateFolder command, POST
// /data/v1/projects/{project_id}/commands (executeCommand with
// commands:autodesk.core:CreateFolder), creating every folder in fs with
// one call per 25 folders. It is the batched form of mkdir: several
// siblings, or folders in different existing parents, at once. The result
// has one folder per input, in input order.
//
// The command is not in the current spec's command list (it predates POST
// folders for BIM 360 Docs); a project that does not know it answers with
// an error, and callers then use FoldersService.Create.
func (s *CommandsService) CreateFolders(ctx context.Context, projectID string, fs []NewFolder) ([]Folder, error) {
	out := make([]Folder, 0, len(fs))
	for start := 0; start < len(fs); start += maxFoldersPerCommand {
		batch := fs[start:min(start+maxFoldersPerCommand, len(fs))]
		got, err := s.createFolders(ctx, projectID, batch)
		if err != nil {
			return out, err
		}
		out = append(out, got...)
	}
	return out, nil
}

func (s *CommandsService) createFolders(ctx context.Context, projectID string, fs []NewFolder) ([]Folder, error) {
	const op = "bim360.CreateFolderCommand"
	var body createFolderCommand
	body.JSONAPI.Version = "1.0"
	body.Data.Type = "commands"
	body.Data.Attributes.Extension = Extension{Type: CommandCreateFolder, Version: createFolderCommandVersion}
	for i, f := range fs {
		tmp := strconv.Itoa(i + 1) // temporary IDs pair resources with included
		body.Data.Relationships.Resources.Data = append(body.Data.Relationships.Resources.Data, ResourceID{Type: "folders", ID: tmp})
		body.Included = append(body.Included, newFolder(tmp, f.ParentID, f.Name, f.Extension))
	}
	var res commandResult
	u := s.c.endpoint(nil, "/data/v1/projects/%s/commands", projectID)
	if err := s.c.send(ctx, op, http.MethodPost, u, jsonAPIType, body, &res); err != nil {
		return nil, err
	}
	if res.Data.Attributes.Status == CommandFailed {
		return nil, &remote.Error{Kind: remote.Unavailable, Op: op, Message: "the CreateFolder command failed"}
	}
	return matchCreated(op, fs, &res)
}

// matchCreated pairs each requested folder with the folder the answer
// describes: by parent and name from included (which carries the real
// URN), else by position in the created list.
func matchCreated(op string, fs []NewFolder, res *commandResult) ([]Folder, error) {
	out := make([]Folder, len(fs))
	used := make([]bool, len(res.Included))
	for i, f := range fs {
		found := false
		for j := range res.Included {
			inc := &res.Included[j]
			if used[j] || inc.Type != "folders" || inc.Attributes.Name != f.Name {
				continue
			}
			if p := inc.Relationships.Parent.Data.ID; p != "" && p != f.ParentID {
				continue
			}
			out[i], used[j], found = *inc, true, true
			break
		}
		if found {
			continue
		}
		created := res.Data.Relationships.Created.Data
		if len(created) != len(fs) {
			return nil, &remote.Error{Kind: remote.Unavailable, Op: op,
				Message: fmt.Sprintf("the command answer does not name the folder %q it created", f.Name)}
		}
		out[i].Type, out[i].ID = "folders", created[i].ID
		out[i].Attributes.Name = f.Name
		out[i].Relationships.Parent.Data = ResourceID{Type: "folders", ID: f.ParentID}
	}
	return out, nil
}

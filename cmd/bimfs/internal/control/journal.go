package control

import (
	"context"
	"strings"

	"github.com/bimfs/bimfs/cache/writeback"
	"github.com/bimfs/bimfs/remote"
)

// interrupted reports whether a recorded failure is the cancellation of an
// upload by the mount's own shutdown rather than a refusal by the service.
// The journal keeps only the error's text, so the context's message is
// what identifies it.
func interrupted(lastError string) bool {
	return strings.HasSuffix(lastError, context.Canceled.Error())
}

// JournalUploads reads the staged uploads of a staging directory. folder
// resolves a parent folder to its path (nil: unknown). With orphaned set no
// mount serves the directory, so uploads that are not failed are shown as
// recovered: they resume at the next mount.
func JournalUploads(stagingDir string, folder func(account string, id remote.ID) string, orphaned bool) ([]Upload, error) {
	recs, err := writeback.ReadRecords(stagingDir)
	out := make([]Upload, 0, len(recs))
	for _, r := range recs {
		u := Upload{
			Account: r.Account, ParentID: string(r.Parent), Name: r.Name, State: string(r.State),
			Size: r.Size, Uploaded: r.Uploaded, Attempts: r.Attempts, LastError: r.LastError, Updated: r.Updated,
		}
		if folder != nil {
			u.Folder = folder(r.Account, r.Parent)
		}
		if orphaned && (r.State != writeback.Failed || interrupted(r.LastError)) {
			u.State = StateRecovered
		}
		out = append(out, u)
	}
	return out, err
}

package control

import (
	"github.com/bimfs/bimfs/cache/writeback"
	"github.com/bimfs/bimfs/remote"
)

// JournalUploads reads the staged uploads of a staging directory. folder
// resolves a parent folder to its path (nil: unknown). With orphaned set no
// mount serves the directory, so each upload is shown as what the next
// mount will make of it (the crash rules of package writeback): content a
// close or fsync confirmed resumes ("pending"); anything unconfirmed comes
// back as a recovered file ("recovered"); a confirmed upload whose last
// attempt failed stays "failed", with its error.
func JournalUploads(stagingDir string, folder func(account string, id remote.ID) string, orphaned bool) ([]Upload, error) {
	recs, err := writeback.ReadRecords(stagingDir)
	out := make([]Upload, 0, len(recs))
	for _, r := range recs {
		u := Upload{
			Account: r.Account, ParentID: string(r.Parent), Name: r.Name, State: r.Status(),
			Size: r.Size, Uploaded: r.Uploaded, Attempts: r.Attempts, LastError: r.LastError, Updated: r.Updated,
		}
		if folder != nil {
			u.Folder = folder(r.Account, r.Parent)
		}
		if orphaned && r.State != writeback.Recovered {
			switch {
			case r.Snapshot == 0 || !r.Confirmed:
				u.State = StateRecovered
			case r.State != writeback.Failed:
				u.State = string(writeback.Pending) // resumes at the next mount
			}
		}
		out = append(out, u)
	}
	return out, err
}

package remotetest

import (
	"context"

	"github.com/bimfs/bimfs/remote"
)

// OpHistory is History's name for Calls and fault hooks.
const OpHistory = "History"

var _ remote.Historian = (*Memory)(nil)

// History implements remote.Historian: every version file id ever had,
// oldest first, each with its size and the time it was made. Memory keeps
// no per-version names, so each carries the file's current name.
func (m *Memory) History(ctx context.Context, id remote.ID) ([]remote.VersionInfo, error) {
	if err := m.enter(ctx, OpHistory, id); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[id]
	if !ok {
		return nil, remote.Errorf(remote.NotFound, "remotetest.History", "%s does not exist", id)
	}
	if n.entry.Dir {
		return nil, remote.Errorf(remote.Invalid, "remotetest.History", "%s is a folder", id)
	}
	out := make([]remote.VersionInfo, 0, len(n.history))
	for _, v := range n.history {
		out = append(out, remote.VersionInfo{
			Version: v,
			Name:    n.entry.Name,
			Size:    int64(len(m.versions[v.ID])),
			ModTime: m.versionTimes[v.ID],
		})
	}
	return out, nil
}

package bimcloud

import (
	"path"
	"testing"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bimcloud/emulator"
	"github.com/bimfs/bimfs/remote/remotetest"
)

func TestConformance(t *testing.T) {
	for _, ranges := range []bool{false, true} {
		t.Run(map[bool]string{false: "FullReads", true: "RangeSupport"}[ranges], func(t *testing.T) {
			var s *emulator.Server
			var ids map[string]string
			remotetest.RunConfig(t, remotetest.Config{
				Build: func(t *testing.T, tree []remotetest.File) (remote.Backend, remote.ID) {
					s = newServer(t, emulator.Options{RangeSupport: ranges})
					top := s.AddFolder(emulator.RootID, "conformance")
					ids = map[string]string{"": top, ".": top}
					for _, f := range tree {
						parent := ids[path.Dir(f.Path)]
						if f.Dir {
							ids[f.Path] = s.AddFolder(parent, path.Base(f.Path))
						} else {
							ids[f.Path] = s.AddBlob(parent, path.Base(f.Path), emulator.Bytes(f.Data), "")
						}
					}
					b, _ := loggedIn(t, s)
					return b, remote.ID(top)
				},
				Update: func(t *testing.T, p string, data []byte) {
					s.UpdateBlob(ids[p], emulator.Bytes(data))
				},
			})
		})
	}
}

package emulator

import (
	"fmt"
	"strings"
)

// Sizes used by the demo data.
const (
	KiB = int64(1) << 10
	MiB = KiB << 10
	GiB = MiB << 10
)

// DemoLargeFolder is the name of the demo folder holding 10,000 files.
const DemoLargeFolder = "10000 files"

// Demo fills the emulator with sample data: two hubs, a few projects,
// nested folders, a folder with 10,000 files, files from 0 bytes to 3 GiB
// (synthetic content), names with spaces, a '/' in a name, two items with
// the same name in one folder, an item with several versions and a deleted
// item. The first hub also has Data Connector requests (see the Data
// Connector emulator's Demo) and Tower A has Assets data (2,600 assets);
// the second hub refuses the Data Connector with 403, as for a user without
// the executive overview permission.
func (s *Server) Demo() {
	acme := s.AddHub("Demo Construction Co")
	second := s.AddHub("Second Account")

	tower := s.AddProject(acme, "Tower A")
	files := s.TopFolder(tower, "Project Files")
	plans := s.TopFolder(tower, "Plans")
	s.AddFile(tower, files, "README.txt", Bytes([]byte("Sample BIM 360 Docs project served by the bimfs emulator.\n")))
	s.AddFile(tower, files, "empty.txt", Bytes(nil))
	s.AddFile(tower, files, "Site Plan.pdf", Synthetic(1, 2*MiB+17))
	model := s.AddFile(tower, files, "Tower A.rvt", Synthetic(2, 48*MiB))
	s.AddVersion(tower, model, "", Synthetic(3, 49*MiB+5))
	s.AddVersion(tower, model, "", Synthetic(4, 50*MiB+11))
	s.AddFile(tower, files, "federated model 3GiB.nwd", Synthetic(5, 3*GiB))
	s.AddFile(tower, files, "north/south elevations.dwg", Synthetic(6, 700*KiB))
	s.AddFile(tower, files, "Duplicate.docx", Synthetic(7, 12*KiB))
	s.AddFile(tower, files, "Duplicate.docx", Synthetic(8, 13*KiB))
	old := s.AddFile(tower, files, "old draft.dwg", Synthetic(9, 300*KiB))
	s.DeleteItem(tower, old)

	arch := s.AddFolder(tower, files, "01 Architecture")
	level := s.AddFolder(tower, arch, "Level 1")
	details := s.AddFolder(tower, level, "Details & Sections")
	s.AddFile(tower, arch, "Door Schedule.xlsx", Synthetic(10, 90*KiB))
	s.AddFile(tower, level, "L1 plan.dwg", Synthetic(11, 3*MiB))
	s.AddFile(tower, details, "Stair detail (rev B).pdf", Synthetic(12, 1*MiB+3))
	s.AddFolder(tower, files, "02 Structure")

	many := s.AddFolder(tower, files, DemoLargeFolder)
	for i := range 10000 {
		s.AddFile(tower, many, fmt.Sprintf("file-%05d.txt", i), Synthetic(int64(100000+i), int64(i%4096)))
	}

	s.AddFile(tower, plans, "A-101 Floor Plan.pdf", Synthetic(13, 5*MiB))
	s.AddFile(tower, plans, "A-102 Roof Plan.pdf", Synthetic(14, 4*MiB+1))

	bridge := s.AddProject(acme, "Bridge Retrofit")
	bfiles := s.TopFolder(bridge, "Project Files")
	survey := s.AddFolder(bridge, bfiles, "Survey")
	s.AddFile(bridge, survey, "point cloud 1GiB.las", Synthetic(20, 1*GiB))
	s.AddFile(bridge, bfiles, "Bridge.ifc", Synthetic(21, 20*MiB))

	s.AddProject(acme, "Empty Project")

	archive := s.AddProject(second, "Archive 2019")
	afiles := s.TopFolder(archive, "Project Files")
	s.AddFile(archive, afiles, "handover.zip", Synthetic(30, 256*MiB))
	s.AddFile(archive, afiles, "notes.txt", Bytes([]byte("Archived project.\n")))

	s.DataConnector.Demo(strings.TrimPrefix(acme, "b."), []string{strings.TrimPrefix(tower, "b."), strings.TrimPrefix(bridge, "b.")})
	s.DataConnector.Forbid(strings.TrimPrefix(second, "b."))
	s.Assets.Demo(strings.TrimPrefix(tower, "b."))
}

package emulator

import "fmt"

// Demo sizes.
const (
	KiB = 1 << 10
	MiB = 1 << 20
	GiB = 1 << 30
)

// DemoBigFolderFiles is how many blobs Demo puts in "Big Folder": more than
// twice the 1000-result page cap, so listing it needs three pages.
const DemoBigFolderFiles = 2500

// Demo fills the tree with a sample project. Content is synthetic (no
// memory is held for it) except the small text files. The tree:
//
//	Project Root/
//	  Projects/
//	    Office Tower/
//	      Architecture/Level 01/  plan.pln (1 MiB), notes.txt
//	      Architecture/Level 02/  plan.pln (1 MiB)
//	      Structure/              model.ifc (100 MiB)
//	    Résidence Les Œillets/    設計図 2024.pln (4 KiB), Ünïcødé Tëst.txt
//	  Big Folder/                 sheet 0001.pdf … sheet 2500.pdf (0–63 KiB)
//	  Large Files/                empty.bin (0 B), one byte.bin (1 B), 1 MiB.bin,
//	                              100 MiB.bin, 1 GiB.bin
//	  Remote Site/                site survey.las (10 MiB), hosted on
//	                              "Model Server 2" (two unreachable URLs first)
//	  Empty Folder/
//
// Synthetic blobs use their size as the seed except where noted, so a test
// can check any byte with SyntheticByte.
func (s *Server) Demo() {
	projects := s.AddFolder(RootID, "Projects")
	tower := s.AddFolder(projects, "Office Tower")
	arch := s.AddFolder(tower, "Architecture")
	l1 := s.AddFolder(arch, "Level 01")
	s.AddBlob(l1, "plan.pln", Synthetic(1, MiB), "")
	s.AddBlob(l1, "notes.txt", Bytes([]byte("Level 01 notes.\nServed by the BIMcloud emulator.\n")), "")
	l2 := s.AddFolder(arch, "Level 02")
	s.AddBlob(l2, "plan.pln", Synthetic(2, MiB), "")
	structure := s.AddFolder(tower, "Structure")
	s.AddBlob(structure, "model.ifc", Synthetic(100*MiB, 100*MiB), "")
	res := s.AddFolder(projects, "Résidence Les Œillets")
	s.AddBlob(res, "設計図 2024.pln", Synthetic(4*KiB, 4*KiB), "")
	s.AddBlob(res, "Ünïcødé Tëst.txt", Bytes([]byte("Grüße aus dem Emulator – ☃\n")), "")

	big := s.AddFolder(RootID, "Big Folder")
	for i := 1; i <= DemoBigFolderFiles; i++ {
		size := int64(i*37) % (64 * KiB)
		s.AddBlob(big, fmt.Sprintf("sheet %04d.pdf", i), Synthetic(int64(i), size), "")
	}

	large := s.AddFolder(RootID, "Large Files")
	for _, f := range []struct {
		name string
		size int64
	}{{"empty.bin", 0}, {"one byte.bin", 1}, {"1 MiB.bin", MiB}, {"100 MiB.bin", 100 * MiB}, {"1 GiB.bin", GiB}} {
		s.AddBlob(large, f.name, Synthetic(f.size, f.size), "")
	}

	ms2 := s.AddModelServer("Model Server 2", 2)
	remote := s.AddFolder(RootID, "Remote Site")
	s.SetDefaultModelServer(remote, ms2)
	s.AddBlob(remote, "site survey.las", Synthetic(10*MiB, 10*MiB), "")

	s.AddFolder(RootID, "Empty Folder")
}

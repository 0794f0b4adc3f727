package emulator

import (
	"fmt"
	"strings"
)

// DemoAssets is the number of assets Demo adds.
const DemoAssets = 2600

// Demo fills a project with DemoAssets assets over nested categories
// (ROOT > Electrical > Light Fixtures / Panels, Mechanical > HVAC > Air
// Handlers, Plumbing), two status step sets, one custom attribute of each
// type (some inherited), a location tree and relationships to issues and
// checklists. Names include commas, quotes, a newline and non-ASCII text so
// CSV quoting is exercised.
func (s *Service) Demo(projectID string) {
	root := s.RootCategory(projectID)
	elec := s.AddCategory(projectID, root, "Electrical")
	light := s.AddCategory(projectID, elec, "Light Fixtures")
	panels := s.AddCategory(projectID, elec, "Panels, Switchboards")
	mech := s.AddCategory(projectID, root, "Mechanical")
	hvac := s.AddCategory(projectID, mech, "HVAC")
	ahu := s.AddCategory(projectID, hvac, "Air Handlers")
	plumb := s.AddCategory(projectID, root, "Plumbing")
	leaves := []string{light, panels, ahu, plumb, hvac}

	def, defSt := s.AddStatusSet(projectID, "Default", true, "Specified", "Ordered", "Delivered", "Installed", "Commissioned")
	lf, lfSt := s.AddStatusSet(projectID, "Light Fixtures Statuses", false, "Delivered", "Installed \"tested\"")
	s.AssignStatusSet(projectID, root, def)
	s.AssignStatusSet(projectID, light, lf)

	s.AddCustomAttribute(projectID, "ca1", "Voltage", "numeric")
	s.AddCustomAttribute(projectID, "ca2", "Grounded", "boolean")
	s.AddCustomAttribute(projectID, "ca3", "Install date", "date")
	s.AddCustomAttribute(projectID, "ca4", "Manufacturer", "text")
	s.AddCustomAttribute(projectID, "ca5", "Maintenance notes", "paragraph")
	s.AddCustomAttribute(projectID, "ca6", "Finish", "select", "Matte", "Gloss", "Brushed")
	s.AddCustomAttribute(projectID, "ca7", "Certifications", "multi_select", "UL", "CE", "Énergie Star")
	s.AssignCustomAttribute(projectID, root, "ca4")
	s.AssignCustomAttribute(projectID, elec, "ca1")
	s.AssignCustomAttribute(projectID, elec, "ca2")
	s.AssignCustomAttribute(projectID, light, "ca6")
	s.AssignCustomAttribute(projectID, mech, "ca5")
	s.AssignCustomAttribute(projectID, root, "ca3")
	s.AssignCustomAttribute(projectID, root, "ca7")

	site := s.AddLocation(projectID, "", "Root", "Project")
	var areas []string
	for l := 1; l <= 5; l++ {
		lvl := s.AddLocation(projectID, site, "Level", fmt.Sprintf("Level %d", l))
		for a := 1; a <= 6; a++ {
			areas = append(areas, s.AddLocation(projectID, lvl, "Area", fmt.Sprintf("Level %d / Area %c", l, 'A'+a-1)))
		}
	}

	makers := []string{"Acme Lighting", "Volt, Inc.", "Müller & Söhne", "\"Best\" HVAC", "Pipe Co"}
	finishes := []string{"Matte", "Gloss", "Brushed"}
	for i := range DemoAssets {
		cat := leaves[i%len(leaves)]
		statusID := defSt[i%len(defSt)]
		if cat == light {
			statusID = lfSt[i%len(lfSt)]
		}
		ca := map[string]any{"ca4": makers[i%len(makers)], "ca3": fmt.Sprintf("2025-%02d-%02d", i%12+1, i%28+1)}
		switch cat {
		case light, panels:
			ca["ca1"] = fmt.Sprint(110 * (1 + i%3))
			ca["ca2"] = i%2 == 0
			if cat == light {
				ca["ca6"] = finishes[i%3]
			}
		case ahu, hvac:
			ca["ca5"] = fmt.Sprintf("Filter change every %d months.\nCheck belt, \"tension\" too.", 3+i%6)
		}
		if i%4 == 0 {
			ca["ca7"] = []string{"UL", "Énergie Star"}
		} else if i%4 == 1 {
			ca["ca7"] = []string{"CE"}
		}
		desc := ""
		if i%97 == 0 {
			desc = "Replaced, see issue; note \"urgent\""
		}
		id := s.AddAsset(projectID, Asset{IsActive: true, CategoryID: cat, LocationID: areas[i%len(areas)],
			CompanyID: "9fd5d33e-6a51-4edc-a647-ed737162f65d", ClientAssetID: fmt.Sprintf("AST-%05d", i),
			StatusID: statusID, Description: desc, Barcode: strings.Repeat("0", 3) + fmt.Sprint(100000+i),
			CustomAttributes: ca})
		if i%50 == 0 {
			s.AddRelationship(projectID, id, "autodesk-bim360-issue", "issue", uuid())
		}
		if i%120 == 0 {
			s.AddRelationship(projectID, id, "autodesk-bim360-checklist", "checklist", uuid())
		}
	}
}

package bim360

import "context"

// HubExtensionBIM360 is the extension type of BIM 360 and ACC accounts; team
// and personal hubs use other types and hold no BIM 360 Docs projects.
const HubExtensionBIM360 = "hubs:autodesk.bim360:Account"

// Hub is one hub (for BIM 360 and ACC, one account; ID "b.<accountId>").
type Hub struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	Attributes struct {
		Name      string    `json:"name"`
		Extension Extension `json:"extension"`
		Region    string    `json:"region"`
	} `json:"attributes"`
}

// HubList is the answer of HubsService.List.
type HubList struct {
	Data  []Hub `json:"data"`
	Links Links `json:"links"`
}

// HubResponse is the answer of HubsService.Get.
type HubResponse struct {
	Data Hub `json:"data"`
}

// List calls GET /project/v1/hubs (getHubs), following next links if the
// server paginates.
func (s *HubsService) List(ctx context.Context) (*HubList, error) {
	data, links, _, err := allPages[Hub](ctx, s.c, "bim360.GetHubs", s.c.endpoint(nil, "/project/v1/hubs"))
	if err != nil {
		return nil, err
	}
	return &HubList{Data: data, Links: links}, nil
}

// Get calls GET /project/v1/hubs/{hub_id} (getHub).
func (s *HubsService) Get(ctx context.Context, hubID string) (*Hub, error) {
	var out HubResponse
	if err := s.c.get(ctx, "bim360.GetHub", s.c.endpoint(nil, "/project/v1/hubs/%s", hubID), &out); err != nil {
		return nil, err
	}
	return &out.Data, nil
}

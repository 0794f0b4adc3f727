package wiring_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/demo"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/wiring"
	"github.com/bimfs/bimfs/mountopts"
	"github.com/bimfs/bimfs/remote"
)

// names lists the hub and project directories of the demo BIM 360 account.
func names(t *testing.T, b remote.Backend) (hub, project map[string]bool) {
	t.Helper()
	ctx := context.Background()
	root, _ := b.Root(ctx)
	hubs, err := b.List(ctx, root.ID)
	if err != nil {
		t.Fatal(err)
	}
	hub, project = map[string]bool{}, map[string]bool{}
	var hubList, projList []remote.Entry
	for _, h := range hubs {
		if h.Name == "Demo Construction Co" {
			if hubList, err = b.List(ctx, h.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, e := range hubList {
		hub[e.Name] = true
		if e.Name == "Tower A" {
			if projList, err = b.List(ctx, e.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, e := range projList {
		project[e.Name] = true
	}
	return hub, project
}

func TestReadOnlyFolderOptions(t *testing.T) {
	ctx := context.Background()
	d, err := demo.Start(ctx, demo.Options{}, wiring.Env{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	acct := d.Accounts[0]
	for _, tc := range []struct {
		name           string
		account        func(a *mountopts.Account)
		opts           mountopts.Options
		wantDC, wantAs bool
	}{
		{"defaults", func(*mountopts.Account) {}, mountopts.Options{}, true, true},
		{"-o data_connector=off", func(*mountopts.Account) {}, mountopts.Options{NoDataConnector: true}, false, true},
		{"-o assets=off", func(*mountopts.Account) {}, mountopts.Options{NoAssets: true}, true, false},
		{"account assets = off", func(a *mountopts.Account) { a.NoAssets = true }, mountopts.Options{}, true, false},
		{"account data_connector = off", func(a *mountopts.Account) { a.NoDataConnector = true }, mountopts.Options{}, false, true},
	} {
		a := acct
		tc.account(&a)
		b, err := wiring.Open(ctx, d.Env, a, &tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		hub, project := names(t, b)
		if hub["Data Connector"] != tc.wantDC || project["Assets"] != tc.wantAs {
			t.Errorf("%s: Data Connector %v (want %v), Assets %v (want %v)", tc.name, hub["Data Connector"], tc.wantDC, project["Assets"], tc.wantAs)
		}
		b.Close()
	}
}

package bim360

import (
	"context"
	"io"
	"strconv"
	"testing"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bim360/emulator"
)

func TestEmulatorHistoryListsVersionsOldestFirst(t *testing.T) {
	e, hub, proj, top := treeEnv(t, 71)
	ctx := context.Background()
	item := e.s.AddFile(proj, top, "Site Plan.pdf", emulator.Bytes([]byte("one")))
	e.s.AddVersion(proj, item, "Site Plan.pdf", emulator.Bytes([]byte("second")))
	e.s.AddVersion(proj, item, "Site Plan (rev).pdf", emulator.Bytes([]byte("the third")))
	id := mustItemID(proj, item)
	e.s.ResetCounters()

	hist, err := e.b.History(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name, data string
	}{{"Site Plan.pdf", "one"}, {"Site Plan.pdf", "second"}, {"Site Plan (rev).pdf", "the third"}}
	if len(hist) != len(want) {
		t.Fatalf("%d versions, want %d: %+v", len(hist), len(want), hist)
	}
	served := e.s.ItemVersions(proj, item)
	for i, w := range want {
		h := hist[i]
		if h.Version.Number != i+1 || h.Name != w.name || h.Size != int64(len(w.data)) || h.Version.ID != served[i].ID {
			t.Errorf("version %d: %+v, want number %d name %q size %d id %s", i, h, i+1, w.name, len(w.data), served[i].ID)
		}
		if h.ModTime.IsZero() {
			t.Errorf("version %d has no time", i)
		}
		r, err := e.b.ReadRange(ctx, id, h.Version, 0, h.Size)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil || string(b) != w.data {
			t.Errorf("version %d reads %q (%v), want %q", i, b, err, w.data)
		}
	}
	wantCounts(t, e.s, map[string]int64{emulator.OpItemVersions: 1, emulator.OpItem: 0, emulator.OpVersion: 0, emulator.OpItemTip: 0})

	// A deletion adds a version without content: it is not listed.
	e.s.DeleteItem(proj, item)
	hist, err = e.b.History(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 3 {
		t.Errorf("after a delete: %d versions, want the 3 with content", len(hist))
	}

	_, err = e.b.History(ctx, mustItemID(proj, "urn:adsk.wipprod:dm.lineage:missing"))
	wantKind(t, "history of a missing item", err, remote.NotFound)
	_, err = e.b.History(ctx, mustFolderID(proj, top))
	wantKind(t, "history of a folder", err, remote.Invalid)
	_ = hub
}

func TestEmulatorHistoryFollowsPages(t *testing.T) {
	e, _, proj, top := treeEnv(t, 72)
	item := e.s.AddFile(proj, top, "many.txt", emulator.Bytes([]byte("0")))
	const n = PageLimit + 5
	for i := 1; i < n; i++ {
		e.s.AddVersion(proj, item, "many.txt", emulator.Bytes([]byte(strconv.Itoa(i))))
	}
	e.s.ResetCounters()
	hist, err := e.b.History(context.Background(), mustItemID(proj, item))
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != n {
		t.Fatalf("%d versions, want %d", len(hist), n)
	}
	for i, h := range hist {
		if h.Version.Number != i+1 {
			t.Fatalf("version %d has number %d", i, h.Version.Number)
		}
	}
	wantCounts(t, e.s, map[string]int64{emulator.OpItemVersions: 2})
}

func TestEmulatorLocate(t *testing.T) {
	e, hub, proj, top := treeEnv(t, 73)
	item := e.s.AddFile(proj, top, "a.dwg", emulator.Bytes([]byte("x")))
	id := mustItemID(proj, item)
	loc, ok := e.b.Locate(id)
	if !ok || loc.ObjectID != item || loc.ProjectID != proj {
		t.Fatalf("Locate before the hub was listed: %+v %v", loc, ok)
	}
	hid, _ := hubID(hub)
	if _, err := e.b.List(context.Background(), hid); err != nil {
		t.Fatal(err)
	}
	e.s.ResetCounters()
	loc, ok = e.b.Locate(id)
	if want := (remote.Location{ObjectID: item, ProjectID: proj, HubID: hub}); !ok || loc != want {
		t.Errorf("Locate %+v, want %+v", loc, want)
	}
	if loc, ok := e.b.Locate(mustFolderID(proj, top)); !ok || loc.ObjectID != top || loc.HubID != hub {
		t.Errorf("Locate of a folder: %+v", loc)
	}
	if _, ok := e.b.Locate("nonsense"); ok {
		t.Error("Locate of an ID the backend never issued succeeded")
	}
	for op, n := range e.s.Counters() {
		if n != 0 {
			t.Errorf("Locate made a call: %s", op)
		}
	}
}

func TestEmulatorItemTip(t *testing.T) {
	e, hub, proj, top := treeEnv(t, 74)
	ctx := context.Background()
	item := e.s.AddFile(proj, top, "a.dwg", emulator.Bytes([]byte("x")))
	e.s.AddVersion(proj, item, "a.dwg", emulator.Bytes([]byte("yy")))
	e.s.ResetCounters()
	tip, err := e.b.ItemTip(ctx, proj, item)
	if err != nil {
		t.Fatal(err)
	}
	if tip.Number != 2 || tip.Deleted || tip.Size != 2 || tip.Name != "a.dwg" || tip.Storage == "" || tip.VersionID != e.s.TipVersion(proj, item) {
		t.Errorf("tip %+v", tip)
	}
	wantCounts(t, e.s, map[string]int64{emulator.OpItem: 1, emulator.OpItemTip: 0})
	r, err := e.b.ReadRange(ctx, tip.Entry.ID, tip.Entry.Version, 0, tip.Size)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "yy" {
		t.Errorf("tip reads %q", b)
	}

	e.s.DeleteItem(proj, item)
	tip, err = e.b.ItemTip(ctx, proj, item)
	if err != nil {
		t.Fatal(err)
	}
	if !tip.Deleted || tip.Storage != "" {
		t.Errorf("deleted item's tip %+v", tip)
	}
	_, err = e.b.ItemTip(ctx, proj, "urn:adsk.wipprod:dm.lineage:missing")
	wantKind(t, "missing item", err, remote.NotFound)

	ok, err := e.b.HasProject(ctx, proj)
	if err != nil || !ok {
		t.Errorf("HasProject of a visible project: %v %v", ok, err)
	}
	ok, err = e.b.HasProject(ctx, "b.00000000-0000-0000-0000-000000000000")
	if err != nil || ok {
		t.Errorf("HasProject of an unknown project: %v %v", ok, err)
	}
	_ = hub
}

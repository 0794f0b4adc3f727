package emulator

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
)

func TestDemoTree(t *testing.T) {
	h := newHarness(t, Options{})
	srv, tok := h.srv, h.srv.Token()
	srv.Demo()

	find := func(path string) resourceJSON {
		t.Helper()
		st, got, b := h.query(tok, nil, obj{"$eq": obj{"$path": path}})
		if st != 200 || len(got) != 1 {
			t.Fatalf("%s: %d %s", path, st, b)
		}
		return got[0]
	}

	// The big folder needs three pages at the real cap.
	big := find("Project Root/Big Folder")
	var all []resourceJSON
	var pages []int
	for skip := 0; ; skip += 1000 {
		_, page, _ := h.query(tok, url.Values{"sort-by": {"name"}, "skip": {fmt.Sprint(skip)}, "limit": {"1000"}}, obj{"$eq": obj{"$parentId": big.ID}})
		pages = append(pages, len(page))
		all = append(all, page...)
		if len(page) < 1000 {
			break
		}
	}
	if len(all) != DemoBigFolderFiles || fmt.Sprint(pages) != "[1000 1000 500]" {
		t.Fatalf("big folder: %d entries, pages %v", len(all), pages)
	}
	if all[0].Name != "sheet 0001.pdf" || all[DemoBigFolderFiles-1].Name != "sheet 2500.pdf" {
		t.Fatalf("order: %s … %s", all[0].Name, all[DemoBigFolderFiles-1].Name)
	}

	for path, size := range map[string]int64{
		"Project Root/Large Files/empty.bin":                       0,
		"Project Root/Large Files/one byte.bin":                    1,
		"Project Root/Large Files/1 GiB.bin":                       GiB,
		"Project Root/Projects/Office Tower/Structure/model.ifc":   100 * MiB,
		"Project Root/Projects/Résidence Les Œillets/設計図 2024.pln": 4 * KiB,
	} {
		r := find(path)
		if r.Size == nil || *r.Size != size {
			t.Errorf("%s: size %v, want %d", path, r.Size, size)
		}
	}
	if r := find("Project Root/Empty Folder"); r.Type != "resourceGroup" {
		t.Fatalf("empty folder: %+v", r)
	}

	// The remote site lives on a second server with two dead URLs first.
	survey := find("Project Root/Remote Site/site survey.las")
	if survey.ModelServerName != "Model Server 2" || survey.ModelServerID == srv.DefaultModelServer() {
		t.Fatalf("survey: %+v", survey)
	}
	ms2 := h.resource(tok, survey.ModelServerID)
	if len(ms2.ConnectionURLs) != 3 {
		t.Fatalf("model server 2 urls: %v", ms2.ConnectionURLs)
	}
	base, sid := h.session(tok, survey.ModelServerID)

	// Byte-check a synthetic blob through a range-free download of a small one.
	notes := find("Project Root/Projects/Résidence Les Œillets/Ünïcødé Tëst.txt")
	b0, sid0 := h.session(tok, notes.ModelServerID)
	st, _, got := h.content(b0, sid0, notes.ID, nil)
	if st != 200 || string(got) != "Grüße aus dem Emulator – ☃\n" {
		t.Fatalf("unicode file: %d %q", st, got)
	}
	sheet := all[41] // "sheet 0042.pdf"
	st, _, got = h.content(b0, sid0, sheet.ID, nil)
	if st != 200 || int64(len(got)) != *sheet.Size {
		t.Fatalf("sheet: %d, %d bytes", st, len(got))
	}
	for i := range got {
		if got[i] != SyntheticByte(42, int64(i)) {
			t.Fatalf("sheet 0042 byte %d", i)
		}
	}
	// The survey must come from server 2's session, not server 1's.
	st, _, b := h.content(b0, sid0, survey.ID, nil)
	h.blobErr(st, b, StatusBIMcloudError, BlobErrBlobNotFound)
	h.srv.SetOptions(Options{RangeSupport: true})
	st, _, got = h.content(base, sid, survey.ID, http.Header{"Range": {"bytes=1000-1009"}})
	if st != http.StatusPartialContent || len(got) != 10 || got[3] != SyntheticByte(10*MiB, 1003) {
		t.Fatalf("survey range: %d %d", st, len(got))
	}
}

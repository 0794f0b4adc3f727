package asfm

import (
	"strings"
	"testing"
)

func TestParseAndRewriteKeepsEverythingElse(t *testing.T) {
	const in = "{\r\n\t\"SourceFileName\" : \"Site Plan.dwg\",\r\n\t\"Extra\": {\"Version\": 99, \"a\": [1,2]},\r\n" +
		"\t\"ProjectId\": \"b.p1\", \"ItemId\": \"urn:adsk.wipprod:dm.lineage:X\",\r\n\t\"Version\":   7 ,\r\n\t\"Zeta\": null\r\n}\r\n"
	m, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if m.ProjectID != "b.p1" || m.ItemID != "urn:adsk.wipprod:dm.lineage:X" || m.Version != 7 || m.SourceFileName != "Site Plan.dwg" {
		t.Fatalf("parsed %+v", m)
	}
	got := string(m.WithVersion(12))
	want := strings.Replace(in, "\"Version\":   7 ,", "\"Version\":   12 ,", 1)
	if got != want {
		t.Fatalf("rewritten manifest\n%q\nwant\n%q", got, want)
	}
	again, err := Parse([]byte(got))
	if err != nil || again.Version != 12 {
		t.Fatalf("rewritten manifest parses as %+v, %v", again, err)
	}
}

func TestParseQuotedVersionStaysQuoted(t *testing.T) {
	m, err := Parse([]byte(`{"ProjectId":"b.p","ItemId":"i","Version":"3","SourceFileName":"a.rvt"}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 3 {
		t.Fatalf("version %d", m.Version)
	}
	if got := string(m.WithVersion(10)); got != `{"ProjectId":"b.p","ItemId":"i","Version":"10","SourceFileName":"a.rvt"}` {
		t.Fatalf("rewritten %s", got)
	}
}

func TestParseRefusesBadManifests(t *testing.T) {
	for name, in := range map[string]string{
		"not json":        `hello`,
		"array":           `[1]`,
		"missing item":    `{"ProjectId":"b.p","Version":1,"SourceFileName":"a"}`,
		"bad version":     `{"ProjectId":"b.p","ItemId":"i","Version":"x","SourceFileName":"a"}`,
		"negative":        `{"ProjectId":"b.p","ItemId":"i","Version":-1,"SourceFileName":"a"}`,
		"duplicate key":   `{"ProjectId":"b.p","ItemId":"i","Version":1,"Version":2,"SourceFileName":"a"}`,
		"escapes folder":  `{"ProjectId":"b.p","ItemId":"i","Version":1,"SourceFileName":"../../etc/passwd"}`,
		"windows escape":  `{"ProjectId":"b.p","ItemId":"i","Version":1,"SourceFileName":"..\\x.dwg"}`,
		"absolute":        `{"ProjectId":"b.p","ItemId":"i","Version":1,"SourceFileName":"/etc/passwd"}`,
		"trailing data":   `{"ProjectId":"b.p","ItemId":"i","Version":1,"SourceFileName":"a"} {}`,
		"empty project":   `{"ProjectId":"","ItemId":"i","Version":1,"SourceFileName":"a"}`,
		"unterminated":    `{"ProjectId":"b.p","ItemId":"i","Version":1,"SourceFileName":"a"`,
		"no file name":    `{"ProjectId":"b.p","ItemId":"i","Version":1,"SourceFileName":""}`,
		"version is null": `{"ProjectId":"b.p","ItemId":"i","Version":null,"SourceFileName":"a"}`,
	} {
		if m, err := Parse([]byte(in)); err == nil {
			t.Errorf("%s: parsed as %+v", name, m)
		}
	}
}

func TestSourcePathStaysInFolder(t *testing.T) {
	m, err := Parse([]byte(`{"ProjectId":"b.p","ItemId":"i","Version":1,"SourceFileName":"sub\\Site Plan.dwg"}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.SourcePath("/data")
	if err != nil || p != "/data/sub/Site Plan.dwg" {
		t.Errorf("SourcePath %q, %v", p, err)
	}
}

func TestNewAndDefaultName(t *testing.T) {
	m, err := Parse(New("b.p", "urn:x", 4, `Plan "A".dwg`))
	if err != nil || m.ProjectID != "b.p" || m.ItemID != "urn:x" || m.Version != 4 || m.SourceFileName != `Plan "A".dwg` {
		t.Fatalf("new manifest parses as %+v, %v", m, err)
	}
	for in, want := range map[string]string{"/mnt/a/Site Plan.dwg": "Site Plan.asfm", "README": "README.asfm", ".hidden": ".hidden.asfm"} {
		if got := DefaultName(in); got != want {
			t.Errorf("DefaultName(%q) = %q, want %q", in, got, want)
		}
	}
}

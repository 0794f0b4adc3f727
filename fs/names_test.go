package fs

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bimfs/bimfs/remote"
)

func TestEncodeName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plan.pdf", "plan.pdf"},
		{"with space.txt", "with space.txt"},
		{"Ünïcödé 文件.txt", "Ünïcödé 文件.txt"},
		{"50% done.pdf", "50% done.pdf"},
		{"100%", "100%"},
		{"a/b", "a%2Fb"},
		{"a/b 50%", "a%2Fb 50%25"},
		{"nul\x00byte", "nul%00byte"},
		{".", "%2E"},
		{"..", "%2E%2E"},
		{"...", "..."},
		{".hidden", ".hidden"},
		{"", "%"},
		{"%", "%25"},
		{"%25", "%2525"},
		{"x%2Fy", "x%252Fy"},
		{"x%2fy", "x%2fy"}, // only upper-case sequences are escapes
		{"%2E", "%252E"},
		{"/", "%2F"},
		{"./", ".%2F"},
	} {
		got := encodeName(tc.in)
		if got != tc.want {
			t.Errorf("encodeName(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if back := decodeName(got); back != tc.in {
			t.Errorf("decodeName(%q) = %q, want %q", got, back, tc.in)
		}
		if strings.ContainsAny(got, "/\x00") || got == "." || got == ".." || got == "" {
			t.Errorf("encodeName(%q) = %q is not a valid POSIX name", tc.in, got)
		}
	}
}

func TestEncodeNameRoundTripRandom(t *testing.T) {
	alphabet := []string{"a", "%", "/", "\x00", ".", "2", "F", "E", "5", "0", " ", "é"}
	r := rand.New(rand.NewPCG(7, 7))
	for range 20000 {
		var b strings.Builder
		for range r.IntN(8) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		s := b.String()
		enc := encodeName(s)
		if decodeName(enc) != s {
			t.Fatalf("round trip of %q via %q gave %q", s, enc, decodeName(enc))
		}
		if strings.ContainsAny(enc, "/\x00") || enc == "." || enc == ".." || enc == "" {
			t.Fatalf("encodeName(%q) = %q is not a valid POSIX name", s, enc)
		}
	}
}

func file(id, name string) remote.Entry { return remote.Entry{ID: remote.ID(id), Name: name} }
func dir(id, name string) remote.Entry  { return remote.Entry{ID: remote.ID(id), Name: name, Dir: true} }

func TestAssignNames(t *testing.T) {
	h := func(id string) string { return idHash(remote.ID(id))[:suffixDigits] }
	long := strings.Repeat("ü", 200) + ".pdf" // 404 bytes
	for _, tc := range []struct {
		name string
		in   []remote.Entry
		want []string
	}{
		{"unique", []remote.Entry{file("1", "a.txt"), dir("2", "b")}, []string{"a.txt", "b"}},
		{"duplicate files", []remote.Entry{file("1", "plan.pdf"), file("2", "plan.pdf")},
			[]string{"plan (~" + h("1") + ").pdf", "plan (~" + h("2") + ").pdf"}},
		{"file and folder", []remote.Entry{dir("1", "Models.v2"), file("2", "Models.v2")},
			[]string{"Models.v2 (~" + h("1") + ")", "Models (~" + h("2") + ").v2"}},
		{"no extension", []remote.Entry{file("1", "README"), file("2", "README")},
			[]string{"README (~" + h("1") + ")", "README (~" + h("2") + ")"}},
		{"dotfile", []remote.Entry{file("1", ".env"), file("2", ".env")},
			[]string{".env (~" + h("1") + ")", ".env (~" + h("2") + ")"}},
		{"duplicate after escaping", []remote.Entry{file("1", "a/b"), file("2", "a/b"), file("3", "a%2Fb")},
			[]string{"a%2Fb (~" + h("1") + ")", "a%2Fb (~" + h("2") + ")", "a%252Fb"}},
		{"dot names", []remote.Entry{dir("1", "."), dir("2", "..")}, []string{"%2E", "%2E%2E"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := assignNames(tc.in)
			if !slices.Equal(got, tc.want) {
				t.Errorf("assignNames = %q, want %q", got, tc.want)
			}
			// Order of the listing must not matter.
			rev := slices.Clone(tc.in)
			slices.Reverse(rev)
			gotRev := assignNames(rev)
			slices.Reverse(gotRev)
			if !slices.Equal(gotRev, got) {
				t.Errorf("reversed listing gave %q, want %q", gotRev, got)
			}
		})
	}

	t.Run("too long", func(t *testing.T) {
		got := assignNames([]remote.Entry{file("1", long)})[0]
		if len(got) > maxNameLen {
			t.Fatalf("name has %d bytes", len(got))
		}
		if !strings.HasSuffix(got, " (~"+h("1")+").pdf") || !strings.HasPrefix(got, "üüü") {
			t.Fatalf("long name = %q", got)
		}
		if !strings.HasPrefix(long, strings.TrimSuffix(got, " (~"+h("1")+").pdf")) {
			t.Fatalf("truncation split a character: %q", got)
		}
	})

	t.Run("suffix clashes with a real name", func(t *testing.T) {
		in := []remote.Entry{file("1", "x.txt"), file("2", "x.txt"), file("3", "x (~"+h("1")+").txt")}
		got := assignNames(in)
		if got[2] != in[2].Name {
			t.Fatalf("the real name was renamed: %q", got)
		}
		if got[0] == got[2] || !strings.HasPrefix(got[0], "x (~"+idHash("1")[:suffixDigits+4]) {
			t.Fatalf("clashing suffix was not lengthened: %q", got)
		}
	})

	t.Run("many duplicates are unique", func(t *testing.T) {
		var in []remote.Entry
		for i := range 5000 {
			in = append(in, file(string(rune('a'+i%26))+strings.Repeat("x", i%7)+string(rune(i)), "same.dwg"))
		}
		seen := map[string]bool{}
		for _, n := range assignNames(in) {
			if seen[n] {
				t.Fatalf("duplicate shown name %q", n)
			}
			seen[n] = true
		}
	})
}

func TestDirTableSorted(t *testing.T) {
	tbl := newDirTable([]remote.Entry{file("3", "b"), file("1", "c"), dir("2", "a"), file("4", "B")}, time.Time{})
	if !slices.Equal(tbl.names, []string{"B", "a", "b", "c"}) {
		t.Fatalf("names = %q", tbl.names)
	}
	if e, ok := tbl.lookup("a"); !ok || e.ID != "2" {
		t.Fatalf("lookup(a) = %+v, %v", e, ok)
	}
	if _, name, ok := tbl.find("1"); !ok || name != "c" {
		t.Fatalf("find(1) = %q, %v", name, ok)
	}
	if _, ok := tbl.lookup("missing"); ok {
		t.Fatal("lookup of a missing name succeeded")
	}
}

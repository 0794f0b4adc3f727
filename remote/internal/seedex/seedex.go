// Package seedex extracts the request/response examples of a tutorial
// seed (the plain-text API walkthroughs in shared/seeds) and compares JSON
// field sets, for emulator contract tests.
//
// Seed examples are prose, not fixtures: some JSON in them is invalid
// (trailing commas, "..." elision lines, unterminated strings). Extract
// drops elision lines and repairs trailing commas, missing commas between
// objects and a string's missing closing quote; examples still invalid
// after that are skipped and reported in Skipped.
package seedex

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Example is one curl call of a seed and the response shown after it.
type Example struct {
	Method, URL string
	Body        string // request body of -d, if any
	Response    any    // decoded JSON
}

// Result is what Extract found.
type Result struct {
	Examples []Example
	Skipped  []string // URLs whose response could not be repaired
}

// SharedDir finds the shared directory (specs, seeds) by walking up from
// the working directory.
func SharedDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "shared", "seeds")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return filepath.Join(dir, "shared"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no shared/seeds above the working directory")
		}
		dir = parent
	}
}

// Seed returns the text of the seed whose file name starts with prefix
// ("001").
func Seed(prefix string) (string, error) {
	dir, err := SharedDir()
	if err != nil {
		return "", err
	}
	m, _ := filepath.Glob(filepath.Join(dir, "seeds", prefix+"_*.txt"))
	if len(m) != 1 {
		return "", fmt.Errorf("seed %s: %d files", prefix, len(m))
	}
	b, err := os.ReadFile(m[0])
	return string(b), err
}

var (
	curlRE     = regexp.MustCompile(`curl[^\n]*?'(https?://[^']+)'`)
	methodRE   = regexp.MustCompile(`-X\s+'?([A-Z]+)'?`)
	bodyRE     = regexp.MustCompile(`(?s)-d\s+'(.*?)'`)
	trailingRE = regexp.MustCompile(`,(\s*[}\]])`)
	// adjacentRE finds objects left without a comma between them where an
	// elision line was dropped.
	adjacentRE = regexp.MustCompile(`}(\s*){`)
	// openStringRE finds a string value whose closing quote is missing
	// before the line's comma.
	openStringRE = regexp.MustCompile(`(:\s*"[^"\n]*),\n`)
)

// Extract finds every curl example in text and the JSON response after it.
func Extract(text string) Result {
	var res Result
	locs := curlRE.FindAllStringSubmatchIndex(text, -1)
	for i, loc := range locs {
		end := len(text)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		seg := text[loc[0]:end]
		ex := Example{Method: "GET", URL: text[loc[2]:loc[3]]}
		resp := strings.Index(seg, "Response")
		if resp < 0 {
			continue
		}
		cmd := seg[:resp]
		if m := methodRE.FindStringSubmatch(cmd); m != nil {
			ex.Method = m[1]
		}
		if m := bodyRE.FindStringSubmatch(cmd); m != nil {
			ex.Body = trailingRE.ReplaceAllString(m[1], "$1")
		}
		rest := seg[resp:]
		start := strings.IndexAny(rest, "{[")
		if start < 0 {
			continue
		}
		var lines []string
		for _, l := range strings.Split(rest[start:], "\n") {
			if strings.Contains(l, "...") {
				continue
			}
			lines = append(lines, l)
		}
		js := openStringRE.ReplaceAllString(strings.Join(lines, "\n"), "$1\",\n")
		js = adjacentRE.ReplaceAllString(js, "},$1{")
		js = trailingRE.ReplaceAllString(js, "$1")
		dec := json.NewDecoder(strings.NewReader(js))
		if err := dec.Decode(&ex.Response); err != nil {
			res.Skipped = append(res.Skipped, ex.URL)
			continue
		}
		res.Examples = append(res.Examples, ex)
	}
	return res
}

// MissingFields returns the field paths of want that got lacks. Objects
// are compared key by key; for arrays, every element of want is compared
// with the union of the fields of got's elements (the values differ, the
// shapes must not).
func MissingFields(want, got any) []string {
	var out []string
	missing("", want, got, &out)
	sort.Strings(out)
	return out
}

// ExtraFields returns the field paths of got that want never shows, except
// those listed in allowed (paths such as "results[].description").
func ExtraFields(want, got any, allowed ...string) []string {
	var out []string
	missing("", got, want, &out)
	var keep []string
	for _, p := range out {
		ok := false
		for _, a := range allowed {
			if p == a || strings.HasPrefix(p, a+".") || strings.HasPrefix(p, a+"[]") {
				ok = true
			}
		}
		if !ok {
			keep = append(keep, p)
		}
	}
	sort.Strings(keep)
	return keep
}

func missing(path string, want, got any, out *[]string) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			*out = append(*out, path+" (not an object)")
			return
		}
		for k, v := range w {
			gv, ok := g[k]
			p := strings.TrimPrefix(path+"."+k, ".")
			if !ok {
				*out = append(*out, p)
				continue
			}
			if v != nil && gv != nil {
				missing(p, v, gv, out)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			*out = append(*out, path+" (not an array)")
			return
		}
		if len(w) == 0 || len(g) == 0 {
			return
		}
		union := unionOf(g)
		seen := map[string]bool{}
		for _, e := range w {
			var sub []string
			if u, isObj := union.(map[string]any); isObj {
				missing(path+"[]", e, u, &sub)
			} else {
				missing(path+"[]", e, g[0], &sub)
			}
			for _, s := range sub {
				if !seen[s] {
					seen[s] = true
					*out = append(*out, s)
				}
			}
		}
	}
}

// unionOf merges the objects of an array into one object with every key
// (the first non-null value of each).
func unionOf(arr []any) any {
	u := map[string]any{}
	for _, e := range arr {
		m, ok := e.(map[string]any)
		if !ok {
			return arr[0]
		}
		for k, v := range m {
			if cur, ok := u[k]; !ok || cur == nil {
				u[k] = v
			}
		}
	}
	return u
}

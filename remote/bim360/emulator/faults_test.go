package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestInjected429And503(t *testing.T) {
	f := newFixture(t, Options{}, "a.bin", Synthetic(1, 100))
	u := f.signedURL(t)

	f.s.SetOptions(Options{Rate429: 1})
	resp, b := f.c.get("/project/v1/hubs")
	var body struct {
		DeveloperMessage string `json:"developerMessage"`
	}
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" || json.Unmarshal(b, &body) != nil || body.DeveloperMessage != "Quota limit exceeded." {
		t.Errorf("injected 429: %d Retry-After %q body %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	f.s.SetOptions(Options{Rate429: 1, RetryAfter: 1500 * time.Millisecond})
	if resp, _ := f.c.get("/project/v1/hubs"); resp.Header.Get("Retry-After") != "2" {
		t.Errorf("RetryAfter 1.5 s: Retry-After %q", resp.Header.Get("Retry-After"))
	}
	// S3 answers throttling with its own 503 SlowDown.
	resp, b = f.c.do(http.MethodGet, u, nil, nil)
	if resp.StatusCode != 503 || parseS3Err(t, b).Code != "SlowDown" {
		t.Errorf("S3 under Rate429: %d %s", resp.StatusCode, b)
	}

	f.s.SetOptions(Options{Rate503: 1})
	if resp, _ := f.c.get(f.signedPath("")); resp.StatusCode != 503 {
		t.Errorf("injected 503 on OSS: %d", resp.StatusCode)
	}
	if resp, _ := f.c.do(http.MethodGet, u, nil, nil); resp.StatusCode != 503 {
		t.Errorf("injected 503 on S3: %d", resp.StatusCode)
	}

	// Probabilities in between: over a bounded loop both outcomes occur,
	// and the same seed gives the same sequence.
	seq := func(seed int64) []int {
		s := newServer(t, Options{Rate503: 0.5, Seed: seed})
		c := newClient(t, s)
		var out []int
		for range 40 {
			resp, _ := c.get("/project/v1/hubs")
			out = append(out, resp.StatusCode)
		}
		return out
	}
	a, b2 := seq(7), seq(7)
	n503 := 0
	for i := range a {
		if a[i] != b2[i] {
			t.Fatalf("seeded fault sequences differ at %d: %v vs %v", i, a, b2)
		}
		if a[i] == 503 {
			n503++
		}
	}
	if n503 == 0 || n503 == len(a) {
		t.Errorf("Rate503 0.5 gave %d of %d failures", n503, len(a))
	}
}

func TestConnectionReset(t *testing.T) {
	const size = 1 * MiB
	f := newFixture(t, Options{}, "a.bin", Synthetic(2, size))
	u := f.signedURL(t)
	f.s.SetOptions(Options{RateReset: 1})
	for range 5 {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || err == nil || !errors.Is(err, io.ErrUnexpectedEOF) || int64(len(b)) >= size {
			t.Fatalf("reset: status %d, %d bytes, err %v", resp.StatusCode, len(b), err)
		}
		checkSynthetic(t, b, 2, 0) // what did arrive is correct
	}
}

func TestBandwidthCapDeliversAllBytes(t *testing.T) {
	const size = 64 * KiB
	f := newFixture(t, Options{BytesPerSecond: 1 << 20}, "a.bin", Synthetic(4, size))
	resp, b := f.c.do(http.MethodGet, f.signedURL(t), nil, http.Header{"Range": {"bytes=1000-"}})
	if resp.StatusCode != 206 || int64(len(b)) != size-1000 {
		t.Fatalf("capped GET: %d, %d bytes", resp.StatusCode, len(b))
	}
	checkSynthetic(t, b, 4, 1000)
}

func TestRateLimits(t *testing.T) {
	s := newServer(t, Options{RateLimits: true})
	pid := s.AddProject(s.AddHub("H"), "P")
	item := s.AddFile(pid, s.TopFolder(pid, "Project Files"), "a.txt", Bytes([]byte("a")))
	c := newClient(t, s)
	tip := "/data/v1/projects/" + encodeID(pid) + "/items/" + encodeID(item) + "/tip"
	for i := range 50 {
		if resp, _ := c.get(tip); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i+1, resp.StatusCode)
		}
	}
	resp, b := c.get(tip)
	ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != 429 || ra < 1 || ra > 60 || string(b) != `{"developerMessage":"Quota limit exceeded."}` {
		t.Fatalf("51st GET tip: %d Retry-After %q body %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	// Limits are per endpoint: GET item (300/min) still works.
	if resp, _ := c.get("/data/v1/projects/" + encodeID(pid) + "/items/" + encodeID(item)); resp.StatusCode != 200 {
		t.Errorf("GET item while tip is limited: %d", resp.StatusCode)
	}
	// The window ends after a minute.
	s.Advance(61 * time.Second)
	if resp, _ := c.get(tip); resp.StatusCode != 200 {
		t.Errorf("after the window: %d", resp.StatusCode)
	}
	if got := s.Counters()[OpItemTip]; got != 52 {
		t.Errorf("counter %s = %d, want 52", OpItemTip, got)
	}
}

func TestRateLimitOSSSharedAndShortWindow(t *testing.T) {
	f := newFixture(t, Options{RateLimits: true, RateWindow: 2 * time.Second}, "a.bin", Synthetic(1, 10))
	for i := range 1000 {
		if resp, _ := f.c.get(f.signedPath("")); resp.StatusCode != 200 {
			t.Fatalf("OSS request %d: %d", i+1, resp.StatusCode)
		}
	}
	resp, _ := f.c.get(f.signedPath(""))
	if ra := resp.Header.Get("Retry-After"); resp.StatusCode != 429 || (ra != "1" && ra != "2") {
		t.Fatalf("1001st OSS request: %d Retry-After %q", resp.StatusCode, ra)
	}
	f.s.Advance(2 * time.Second)
	if resp, _ := f.c.get(f.signedPath("")); resp.StatusCode != 200 {
		t.Errorf("next window: %d", resp.StatusCode)
	}
}

func TestCounters(t *testing.T) {
	f := newFixture(t, Options{}, "a.bin", Synthetic(1, 10))
	f.s.ResetCounters()
	f.c.getJSON(contentsPath(f.pid, f.s.TopFolder(f.pid, "Project Files")), 200, nil)
	u := f.signedURL(t)
	f.c.do(http.MethodGet, u, nil, nil)
	f.c.do(http.MethodGet, u, nil, nil)
	f.c.get("/project/v1/hubs/b.nope/projects")
	got := f.s.Counters()
	want := map[string]int64{OpFolderContents: 1, OpSignedDownload: 1, OpS3Get: 2, OpProjects: 1}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("counter %q = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("counters = %v", got)
	}
	f.s.ResetCounters()
	if len(f.s.Counters()) != 0 {
		t.Error("ResetCounters left counts")
	}
}

// TestLatencyAndBandwidthApply checks that the knobs are in force without
// timing anything: with an hour of latency, or a 1 KiB/s cap on a 1 MiB
// body, a request bounded by a short deadline cannot complete, while the
// same request without the knob does.
func TestLatencyAndBandwidthApply(t *testing.T) {
	f := newFixture(t, Options{}, "a.bin", Synthetic(1, 1*MiB))
	u := f.signedURL(t)
	fetch := func(target string, auth bool) error {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer "+f.c.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := fetch(f.s.URL+"/project/v1/hubs", true); err != nil {
		t.Fatalf("without latency: %v", err)
	}
	if err := fetch(u, false); err != nil {
		t.Fatalf("without a cap: %v", err)
	}
	f.s.SetOptions(Options{Latency: time.Hour})
	if err := fetch(f.s.URL+"/project/v1/hubs", true); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("with an hour of latency: %v", err)
	}
	f.s.SetOptions(Options{BytesPerSecond: 1024})
	if err := fetch(u, false); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("1 MiB at 1 KiB/s: %v", err)
	}
}

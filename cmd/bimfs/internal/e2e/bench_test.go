package e2e

// Benchmarks print ratios against baselines measured in the same run:
//
//	go test -run '^$' -bench . -benchtime 1x ./cmd/bimfs/internal/e2e
//
// The emulators add a per-request latency and a per-connection bandwidth cap
// so that parallelism and caching matter as they do against the real services.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/demo"
	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/fusefs"
	bimemu "github.com/bimfs/bimfs/remote/bim360/emulator"
)

const (
	benchFileSize   = 1 << 30
	benchLatency    = 5 * time.Millisecond
	benchConnBPS    = 128 << 20 // per connection, like one S3 stream
	benchHTTPChunk  = 8 << 20
	benchHTTPStream = 8
)

func benchBIMOptions() bimemu.Options {
	return bimemu.Options{Latency: benchLatency, BytesPerSecond: benchConnBPS}
}

// readAll reads path sequentially with 1 MiB reads, as cp does.
func readAll(tb testing.TB, path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	n, err := io.CopyBuffer(io.Discard, f, make([]byte, 1<<20))
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// rawParallelHTTP fetches one BIM 360 item the way a hand-written client
// would: item → storage → signed URL → parallel Range GETs.
func rawParallelHTTP(tb testing.TB, s *bimemu.Server, projectID, itemID string) (time.Duration, int64) {
	tb.Helper()
	get := func(u string, auth bool, out any) {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer "+s.Token())
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			tb.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			tb.Fatalf("GET %s: %s", u, resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			tb.Fatal(err)
		}
	}
	start := time.Now()
	var item struct {
		Included []struct {
			Relationships struct {
				Storage struct {
					Data struct{ ID string }
				}
			}
		}
	}
	get(s.URL+"/data/v1/projects/"+url.PathEscape(projectID)+"/items/"+url.PathEscape(itemID), true, &item)
	storage := strings.TrimPrefix(item.Included[0].Relationships.Storage.Data.ID, "urn:adsk.objects:os.object:")
	bucket, object, _ := strings.Cut(storage, "/")
	var signed struct {
		URL  string
		Size int64
	}
	get(s.URL+"/oss/v2/buckets/"+bucket+"/objects/"+url.PathEscape(object)+"/signeds3download?minutesExpiration=60", true, &signed)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total int64
	next := make(chan int64)
	for i := 0; i < benchHTTPStream; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for off := range next {
				req, _ := http.NewRequest(http.MethodGet, signed.URL, nil)
				req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, min(off+benchHTTPChunk, signed.Size)-1))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					tb.Error(err)
					return
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				total += n
				mu.Unlock()
			}
		}()
	}
	for off := int64(0); off < signed.Size; off += benchHTTPChunk {
		next <- off
	}
	close(next)
	wg.Wait()
	return time.Since(start), total
}

func mibps(n int64, d time.Duration) float64 { return float64(n) / (1 << 20) / d.Seconds() }

// BenchmarkBIM360Read measures a cold sequential read of 1 GiB through the
// mount and a warm re-read, each divided by plain parallel HTTP of the
// same bytes from the same emulator.
func BenchmarkBIM360Read(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var tr bimTree
		var item string
		m := startMount(b, mountConfig{demo: demo.Options{Empty: true, BIM360: benchBIMOptions()}, cacheDir: true, setup: func(d *demo.Demo) {
			setupBIM(&tr)(d)
			item = d.BIM360.AddFile(tr.projectID, tr.files, "big.las", bimemu.Synthetic(9, benchFileSize))
		}})
		rawTime, rawBytes := rawParallelHTTP(b, m.demo.BIM360, tr.projectID, item)
		if rawBytes != benchFileSize {
			b.Fatalf("raw HTTP read %d bytes", rawBytes)
		}
		reportReads(b, "1 GiB file", "plain parallel HTTP", m.bim(tr.hub, tr.project, "Project Files", "big.las"), rawTime, rawBytes)
	}
}

// reportReads times a cold and then a warm sequential read of path and
// reports both against a baseline transfer of the same bytes.
func reportReads(b *testing.B, what, baseline, path string, rawTime time.Duration, rawBytes int64) {
	b.Helper()
	start := time.Now()
	if n := readAll(b, path); n != rawBytes {
		b.Fatalf("cold read %d bytes, want %d", n, rawBytes)
	}
	cold := time.Since(start)
	start = time.Now()
	readAll(b, path)
	warm := time.Since(start)
	b.ReportMetric(mibps(rawBytes, rawTime), "raw-MiB/s")
	b.ReportMetric(mibps(rawBytes, cold), "cold-MiB/s")
	b.ReportMetric(mibps(rawBytes, warm), "warm-MiB/s")
	b.ReportMetric(rawTime.Seconds()/cold.Seconds(), "cold/raw")
	b.ReportMetric(rawTime.Seconds()/warm.Seconds(), "warm/raw")
	b.Logf("%s: %s %v (%.0f MiB/s); mount cold %v (%.2f× its speed); warm %v (%.2f× its speed)",
		what, baseline, rawTime.Round(time.Millisecond), mibps(rawBytes, rawTime), cold.Round(time.Millisecond),
		rawTime.Seconds()/cold.Seconds(), warm.Round(time.Millisecond), rawTime.Seconds()/warm.Seconds())
}

// BenchmarkBIM360LsL measures `ls -l` of a 10,000-file folder cold (fresh
// mount) and warm, with the API calls each made.
func BenchmarkBIM360LsL(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var tr bimTree
		m := startMount(b, mountConfig{demo: demo.Options{Empty: true, BIM360: benchBIMOptions()}, setup: func(d *demo.Demo) {
			setupBIM(&tr)(d)
			scans := d.BIM360.AddFolder(tr.projectID, tr.files, "Scans")
			for j := 0; j < 10000; j++ {
				d.BIM360.AddFile(tr.projectID, scans, fmt.Sprintf("scan-%05d.las", j), bimemu.Synthetic(int64(j), int64(j)))
			}
		}})
		reportLsL(b, "10,000 files", m.bim(tr.hub, tr.project, "Project Files", "Scans"), "scan-", 10000,
			m.demo.BIM360.ResetCounters, m.demo.BIM360.Counters)
	}
}

// BenchmarkBIM360Revalidate measures what keeping an unchanged 10,000-file
// folder current costs once its listing is older than the metadata TTL
// (10 s here, longer than one cold listing): the first revalidation lists
// every page as every revalidation did before stamps (and takes the
// folder's stamp); every later one costs the stamp call alone.
func BenchmarkBIM360Revalidate(b *testing.B) {
	const ttl = 10 * time.Second
	for i := 0; i < b.N; i++ {
		var tr bimTree
		m := startMount(b, mountConfig{demo: demo.Options{Empty: true, BIM360: benchBIMOptions()},
			fs: fusefs.Options{Options: fs.Options{MetadataTTL: ttl}, EntryTimeout: -1, AttrTimeout: -1},
			setup: func(d *demo.Demo) {
				setupBIM(&tr)(d)
				scans := d.BIM360.AddFolder(tr.projectID, tr.files, "Scans")
				for j := 0; j < 10000; j++ {
					d.BIM360.AddFile(tr.projectID, scans, fmt.Sprintf("scan-%05d.las", j), bimemu.Synthetic(int64(j), int64(j)))
				}
			}})
		dir := m.bim(tr.hub, tr.project, "Project Files", "Scans")
		ls := func(wait bool) map[string]int64 {
			if wait {
				time.Sleep(ttl + 100*time.Millisecond)
			}
			m.demo.BIM360.ResetCounters()
			if err := exec.Command("ls", dir).Run(); err != nil {
				b.Fatal(err)
			}
			return m.demo.BIM360.Counters()
		}
		cold := ls(false)
		first, later := ls(true), ls(true)
		b.Logf("cold listing: %v", cold)
		pages := func(c map[string]int64) float64 { return float64(c["GET folder contents"] + c["GET folder"]) }
		b.ReportMetric(pages(first), "calls-before-stamp")
		b.ReportMetric(pages(later), "calls-with-stamp")
		b.Logf("revalidating an unchanged 10,000-file folder: %v calls without a stamp (%v), %v with it (%v); %.0f× fewer",
			pages(first), first, pages(later), later, pages(first)/max(pages(later), 1))
	}
}

// reportLsL times `ls -l dir` on a fresh mount (cold) and again (warm) and
// reports both with the API calls each made. The path down to dir is
// looked up first so "cold" measures the folder itself.
func reportLsL(b *testing.B, what, dir, prefix string, want int, reset func(), counters func() map[string]int64) {
	b.Helper()
	lsl := func() (time.Duration, map[string]int64) {
		reset()
		start := time.Now()
		out, err := exec.Command("ls", "-l", dir).Output()
		if err != nil || strings.Count(string(out), prefix) != want {
			b.Fatalf("ls -l %s: %v", dir, err)
		}
		return time.Since(start), counters()
	}
	exec.Command("stat", filepath.Dir(dir)).Run()
	cold, coldCalls := lsl()
	warm, warmCalls := lsl()
	b.ReportMetric(cold.Seconds(), "cold-s")
	b.ReportMetric(warm.Seconds(), "warm-s")
	b.ReportMetric(float64(total(coldCalls)), "cold-API-calls")
	b.ReportMetric(float64(total(warmCalls)), "warm-API-calls")
	b.Logf("ls -l %s: cold %v with %v; warm %v with %v", what, cold.Round(time.Millisecond), coldCalls, warm.Round(time.Millisecond), warmCalls)
}

func total(c map[string]int64) int64 {
	var n int64
	for _, v := range c {
		n += v
	}
	return n
}

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/demo"
	"github.com/bimfs/bimfs/remote/bimcloud"
	bcemu "github.com/bimfs/bimfs/remote/bimcloud/emulator"
)

func benchBCOptions() bcemu.Options {
	return bcemu.Options{Latency: benchLatency, BytesPerSecond: benchConnBPS}
}

// rawBlobDownload streams one blob the way the vendor's demo does: ticket,
// blob-server session, one get-blob-content stream.
func rawBlobDownload(tb testing.TB, s *bcemu.Server, blobID string) (time.Duration, int64) {
	tb.Helper()
	ms := s.DefaultModelServer()
	start := time.Now()
	post := func(u, ctype string, auth bool, body any) []byte {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(b))
		req.Header.Set("Content-Type", ctype)
		if auth {
			req.Header.Set("Authorization", "Bearer "+s.Token())
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			tb.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			tb.Fatalf("POST %s: %s %s", u, resp.Status, out)
		}
		return out
	}
	ticket := strings.Trim(string(post(s.URL+"/management/client/ticket-generator/get-ticket", "application/json", true,
		map[string]any{"type": "freeTicket", "resources": []string{ms}, "format": "base64"})), `"`)
	const ct = "application/vnd.graphisoft.teamwork.session-service-1.0.authentication-request-1.0+json"
	base := s.BlobServerURL(ms)
	var sess struct{ Data struct{ ID string } }
	json.Unmarshal(post(base+"/session-service/1.0/create-session", ct, false,
		map[string]any{"data-content-type": ct, "data": map[string]string{"username": bcemu.DefaultUser, "ticket": ticket}}), &sess)
	resp, err := http.Get(base + "/blob-store-service/1.0/get-blob-content?" + url.Values{"session-id": {sess.Data.ID}, "blob-id": {blobID}}.Encode())
	if err != nil {
		tb.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return time.Since(start), n
}

// BenchmarkBIMcloudRead: cold sequential read of a 1 GiB blob through the
// mount and a warm re-read, each divided by one plain get-blob-content
// stream of the same blob (the API has no ranges, so one stream is what a
// hand-written client gets).
func BenchmarkBIMcloudRead(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var blob string
		m := startMount(b, mountConfig{demo: demo.Options{BIMcloud: benchBCOptions()}, cacheDir: true, setup: func(d *demo.Demo) {
			dir := d.BIMcloud.AddFolder(bcemu.RootID, "Bench")
			blob = d.BIMcloud.AddBlob(dir, "big.pln", bcemu.Synthetic(3, benchFileSize), "")
		}})
		rawTime, rawBytes := rawBlobDownload(b, m.demo.BIMcloud, blob)
		if rawBytes != benchFileSize {
			b.Fatalf("raw read %d bytes", rawBytes)
		}
		reportReads(b, "1 GiB blob", "plain get-blob-content", m.bc("Bench", "big.pln"), rawTime, rawBytes)
	}
}

// BenchmarkBIMcloudLsL: `ls -l` of a 2,500-blob folder (three pages over
// the server's 1,000-result cap), cold and warm, with the API calls made.
func BenchmarkBIMcloudLsL(b *testing.B) {
	for i := 0; i < b.N; i++ {
		m := startMount(b, mountConfig{demo: demo.Options{BIMcloud: benchBCOptions()}, setup: func(d *demo.Demo) {
			dir := d.BIMcloud.AddFolder(bcemu.RootID, "Many")
			for j := 0; j < 2500; j++ {
				d.BIMcloud.AddBlob(dir, fmt.Sprintf("part-%04d.ifc", j), bcemu.Synthetic(int64(j), int64(j)), "")
			}
		}})
		reportLsL(b, "2,500 blobs", m.bc("Many"), "part-", 2500, m.demo.BIMcloud.ResetCounters, m.demo.BIMcloud.Counters)
	}
}

// BenchmarkBIMcloudUpload: a 1 GiB cp onto the mount divided by a raw
// batch upload of the same bytes with the same part size.
func BenchmarkBIMcloudUpload(b *testing.B) {
	const size = 1 << 30
	local := makeLocalFile(b, size)
	for i := 0; i < b.N; i++ {
		opts := benchBCOptions()
		opts.UploadDir = b.TempDir()
		m := startMount(b, mountConfig{demo: demo.Options{BIMcloud: opts}, setup: func(d *demo.Demo) {
			d.BIMcloud.AddFolder(bcemu.RootID, "Uploads")
		}})
		s := m.demo.BIMcloud
		ms := s.DefaultModelServer()
		f, _ := os.Open(local)
		start := time.Now()
		_, err := bimcloud.RawUpload(context.Background(), bimcloud.RawUploadRequest{
			BlobServerURL: s.BlobServerURL(ms), SessionID: s.Session(ms), BlobName: "/Uploads/raw.bin",
			Content: f, Size: size, PartSize: bimcloud.DefaultPartSize,
		})
		raw := time.Since(start)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		runCmd(b, "cp", local, m.bc("Uploads", "mounted.bin"))
		mounted := time.Since(start)
		if _, ok := s.Lookup("Project Root/Uploads/mounted.bin"); !ok {
			b.Fatal("the upload did not create the blob")
		}
		b.ReportMetric(mibps(size, raw), "raw-MiB/s")
		b.ReportMetric(mibps(size, mounted), "mount-MiB/s")
		b.ReportMetric(raw.Seconds()/mounted.Seconds(), "mount/raw")
		b.Logf("1 GiB upload: raw batch upload %v (%.0f MiB/s); cp onto the mount %v (%.2f× raw speed)",
			raw.Round(time.Millisecond), mibps(size, raw), mounted.Round(time.Millisecond), raw.Seconds()/mounted.Seconds())
	}
}

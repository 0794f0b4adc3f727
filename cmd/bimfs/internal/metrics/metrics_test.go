package metrics

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/apistats"
	"github.com/bimfs/bimfs/cmd/bimfs/internal/control"
)

type fixed control.Status

func (f fixed) Status() control.Status { return control.Status(f) }

func TestScrape(t *testing.T) {
	src := fixed{
		Accounts: []control.Account{{Name: "a"}},
		Uploads: []control.Upload{
			{State: "uploading", Size: 100, Uploaded: 40},
			{State: "failed", Size: 10},
		},
		Cache: &control.Cache{Hits: 7, Misses: 3, BytesFetched: 4096, MemoryBytes: 1, DiskBytes: 2},
		API:   []apistats.Endpoint{{Name: "bim360.GetFolderContents", Requests: 5, Throttled: 2, Retries: 2, Errors: 2}},
	}
	s, err := Serve("127.0.0.1:0", src)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := http.Get("http://" + s.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`bimfs_api_requests_total{endpoint="bim360.GetFolderContents"} 5`,
		`bimfs_api_throttled_total{endpoint="bim360.GetFolderContents"} 2`,
		`bimfs_cache_hits_total 7`, `bimfs_cache_misses_total 3`, `bimfs_read_bytes_total 4096`,
		`bimfs_cache_bytes{tier="disk"} 2`,
		`bimfs_uploads{state="uploading"} 1`, `bimfs_uploads{state="failed"} 1`, `bimfs_uploads{state="pending"} 0`,
		`bimfs_upload_staged_bytes 110`, `bimfs_upload_progress_bytes 40`, `bimfs_accounts 1`,
		`process_open_fds`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

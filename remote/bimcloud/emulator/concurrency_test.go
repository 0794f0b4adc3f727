package emulator

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
)

// TestConcurrentUse downloads, lists and changes the tree from several
// goroutines at once; run with -race.
func TestConcurrentUse(t *testing.T) {
	h := newHarness(t, Options{})
	srv, tok := h.srv, h.srv.Token()
	dir := srv.AddFolder(RootID, "D")
	var blobs []string
	for i := range 8 {
		blobs = append(blobs, srv.AddBlob(dir, fmt.Sprintf("b%d", i), Synthetic(int64(i), 256*KiB), ""))
	}
	base, sid := h.session(tok, srv.DefaultModelServer())

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i, id := range blobs {
		wg.Go(func() {
			for range 5 {
				q := url.Values{"session-id": {sid}, "blob-id": {id}}
				resp, err := h.hc.Get(base + "/blob-store-service/1.0/get-blob-content?" + q.Encode())
				if err != nil {
					errs <- err
					return
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || err != nil || n != 256*KiB {
					errs <- fmt.Errorf("blob %d: %d, %d bytes, %v", i, resp.StatusCode, n, err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			srv.AddBlob(dir, fmt.Sprintf("new%d", i), Bytes([]byte("n")), "")
			st, _ := h.apiCtx(context.Background(), "POST", "get-resources-by-criterion", tok, nil, obj{"$eq": obj{"$parentId": dir}})
			if st != http.StatusOK {
				errs <- fmt.Errorf("listing: %d", st)
			}
			srv.Counters()
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// BenchmarkGetBlobContent measures the emulator's own download throughput,
// the ceiling for client benchmarks.
func BenchmarkGetBlobContent(b *testing.B) {
	srv := New(Options{})
	defer srv.Close()
	const size = 64 * MiB
	id := srv.AddBlob(RootID, "big.bin", Synthetic(1, size), "")
	base := srv.BlobServerURL(srv.DefaultModelServer())
	ms := srv.DefaultModelServer()
	srv.mu.Lock()
	srv.sessions["bench"] = &session{modelServerID: ms, exp: farFuture}
	srv.mu.Unlock()
	u := base + "/blob-store-service/1.0/get-blob-content?" + url.Values{"session-id": {"bench"}, "blob-id": {id}}.Encode()
	b.SetBytes(size)
	for b.Loop() {
		resp, err := http.Get(u)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n != size {
			b.Fatalf("%d bytes", n)
		}
	}
}

package emulator

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// TestConcurrentWrites runs uploads, part PUTs and item creation in
// parallel (meant for -race): every upload lands intact, and of two
// creations of one name exactly one wins.
func TestConcurrentWrites(t *testing.T) {
	f := newWriteFixture(t, Options{MinPartSize: 1})
	const n = 6
	var wg sync.WaitGroup
	errs := make(chan error, 4*n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &client{t: t, s: f.s, token: f.c.token, hc: &http.Client{}}
			name := fmt.Sprintf("file %d.bin", i)
			_, bucket, key := createStorage(c, f.pid, f.files, name)
			var u uploadURLs
			c.getJSON(uploadPath(bucket, key, "parts=3"), 200, &u)
			var pw sync.WaitGroup
			for p := range 3 {
				pw.Add(1)
				go func() {
					defer pw.Done()
					req, _ := http.NewRequest(http.MethodPut, u.URLs[p], bytes.NewReader(bytes.Repeat([]byte{byte('a' + i)}, 100*(p+1))))
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						errs <- err
						return
					}
					resp.Body.Close()
					if resp.StatusCode != 200 {
						errs <- fmt.Errorf("PUT %d/%d: %d", i, p, resp.StatusCode)
					}
				}()
			}
			pw.Wait()
			c.complete(bucket, key, obj{"uploadKey": u.UploadKey, "size": 600}, 200)
			resp, b := c.send(http.MethodPost, projPath(f.pid, "/items"), itemBody(f.files, name, storagePrefix+bucket+"/"+key), vndJSON)
			if resp.StatusCode != 201 {
				errs <- fmt.Errorf("POST items %d: %d %s", i, resp.StatusCode, b)
			}
		}()
	}
	statuses := make(chan int, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &client{t: t, s: f.s, token: f.c.token, hc: &http.Client{}}
			resp, _ := c.send(http.MethodPost, projPath(f.pid, "/folders"), folderBody(f.files, "Same"), vndJSON)
			statuses <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(errs)
	close(statuses)
	for err := range errs {
		t.Error(err)
	}
	if a, b := <-statuses, <-statuses; a+b != 201+409 {
		t.Errorf("two creations of one folder: %d and %d", a, b)
	}
	for i := range n {
		id := f.s.FindChild(f.pid, f.files, fmt.Sprintf("file %d.bin", i))
		got, err := f.s.ReadTip(f.pid, id)
		want := bytes.Repeat([]byte{byte('a' + i)}, 600)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("file %d: %d bytes, %v", i, len(got), err)
		}
	}
}

func TestUploadEmptyFile(t *testing.T) {
	f := newWriteFixture(t, Options{})
	it := createFile(f.c, f.pid, f.files, "empty.txt", nil)
	if got, err := f.s.ReadTip(f.pid, it); err != nil || len(got) != 0 {
		t.Fatalf("ReadTip = %q, %v", got, err)
	}
	vs := f.s.ItemVersions(f.pid, it)
	if len(vs) != 1 || vs[0].Size != 0 || vs[0].Name != "empty.txt" {
		t.Errorf("versions = %+v", vs)
	}
}

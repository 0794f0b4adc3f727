package davfs_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/davfs"
	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/remotetest"
)

// putCut sends a PUT announcing more body than it sends, then hangs up.
func putCut(t *testing.T, s *server, path string, sent string, announced int) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s", path, announced, sent)
	time.Sleep(100 * time.Millisecond)
	conn.Close()
}

// TestCutPutSavesNothing: a client that goes away in the middle of a PUT
// makes no version of partial content, of a new file or of an existing one.
func TestCutPutSavesNothing(t *testing.T) {
	m := newMem(map[string][]byte{pf + "/model.ifc": []byte("complete model v1")})
	s := newServer(t, davfs.Options{}, fs.Account{Name: "acme", Backend: m})

	putCut(t, s, url("acme", pf, "model.ifc"), "half a mo", 1000)
	putCut(t, s, url("acme", pf, "new.ifc"), "half a ne", 1000)
	// Give the server time to see the connection end and clean up.
	deadline := time.Now().Add(5 * time.Second)
	for {
		ms := propfind(t, s, url("acme", pf)+"/", "1")
		if len(ms.Responses) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("listing still shows %d entries: %+v", len(ms.Responses), ms.Responses)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, _ := m.Content(pf + "/model.ifc"); string(got) != "complete model v1" || versions(m, pf+"/model.ifc") != 1 {
		t.Errorf("model.ifc after a cut PUT: %q, %d versions", got, versions(m, pf+"/model.ifc"))
	}
	if names := m.Names(pf); strings.Join(names, ",") != "model.ifc" {
		t.Errorf("the service has %v after cut PUTs", names)
	}
	if n := m.Calls(remotetest.OpUpload); n != 0 {
		t.Errorf("%d uploads after cut PUTs; want none", n)
	}
	// A whole PUT afterwards is one new version.
	resp, body := s.do(t, http.MethodPut, url("acme", pf, "model.ifc"), strings.NewReader("complete model v2"))
	expect(t, resp, body, http.StatusCreated)
	if got, _ := m.Content(pf + "/model.ifc"); string(got) != "complete model v2" || versions(m, pf+"/model.ifc") != 2 {
		t.Errorf("after a whole PUT: %q, %d versions", got, versions(m, pf+"/model.ifc"))
	}
}

// TestCopyFailingSourceSavesNothing: a COPY whose source cannot be read
// leaves the destination as it was.
func TestCopyFailingSourceSavesNothing(t *testing.T) {
	m := newMem(map[string][]byte{pf + "/src.bin": content(3, 3<<20), pf + "/dst.bin": []byte("keep me")})
	s := newServer(t, davfs.Options{}, fs.Account{Name: "acme", Backend: m})
	m.SetFault(func(ctx context.Context, op string, id remote.ID) error {
		if op == remotetest.OpReadRange {
			return &remote.Error{Kind: remote.Unavailable, Op: "memory.ReadRange", Message: "storage is down"}
		}
		return nil
	})
	resp, body := s.do(t, "COPY", url("acme", pf, "src.bin"), nil, "Destination", s.url+url("acme", pf, "dst.bin"))
	if resp.StatusCode < 500 {
		t.Errorf("COPY with an unreadable source: %s %q", resp.Status, body)
	}
	resp, body = s.do(t, "COPY", url("acme", pf, "src.bin"), nil, "Destination", s.url+url("acme", pf, "new.bin"))
	if resp.StatusCode < 500 {
		t.Errorf("COPY to a new name with an unreadable source: %s %q", resp.Status, body)
	}
	m.SetFault(nil)
	if got, _ := m.Content(pf + "/dst.bin"); string(got) != "keep me" || versions(m, pf+"/dst.bin") != 1 {
		t.Errorf("dst.bin after a failed COPY: %q, %d versions", got, versions(m, pf+"/dst.bin"))
	}
	names := m.Names(pf)
	sort.Strings(names)
	if got := strings.Join(names, ","); got != "dst.bin,src.bin" {
		t.Errorf("the service has %s", got)
	}
	if ms := propfind(t, s, url("acme", pf)+"/", "1"); len(ms.Responses) != 3 {
		t.Errorf("listing after failed COPYs: %+v", ms.Responses)
	}
}

package davfs_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bimfs/bimfs/fs"
	"github.com/bimfs/bimfs/fs/davfs"
	"github.com/bimfs/bimfs/remote/remotetest"
)

func TestProppatchWin32Times(t *testing.T) {
	m := newMem(map[string][]byte{pf + "/map.tif": []byte("raster")})
	s := newServer(t, davfs.Options{}, fs.Account{Name: "acme", Backend: m})
	p := url("acme", pf, "map.tif")
	// What Windows sends after copying a file onto a WebDAV drive.
	win := `<?xml version="1.0" encoding="utf-8" ?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>
<Z:Win32CreationTime>Tue, 01 Sep 2026 08:00:00 GMT</Z:Win32CreationTime>
<Z:Win32LastAccessTime>Tue, 01 Sep 2026 08:00:00 GMT</Z:Win32LastAccessTime>
<Z:Win32LastModifiedTime>Tue, 01 Sep 2026 08:30:00 GMT</Z:Win32LastModifiedTime>
<Z:Win32FileAttributes>00000020</Z:Win32FileAttributes>
</D:prop></D:set></D:propertyupdate>`
	m.ResetCalls()
	resp, body := s.do(t, "PROPPATCH", p, strings.NewReader(win))
	expect(t, resp, body, http.StatusMultiStatus)
	if !strings.Contains(body, "200 OK") || strings.Contains(body, "403") {
		t.Errorf("Win32 properties not accepted:\n%s", body)
	}
	// Nothing was read or staged for it.
	if n := m.Calls(remotetest.OpReadRange); n != 0 {
		t.Errorf("PROPPATCH read %d ranges", n)
	}
	ms := propfind(t, s, p, "0")
	want := time.Date(2026, 9, 1, 8, 30, 0, 0, time.UTC).Format(http.TimeFormat)
	if got := ms.Responses[0].Prop.Modified; got != want {
		t.Errorf("getlastmodified %q; want %q (Win32LastModifiedTime)", got, want)
	}
	// On a folder, too.
	resp, body = s.do(t, "PROPPATCH", url("acme", pf), strings.NewReader(win))
	expect(t, resp, body, http.StatusMultiStatus)
	if strings.Contains(body, "403") {
		t.Errorf("folder PROPPATCH:\n%s", body)
	}

	// Other properties are refused, all or nothing.
	other := `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:X="urn:example"><D:set><D:prop>
<X:color>red</X:color><Z:Win32LastModifiedTime xmlns:Z="urn:schemas-microsoft-com:">Wed, 02 Sep 2026 08:00:00 GMT</Z:Win32LastModifiedTime>
</D:prop></D:set></D:propertyupdate>`
	resp, body = s.do(t, "PROPPATCH", p, strings.NewReader(other))
	expect(t, resp, body, http.StatusMultiStatus)
	if !strings.Contains(body, "403 Forbidden") || !strings.Contains(body, "424 Failed Dependency") {
		t.Errorf("custom property:\n%s", body)
	}
	if got := propfind(t, s, p, "0").Responses[0].Prop.Modified; got != want {
		t.Errorf("a refused PROPPATCH changed the time to %q", got)
	}
}

package davfs

import (
	"context"
	"encoding/xml"
	"net/http"
	"strings"
	"time"

	"golang.org/x/net/webdav"

	"github.com/bimfs/bimfs/fs"
)

// Properties. The export keeps no dead properties of its own (the services
// have no place for them). Windows sets its Win32 properties with PROPPATCH
// after every copy: they are accepted, like chmod on the mount, and
// Win32LastModifiedTime sets the file's modification time as utimes does
// (kept while the server runs; the service keeps its own times). Any other
// property is refused with 403.

// win32NS is the namespace of Windows' file properties.
const win32NS = "urn:schemas-microsoft-com:"

var (
	_ webdav.DeadPropsHolder = (*file)(nil)
	_ webdav.DeadPropsHolder = (*dirFile)(nil)
)

// DeadProps implements webdav.DeadPropsHolder: there are none.
func (f *file) DeadProps() (map[xml.Name]webdav.Property, error) { return nil, nil }

// Patch implements webdav.DeadPropsHolder.
func (f *file) Patch(patches []webdav.Proppatch) ([]webdav.Propstat, error) {
	return patchProps(f.ctx, f.f, patches), nil
}

// DeadProps implements webdav.DeadPropsHolder: there are none.
func (d *dirFile) DeadProps() (map[xml.Name]webdav.Property, error) { return nil, nil }

// Patch implements webdav.DeadPropsHolder.
func (d *dirFile) Patch(patches []webdav.Proppatch) ([]webdav.Propstat, error) {
	return patchProps(d.ctx, nil, patches), nil
}

// patchProps applies patches to file (nil for a folder) all or nothing:
// if one property is refused, the others fail with 424.
func patchProps(ctx context.Context, file *fs.File, patches []webdav.Proppatch) []webdav.Propstat {
	ok := webdav.Propstat{Status: http.StatusOK}
	refused := webdav.Propstat{Status: http.StatusForbidden}
	var mtime *time.Time
	for _, p := range patches {
		for _, prop := range p.Props {
			name := webdav.Property{XMLName: prop.XMLName}
			if prop.XMLName.Space != win32NS || !strings.HasPrefix(prop.XMLName.Local, "Win32") {
				refused.Props = append(refused.Props, name)
				continue
			}
			if prop.XMLName.Local == "Win32LastModifiedTime" && !p.Remove {
				if t, err := http.ParseTime(strings.TrimSpace(string(prop.InnerXML))); err == nil {
					mtime = &t
				}
			}
			ok.Props = append(ok.Props, name)
		}
	}
	if len(refused.Props) > 0 {
		failed := webdav.Propstat{Status: http.StatusFailedDependency, Props: ok.Props}
		if len(failed.Props) == 0 {
			return []webdav.Propstat{refused}
		}
		return []webdav.Propstat{refused, failed}
	}
	if mtime != nil && file != nil {
		// A read-only account keeps its times; the property is still
		// accepted, as chmod is, so a copy to it does not fail here.
		file.SetAttr(ctx, nil, nil, mtime)
	}
	return []webdav.Propstat{ok}
}

package asfm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Names of the version attributes a bimfs mount gives every file (see
// package fs).
const (
	xattrID        = "user.bimfs.id"
	xattrVersion   = "user.bimfs.version"
	xattrProjectID = "user.bimfs.project_id"
	xattrUpload    = "user.bimfs.upload"
)

// Create writes a manifest at out for the file at onMount, a file on a
// bimfs mount, from its version attributes (no network call). The
// manifest's SourceFileName is the file's name: copy the file beside the
// manifest, or let `bimfs asfm update` download it. An existing out is
// not overwritten.
func Create(onMount, out string) error {
	get := func(name string) (string, error) {
		buf := make([]byte, 1024)
		n, err := unix.Getxattr(onMount, name, buf)
		if errors.Is(err, unix.ENODATA) || errors.Is(err, unix.ENOTSUP) {
			return "", fmt.Errorf("%s has no %s: not a BIM 360 file on a bimfs mount, or not uploaded yet", onMount, name)
		}
		if err != nil {
			return "", fmt.Errorf("%s: reading %s: %w", onMount, name, err)
		}
		return string(buf[:n]), nil
	}
	if state, err := get(xattrUpload); err == nil && state != "committed" {
		return fmt.Errorf("%s has content the service does not have yet (%s: %s); create the manifest once it is uploaded", onMount, xattrUpload, state)
	}
	project, err := get(xattrProjectID)
	if err != nil {
		return err
	}
	item, err := get(xattrID)
	if err != nil {
		return err
	}
	vs, err := get(xattrVersion)
	if err != nil {
		return err
	}
	v, err := strconv.Atoi(vs)
	if err != nil {
		return fmt.Errorf("%s: %s is %q, not a number", onMount, xattrVersion, vs)
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(New(project, item, v, filepath.Base(onMount))); err != nil {
		f.Close()
		os.Remove(out)
		return err
	}
	return f.Close()
}

// DefaultName is the manifest name for data file name: its stem with
// ".asfm" ("Site Plan.dwg" → "Site Plan.asfm").
func DefaultName(name string) string {
	base := filepath.Base(name)
	if ext := filepath.Ext(base); ext != base {
		base = strings.TrimSuffix(base, ext)
	}
	return base + ".asfm"
}

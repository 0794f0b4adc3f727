package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// checkMountpoint resolves dir and refuses one that is missing, not a
// directory, already a mount point, or (unless nonEmpty) not empty.
func checkMountpoint(dir string, nonEmpty bool) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		if os.IsNotExist(err) {
			return "", fmt.Errorf("mountpoint %s does not exist; create it with mkdir -p %s", abs, abs)
		}
		// ENOTCONN: a crashed mount left the directory behind.
		return "", fmt.Errorf("mountpoint %s is unusable (%v); if an old bimfs died, run fusermount3 -u %s", abs, err, abs)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("mountpoint %s is not a directory", abs)
	}
	if isMounted(abs) {
		return "", fmt.Errorf("mountpoint %s is busy: something is already mounted there (unmount it with bimfs unmount %s)", abs, abs)
	}
	if !nonEmpty {
		d, err := os.Open(abs)
		if err != nil {
			return "", fmt.Errorf("mountpoint %s: %w", abs, err)
		}
		names, err := d.Readdirnames(1)
		d.Close()
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("mountpoint %s: %w", abs, err)
		}
		if len(names) > 0 {
			return "", fmt.Errorf("mountpoint %s is not empty (it has %q); its files would be hidden while mounted: empty it, or mount anyway with -o nonempty or --allow-non-empty", abs, names[0])
		}
	}
	return abs, nil
}

// isMounted reports whether dir appears as a mount point in
// /proc/self/mountinfo.
func isMounted(dir string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMountinfo(fields[4]) == dir {
			return true
		}
	}
	return false
}

// unescapeMountinfo undoes the octal escapes (\040 for space …) of
// /proc/self/mountinfo paths.
func unescapeMountinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%3o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

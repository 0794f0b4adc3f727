package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestServeWebDAVRefusesUnsafeListeners(t *testing.T) {
	home := t.TempDir()
	mnt := t.TempDir()
	cases := []struct {
		args []string
		says string
	}{
		{[]string{"serve"}, "serve needs a protocol"},
		{[]string{"serve", "ftp"}, "serve needs a protocol"},
		{[]string{"serve", "webdav", "--demo", "--addr", "0.0.0.0:18443"}, "needs TLS (a certificate and a key) and authentication"},
		{[]string{"serve", "webdav", "--demo", "--addr", "192.0.2.1:18443", "--cert", "c.pem", "--key", "k.pem"}, "needs authentication (an htpasswd file)"},
		{[]string{"serve", "webdav", "--demo", "--htpasswd", "users"}, "Basic auth would send passwords in clear text"},
		{[]string{"serve", "webdav", "--demo", "extra"}, "takes no arguments"},
		{[]string{"mount", "--demo", "--webdav", ":18443", mnt}, "needs TLS"},
	}
	for _, c := range cases {
		out, code := run(t, home, c.args...)
		if code != exitUsage || !strings.Contains(out, c.says) {
			t.Errorf("bimfs %s: exit %d, %q; want exit %d saying %q", strings.Join(c.args, " "), code, out, exitUsage, c.says)
		}
	}
}

// TestServeWebDAVDemo runs `bimfs serve webdav --demo` on loopback, saves
// and reads a file through it, and stops it with SIGTERM.
func TestServeWebDAVDemo(t *testing.T) {
	home := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bimfsBin, "serve", "webdav", "--demo", "--addr", addr)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	})
	base := "http://" + addr + "/"
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest("PROPFIND", base, nil)
		req.Header.Set("Depth", "1")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusMultiStatus || !strings.Contains(string(body), "/bim360-demo/") {
				t.Fatalf("PROPFIND /: %s %s", resp.Status, body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the export did not answer: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The demo's BIMcloud account is writable at its top folder.
	ls := func() string {
		req, _ := http.NewRequest("PROPFIND", base+"bimcloud-demo/", nil)
		req.Header.Set("Depth", "1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	first := firstFolder(ls())
	if first == "" {
		t.Fatalf("no folder in bimcloud-demo:\n%s", ls())
	}
	target := "http://" + addr + first + "from-serve-test.txt"
	req, _ := http.NewRequest(http.MethodPut, target, strings.NewReader("saved over WebDAV\n"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT %s: %s\n%s", target, resp.Status, logs.String())
	}
	resp, err = http.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "saved over WebDAV\n" {
		t.Fatalf("GET: %s %q", resp.Status, b)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("serve exited with %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	if !strings.Contains(logs.String(), "serving WebDAV") {
		t.Errorf("no start line in the log:\n%s", logs.String())
	}
}

// firstFolder returns the href of the first collection below the listed
// one in a PROPFIND answer.
func firstFolder(multistatus string) string {
	hrefs := strings.Split(multistatus, "<D:href>")
	if len(hrefs) < 3 {
		return ""
	}
	for _, h := range hrefs[2:] {
		href, _, _ := strings.Cut(h, "</D:href>")
		if strings.HasSuffix(href, "/") {
			return href
		}
	}
	return ""
}

// TestMountWithWebDAV runs `bimfs mount --demo --webdav ADDR`: one
// process, one core; a file saved through either front end is read
// through the other.
func TestMountWithWebDAV(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
	home, mnt := t.TempDir(), t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bimfsBin, "mount", "--demo", "--webdav", addr, mnt)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if isMounted(mnt) {
			exec.Command("fusermount3", "-u", "-z", mnt).Run()
		}
		cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	})
	deadline := time.Now().Add(30 * time.Second)
	for !isMounted(mnt) {
		if time.Now().After(deadline) {
			t.Fatalf("mount did not appear:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	groups, err := os.ReadDir(filepath.Join(mnt, "bimcloud-demo"))
	if err != nil || len(groups) == 0 || !groups[0].IsDir() {
		t.Fatalf("bimcloud-demo: %v %v", groups, err)
	}
	group := groups[0].Name()
	if err := os.WriteFile(filepath.Join(mnt, "bimcloud-demo", group, "via-mount.txt"), []byte("written on the mount\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr + "/bimcloud-demo/" + url.PathEscape(group) + "/"
	var resp *http.Response
	for {
		resp, err = http.Get(base + "via-mount.txt")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("GET: %v\n%s", err, logs.String())
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "written on the mount\n" {
		t.Errorf("WebDAV reads %s %q", resp.Status, b)
	}
	req, _ := http.NewRequest(http.MethodPut, base+"via-webdav.txt", strings.NewReader("written over WebDAV\n"))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %s", resp.Status)
	}
	if got, err := os.ReadFile(filepath.Join(mnt, "bimcloud-demo", group, "via-webdav.txt")); err != nil || string(got) != "written over WebDAV\n" {
		t.Errorf("the mount reads %q, %v", got, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("mount exited with %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("mount did not stop on SIGTERM")
	}
	if isMounted(mnt) {
		t.Error("still mounted after SIGTERM")
	}
}

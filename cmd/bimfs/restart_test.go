package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bimemu "github.com/bimfs/bimfs/remote/bim360/emulator"
)

// TestRestartListsFromSavedListings: after a remount on the same cache, ls
// -l of a 10,000-file folder listed before answers from the saved listings,
// even when they are older than the metadata TTL: every request to the
// service now takes a minute, so a single blocking call would hold ls for
// at least that long. Revalidation runs in the background.
func TestRestartListsFromSavedListings(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
	const stall = time.Minute
	emu := bimemu.New(bimemu.Options{})
	defer emu.Close()
	hub := emu.AddHub("Hub")
	project := emu.AddProject(hub, "Project")
	scans := emu.AddFolder(project, emu.TopFolder(project, "Project Files"), "Scans")
	for i := range 10000 {
		emu.AddFile(project, scans, fmt.Sprintf("scan-%05d.las", i), bimemu.Synthetic(int64(i), 1))
	}
	home := t.TempDir()
	secret := filepath.Join(home, "secret")
	os.WriteFile(secret, []byte(emu.Options().ClientSecret), 0o600)
	cfg := filepath.Join(home, "config")
	os.WriteFile(cfg, []byte(fmt.Sprintf("cache_dir = %s\nmetadata_ttl = 1s\n[account work]\nservice = bim360\nbase_url = %s\nclient_id = %s\nclient_secret_file = %s\ntwo_legged = true\n",
		filepath.Join(home, "cache"), emu.URL, emu.Options().ClientID, secret)), 0o600)
	mnt := t.TempDir()
	dir := filepath.Join(mnt, "work", "Hub", "Project", "Project Files", "Scans")
	ls := func() string {
		t.Helper()
		out, err := exec.Command("ls", "-l", dir).Output()
		if err != nil {
			t.Fatalf("ls -l: %v", err)
		}
		if n := strings.Count(string(out), "scan-"); n != 10000 {
			t.Fatalf("ls -l shows %d files", n)
		}
		return string(out)
	}

	daemon := startDaemon(t, home, cfg, mnt)
	ls()
	daemon.Process.Signal(syscall.SIGTERM)
	daemon.Wait()
	time.Sleep(1500 * time.Millisecond) // the saved listings are older than the TTL now

	daemon = startDaemon(t, home, cfg, mnt)
	defer func() {
		daemon.Process.Signal(syscall.SIGTERM)
		daemon.Wait()
	}()
	o := emu.Options()
	o.Latency = stall
	emu.SetOptions(o)
	start := time.Now()
	ls()
	d := time.Since(start)
	t.Logf("ls -l of 10,000 files after the restart: %v", d)
	if d >= stall*2/3 {
		t.Fatalf("ls -l after a restart took %v: it waited for the service", d)
	}
	o.Latency = 0
	emu.SetOptions(o)
}

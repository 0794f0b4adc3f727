package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	bimemu "github.com/bimfs/bimfs/remote/bim360/emulator"
)

// startDaemon runs `bimfs mount` as a child process and waits for the mount.
func startDaemon(t *testing.T, home, cfg, mnt string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bimfsBin, "mount", "--config", cfg, mnt)
	cmd.Env = testEnv(home)
	logf, err := os.Create(filepath.Join(home, fmt.Sprintf("bimfs-%d.log", time.Now().UnixNano())))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !isMounted(mnt) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("mount did not appear:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cmd
}

// TestSIGKILLMidUploadResumes kills the mount daemon while a file is being
// uploaded, mounts again with the same cache directory and checks that
// the journaled upload completes with the right bytes.
func TestSIGKILLMidUploadResumes(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
	emu := bimemu.New(bimemu.Options{BytesPerSecond: 4 << 20, MinPartSize: 1 << 20, PartDir: t.TempDir()})
	defer emu.Close()
	hub := emu.AddHub("Crash Hub")
	project := emu.AddProject(hub, "Crash Project")
	files := emu.TopFolder(project, "Project Files")

	home := t.TempDir()
	secret := filepath.Join(home, "secret")
	os.WriteFile(secret, []byte(emu.Options().ClientSecret), 0o600)
	cfg := filepath.Join(home, "config")
	os.WriteFile(cfg, []byte(fmt.Sprintf("cache_dir = %s\n[account crash]\nservice = bim360\nbase_url = %s\nclient_id = %s\nclient_secret_file = %s\ntwo_legged = true\n",
		filepath.Join(home, "cache"), emu.URL, emu.Options().ClientID, secret)), 0o600)
	mnt := t.TempDir()

	data := make([]byte, 24<<20)
	for i := range data {
		data[i] = byte(i*7 + i/4096)
	}
	local := filepath.Join(home, "model.ifc")
	os.WriteFile(local, data, 0o600)

	daemon := startDaemon(t, home, cfg, mnt)
	target := filepath.Join(mnt, "crash", "Crash Hub", "Crash Project", "Project Files", "model.ifc")
	cp := exec.Command("cp", local, target)
	if err := cp.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for emu.Counters()[bimemu.OpS3Put] == 0 {
		if time.Now().After(deadline) {
			t.Fatal("upload never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	daemon.Process.Signal(syscall.SIGKILL)
	daemon.Wait()
	cp.Wait() // fails: the daemon is gone
	exec.Command("umount", "-l", mnt).Run()
	if emu.FindChild(project, files, "model.ifc") != "" {
		t.Fatal("the upload finished before the kill; the test proves nothing")
	}

	daemon = startDaemon(t, home, cfg, mnt)
	defer func() {
		daemon.Process.Signal(syscall.SIGTERM)
		daemon.Wait()
	}()
	deadline = time.Now().Add(2 * time.Minute)
	for {
		if id := emu.FindChild(project, files, "model.ifc"); id != "" {
			got, err := emu.ReadTip(project, id)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("resumed upload: %d bytes, %v", len(got), err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the staged upload was not resumed after remount")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The mount shows the committed file with its size.
	fi, err := os.Stat(target)
	if err != nil || fi.Size() != int64(len(data)) {
		t.Fatalf("stat after resume: %v %v", fi, err)
	}
}

package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bimemu "github.com/bimfs/bimfs/remote/bim360/emulator"
	bcemu "github.com/bimfs/bimfs/remote/bimcloud/emulator"
)

func writeConfig(t *testing.T, home, text string) string {
	t.Helper()
	p := filepath.Join(home, "config")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func checkTokenFile(t *testing.T, home, account string) {
	t.Helper()
	p := filepath.Join(home, ".config", "bimfs", "tokens", account+".json")
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatalf("token file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %o, want 600", fi.Mode().Perm())
	}
}

// TestLoginBIM360WithBrowser runs `bimfs login` against the emulator: the
// URL it prints is opened the way a browser would, the emulator consents
// and redirects to bimfs's loopback callback, and the token is stored 0600.
func TestLoginBIM360WithBrowser(t *testing.T) {
	emu := bimemu.New(bimemu.Options{})
	defer emu.Close()
	home := t.TempDir()
	cfg := writeConfig(t, home, fmt.Sprintf("[account work]\nservice = bim360\nbase_url = %s\nclient_id = %s\nredirect_uri = http://127.0.0.1:0/callback\n",
		emu.URL, emu.Options().ClientID))
	cmd := exec.Command(bimfsBin, "login", "--config", cfg, "--no-browser", "work")
	cmd.Env = testEnv(home)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var out strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		opened := false
		for sc.Scan() {
			line := sc.Text()
			out.WriteString(line + "\n")
			if u := strings.TrimSpace(line); !opened && strings.HasPrefix(u, emu.URL+"/authentication/v2/authorize") {
				opened = true
				// The "browser": follow the consent redirect to the callback.
				resp, err := http.Get(u)
				if err != nil {
					done <- err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("login: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "Logged in to work") {
		t.Fatalf("login output:\n%s", out.String())
	}
	checkTokenFile(t, home, "work")
	if s, code := run(t, home, "status", "--config", cfg); code != 0 || !strings.Contains(s, "logged in") || strings.Contains(s, "not logged in") {
		t.Fatalf("status after login: %d\n%s", code, s)
	}
	if s, code := run(t, home, "logout", "--config", cfg, "work"); code != 0 {
		t.Fatalf("logout: %d %s", code, s)
	}
	if s, _ := run(t, home, "status", "--config", cfg); !strings.Contains(s, "not logged in") {
		t.Fatalf("status after logout:\n%s", s)
	}
}

// TestLoginBIMcloudPasswordStdin is the scripted login of a BIMcloud
// account; a wrong password fails with a clear message.
func TestLoginBIMcloudPasswordStdin(t *testing.T) {
	emu := bcemu.New(bcemu.Options{})
	defer emu.Close()
	home := t.TempDir()
	cfg := writeConfig(t, home, fmt.Sprintf("[account office]\nservice = bimcloud\nbase_url = %s\n", emu.URL))
	login := func(password string) (string, error) {
		cmd := exec.Command(bimfsBin, "login", "--config", cfg, "--password-stdin", "--user", bcemu.DefaultUser, "office")
		cmd.Env = testEnv(home)
		cmd.Stdin = strings.NewReader(password + "\n")
		var b strings.Builder
		cmd.Stdout, cmd.Stderr = &b, &b
		if err := cmd.Start(); err != nil {
			return "", err
		}
		kill := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
		defer kill.Stop()
		err := cmd.Wait()
		return b.String(), err
	}
	if out, err := login("wrong"); err == nil {
		t.Fatalf("a wrong password was accepted:\n%s", out)
	} else if strings.Contains(out, "wrong") {
		t.Fatalf("the password reached the output:\n%s", out)
	}
	if out, err := login(bcemu.DefaultPassword); err != nil || !strings.Contains(out, "Logged in to office") {
		t.Fatalf("login: %v\n%s", err, out)
	}
	checkTokenFile(t, home, "office")
}

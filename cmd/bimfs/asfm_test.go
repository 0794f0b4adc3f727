package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bimemu "github.com/bimfs/bimfs/remote/bim360/emulator"
)

// TestAsfmCommands runs `bimfs asfm` against the BIM 360 emulator with a
// two-legged account from a config file: exit statuses, text and JSON.
func TestAsfmCommands(t *testing.T) {
	emu := bimemu.New(bimemu.Options{})
	t.Cleanup(emu.Close)
	hub := emu.AddHub("Acme")
	project := emu.AddProject(hub, "Tower")
	files := emu.TopFolder(project, "Project Files")
	cur := emu.AddFile(project, files, "cur.dwg", bimemu.Bytes([]byte("c")))
	stale := emu.AddFile(project, files, "old.dwg", bimemu.Bytes([]byte("o1")))
	emu.AddVersion(project, stale, "old.dwg", bimemu.Bytes([]byte("o2")))
	gone := emu.AddFile(project, files, "gone.dwg", bimemu.Bytes([]byte("g")))
	emu.DeleteItem(project, gone)

	home := t.TempDir()
	secret := filepath.Join(home, "secret")
	if err := os.WriteFile(secret, []byte(bimemu.DefaultClientSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, home, fmt.Sprintf("[account work]\nservice = bim360\nbase_url = %s\nclient_id = %s\nclient_secret_file = %s\ntwo_legged = true\n",
		emu.URL, bimemu.DefaultClientID, secret))
	dir := t.TempDir()
	manifest := func(name, item string, v int) string {
		p := filepath.Join(dir, name+".asfm")
		body := fmt.Sprintf(`{"ProjectId": %q, "ItemId": %q, "Version": %d, "SourceFileName": %q}`, project, item, v, name+".dwg")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mCur, mOld, mGone := manifest("cur", cur, 1), manifest("old", stale, 1), manifest("gone", gone, 1)

	if out, code := run(t, home, "asfm", "status", "--config", cfg, mCur); code != 0 || !strings.Contains(out, "current (local version 1, cloud version 1)") {
		t.Errorf("status of a current manifest: %d %q", code, out)
	}
	if out, code := run(t, home, "asfm", "status", "--config", cfg, mCur, mOld); code != 1 || !strings.Contains(out, "stale (local version 1, cloud version 2)") {
		t.Errorf("status with a stale manifest: %d %q", code, out)
	}
	out, code := run(t, home, "asfm", "status", "--config", cfg, "--json", mOld, mGone)
	if code != 2 {
		t.Errorf("status with a deleted item: exit %d, want 2: %s", code, out)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	var first, second map[string]any
	if err := dec.Decode(&first); err != nil {
		t.Fatalf("JSON output: %v\n%s", err, out)
	}
	if err := dec.Decode(&second); err != nil {
		t.Fatalf("JSON output: %v\n%s", err, out)
	}
	if first["state"] != "stale" || first["tip_version"] != 2.0 || second["state"] != "deleted" || !strings.Contains(fmt.Sprint(second["error"]), "deleted") {
		t.Errorf("JSON results %v %v", first, second)
	}

	if out, code := run(t, home, "asfm", "update", "--config", cfg, mOld); code != 0 || !strings.Contains(out, "updated from version 1 to 2") {
		t.Fatalf("update: %d %q", code, out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "old.dwg")); string(b) != "o2" {
		t.Errorf("updated data %q", b)
	}
	if out, code := run(t, home, "asfm", "status", "--config", cfg, mOld); code != 0 {
		t.Errorf("status after update: %d %q", code, out)
	}

	if out, code := run(t, home, "asfm"); code != exitUsage || !strings.Contains(out, "usage") {
		t.Errorf("asfm without a command: %d %q", code, out)
	}
	if out, code := run(t, home, "asfm", "status", "--config", cfg); code != exitUsage {
		t.Errorf("status without manifests: %d %q", code, out)
	}
	if out, code := run(t, home, "asfm", "create", "-o", filepath.Join(dir, "x.asfm"), cfg); code != 1 || !strings.Contains(out, "user.bimfs") {
		t.Errorf("create for a file not on a mount: %d %q", code, out)
	}
}

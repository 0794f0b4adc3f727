package mountopts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const sample = `
# global options
cache_dir = /var/cache/bimfs
memory_cache = 512MiB
metadata_ttl = 1m

[account work]
service = bim360
client_id = "abc 123"
base_url = http://127.0.0.1:9/

[account "bc"]
service = BIMcloud
base_url = https://bimcloud.example.test
`

func TestLoadAndPrecedence(t *testing.T) {
	var o Options
	if err := o.Load(strings.NewReader(sample)); err != nil {
		t.Fatal(err)
	}
	if err := o.ParseMountOptions("rw,memory_cache=1G,allow_other,entry_timeout=0.5,_netdev,writeback=async,noxattr,parallel=12"); err != nil {
		t.Fatal(err)
	}
	o.Defaults()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if o.CacheDir != "/var/cache/bimfs" || o.MemoryCache != 1<<30 || !o.AllowOther || o.EntryTimeout != 500*time.Millisecond || !o.AsyncWriteback || !o.NoXattrs || o.Parallel != 12 {
		t.Fatalf("options %+v", o)
	}
	if o.MetadataTTL != time.Minute || o.DiskCache != DefaultDiskCache || o.BlockSize != DefaultBlockSize {
		t.Fatalf("defaults not applied: %+v", o)
	}
	w, ok := o.Account("work")
	if !ok || w.ClientID != "abc 123" || w.BaseURL != "http://127.0.0.1:9" || w.Service != ServiceBIM360 {
		t.Fatalf("work %+v", w)
	}
	bc, ok := o.Account("bc")
	if !ok || bc.Service != ServiceBIMcloud || bc.ClientID != "bimfs" {
		t.Fatalf("bc %+v", bc)
	}
}

func TestBadInput(t *testing.T) {
	cases := map[string]string{
		"unknown key":     "frobnicate = 1",
		"bad size":        "memory_cache = lots",
		"bad unit":        "memory_cache = 5X",
		"bad duration":    "attr_timeout = soon",
		"bad section":     "[acct x]",
		"unterminated":    "[account x",
		"no equals":       "cache_dir /tmp",
		"bad account key": "[account a]\ncolour = red",
		"bad bool":        "debug = maybe",
	}
	for name, text := range cases {
		var o Options
		if err := o.Load(strings.NewReader(text)); err == nil {
			t.Errorf("%s: accepted %q", name, text)
		} else if !strings.Contains(err.Error(), "line") {
			t.Errorf("%s: error does not name the line: %v", name, err)
		}
	}
	if err := (&Options{}).ParseMountOptions("nosuchopt=1"); err == nil || !strings.Contains(err.Error(), "unknown option") {
		t.Errorf("-o unknown: %v", err)
	}
}

func TestValidate(t *testing.T) {
	cases := map[string]Options{
		"block size":   {BlockSize: 1000},
		"no service":   {Accounts: []Account{{Name: "a"}}},
		"bad service":  {Accounts: []Account{{Name: "a", Service: "dropbox"}}},
		"bad name":     {Accounts: []Account{{Name: "a/b", Service: "bim360", ClientID: "x"}}},
		"no client":    {Accounts: []Account{{Name: "a", Service: "bim360"}}},
		"no manager":   {Accounts: []Account{{Name: "a", Service: "bimcloud"}}},
		"dup":          {Accounts: []Account{{Name: "a", Service: "bim360", ClientID: "x"}, {Name: "a", Service: "bim360", ClientID: "x"}}},
		"2legged":      {Accounts: []Account{{Name: "a", Service: "bim360", ClientID: "x", TwoLegged: true}}},
		"bad url":      {Accounts: []Account{{Name: "a", Service: "bimcloud", BaseURL: "ftp://x"}}},
		"neg duration": {AttrTimeout: -time.Second},
	}
	for name, o := range cases {
		o.Defaults()
		if err := o.Validate(); err == nil {
			t.Errorf("%s: accepted %+v", name, o)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "1k": 1024, "512MiB": 512 << 20, "1.5G": 3 << 29, "2 TB": 2 << 40} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("%q: %d %v", in, got, err)
		}
	}
	for _, in := range []string{"", "-1", "1Q", "MiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestLoadFile(t *testing.T) {
	var o Options
	if err := o.LoadFile(filepath.Join(t.TempDir(), "missing"), false); err != nil {
		t.Fatalf("missing default config: %v", err)
	}
	if err := o.LoadFile(filepath.Join(t.TempDir(), "missing"), true); err == nil {
		t.Fatal("missing explicit config accepted")
	}
	p := filepath.Join(t.TempDir(), "config")
	os.WriteFile(p, []byte("debug = yes\n"), 0o600)
	if err := o.LoadFile(p, true); err != nil || !o.Debug {
		t.Fatalf("%v %+v", err, o)
	}
}

func TestReadSecretRefusesWorldReadable(t *testing.T) {
	p := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(p, []byte("s3cret\n"), 0o644)
	a := Account{Name: "a", ClientSecretFile: p}
	if _, err := a.ReadSecret(); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("err %v", err)
	}
	os.Chmod(p, 0o600)
	if s, err := a.ReadSecret(); err != nil || s != "s3cret" {
		t.Fatalf("%q %v", s, err)
	}
}

func TestServiceAccountKeys(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config")
	os.WriteFile(p, []byte(`max_retry_wait = 30s
[account robot]
service = bim360
client_id = app
client_secret_file = /etc/bimfs/secret
service_account = Z752CT5MKW2S9N7E
service_account_key_file = /etc/bimfs/robot.json
service_account_key_id = 5de993f4
`), 0o600)
	var o Options
	if err := o.LoadFile(p, true); err != nil {
		t.Fatal(err)
	}
	o.Defaults()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	a := o.Accounts[0]
	if a.ServiceAccount != "Z752CT5MKW2S9N7E" || a.ServiceAccountKeyFile != "/etc/bimfs/robot.json" || a.ServiceAccountKeyID != "5de993f4" || o.MaxRetryWait != 30*time.Second {
		t.Fatalf("%+v, max_retry_wait %v", a, o.MaxRetryWait)
	}
	for name, edit := range map[string]func(a *Account){
		"no secret":   func(a *Account) { a.ClientSecretFile = "" },
		"no key file": func(a *Account) { a.ServiceAccountKeyFile = "" },
		"two legged":  func(a *Account) { a.TwoLegged = true },
		"bimcloud":    func(a *Account) { a.Service = ServiceBIMcloud; a.BaseURL = "https://bc.example.com" },
	} {
		b := a
		edit(&b)
		if err := b.validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestEveryOptionIsDocumented(t *testing.T) {
	documented := map[string]bool{}
	for _, d := range Docs {
		documented[d.Key] = true
	}
	for _, k := range Keys() {
		if !documented[k] {
			t.Errorf("option %s has no entry in Docs", k)
		}
	}
	for k := range documented {
		if _, ok := setters[k]; !ok {
			t.Errorf("Docs lists %s, which Set does not accept", k)
		}
	}
}

func TestSystemMountOptions(t *testing.T) {
	var o Options
	err := o.ParseMountOptions("rw,nosuid,nodev,noatime,noexec,_netdev,noauto,user,x-systemd.automount,x-systemd.idle-timeout=60,ro,nonempty,uid=1000,gid=0,umask=027,default_permissions,debug=api,fsname=work,metrics=127.0.0.1:9464,log_level=debug,log_format=json")
	if err != nil {
		t.Fatal(err)
	}
	o.Defaults()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if !o.ReadOnly || !o.NonEmpty || o.UID == nil || *o.UID != 1000 || o.GID == nil || *o.GID != 0 || o.Umask == nil || *o.Umask != 0o27 ||
		!o.DefaultPermissions || !o.DebugAPI || o.DebugFUSE || o.FSName != "work" || o.MetricsAddr != "127.0.0.1:9464" ||
		o.LogLevel != "debug" || o.LogFormat != "json" {
		t.Fatalf("options %+v", o)
	}
	if err := o.ParseMountOptions("rw,debug"); err != nil || o.ReadOnly || !o.DebugAPI || !o.DebugFUSE {
		t.Fatalf("rw,debug: %v %+v", err, o)
	}
	if err := o.ParseMountOptions("uid=root"); err != nil || *o.UID != 0 {
		t.Fatalf("uid=root: %v", err)
	}
	for _, bad := range []string{"umask=999", "uid=no-such-user-here", "debug=loud", "metrics=0.0.0.0:9464", "metrics=nope"} {
		var p Options
		err := p.ParseMountOptions(bad)
		if err == nil {
			p.Defaults()
			err = p.Validate()
		}
		if err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestMountKey(t *testing.T) {
	a, b := MountKey("/home/ann/bim"), MountKey("/home/ann/bim2")
	if a == b || !strings.HasPrefix(a, "home-ann-bim-") || MountKey("/home/ann/bim/") != a {
		t.Fatalf("keys %q %q", a, b)
	}
	long := MountKey("/" + strings.Repeat("x", 300) + "/ü space")
	if len(long) > 50 || strings.ContainsAny(long, "/ ") {
		t.Fatalf("long key %q", long)
	}
}

func TestExtrasOptions(t *testing.T) {
	var o Options
	cfg := "[account a]\nservice = bim360\nclient_id = x\ndata_connector = off\nassets_prefix = /bim360/assets/\nextras_ttl = 2m\n" +
		"[account b]\nservice = bim360\nclient_id = y\nassets = off\n"
	if err := o.Load(strings.NewReader(cfg)); err != nil {
		t.Fatal(err)
	}
	a, _ := o.Account("a")
	b, _ := o.Account("b")
	if !a.NoDataConnector || a.NoAssets || a.AssetsPrefix != "/bim360/assets/" || a.ExtrasTTL != 2*time.Minute {
		t.Errorf("account a %+v", a)
	}
	if b.NoDataConnector || !b.NoAssets {
		t.Errorf("account b %+v", b)
	}
	if o.NoDataConnector || o.NoAssets {
		t.Errorf("global switches set without -o: %+v", o)
	}
	if err := o.ParseMountOptions("data_connector=off,assets=off"); err != nil || !o.NoDataConnector || !o.NoAssets {
		t.Errorf("-o data_connector=off,assets=off: %v %+v", err, o)
	}
	if err := o.ParseMountOptions("assets=on"); err != nil || o.NoAssets {
		t.Errorf("-o assets=on: %v", err)
	}
	for _, bad := range []string{"[account c]\nassets = maybe\n", "[account c]\nassets_prefix = construction\n", "[account c]\nextras_ttl = -1s\n"} {
		var o Options
		if err := o.Load(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

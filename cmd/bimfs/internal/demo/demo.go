// Package demo runs both service emulators in-process on loopback with
// sample data and describes them as ordinary accounts, so `bimfs mount
// --demo`, the end-to-end tests and the benchmarks go through exactly the
// code a real mount uses.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/wiring"
	"github.com/bimfs/bimfs/mountopts"
	bimemu "github.com/bimfs/bimfs/remote/bim360/emulator"
	bcemu "github.com/bimfs/bimfs/remote/bimcloud/emulator"
)

// Account names of the demo mount.
const (
	BIM360Account   = "bim360-demo"
	BIMcloudAccount = "bimcloud-demo"
)

// Options tune the demo servers; the zero value gives the sample data with
// no faults.
type Options struct {
	BIM360   bimemu.Options
	BIMcloud bcemu.Options
	// Empty skips the sample data so tests can add their own.
	Empty bool
}

// Demo is a running pair of emulators plus the accounts that reach them.
type Demo struct {
	BIM360   *bimemu.Server
	BIMcloud *bcemu.Server
	Accounts []mountopts.Account
	// Env carries the private token directory the accounts log in with.
	Env wiring.Env
	dir string
}

// Start launches the emulators, fills them with sample data and logs the
// accounts in (client credentials for BIM 360, the password grant for
// BIMcloud) with tokens kept in a private temporary directory.
func Start(ctx context.Context, o Options, env wiring.Env) (*Demo, error) {
	dir, err := os.MkdirTemp("", "bimfs-demo-")
	if err != nil {
		return nil, err
	}
	// Every start mints new IDs (unless a test pins a seed), as a real
	// service never reuses one: a cache kept from an earlier demo run can
	// then never serve its bytes for an object of this run.
	if o.BIM360.Seed == 0 {
		o.BIM360.Seed = randomSeed()
	}
	if o.BIMcloud.Seed == 0 {
		o.BIMcloud.Seed = randomSeed()
	}
	d := &Demo{dir: dir, BIM360: bimemu.New(o.BIM360), BIMcloud: bcemu.New(o.BIMcloud)}
	if !o.Empty {
		d.BIM360.Demo()
		d.BIMcloud.Demo()
	}
	bimOpts := d.BIM360.Options()
	secret := filepath.Join(dir, "bim360-client-secret")
	if err := os.WriteFile(secret, []byte(bimOpts.ClientSecret), 0o600); err != nil {
		d.Close()
		return nil, err
	}
	env.TokenDir = filepath.Join(dir, "tokens")
	d.Env = env
	d.Accounts = []mountopts.Account{
		{Name: BIM360Account, Service: mountopts.ServiceBIM360, BaseURL: d.BIM360.URL,
			ClientID: bimOpts.ClientID, ClientSecretFile: secret, TwoLegged: true},
		{Name: BIMcloudAccount, Service: mountopts.ServiceBIMcloud, BaseURL: d.BIMcloud.URL, ClientID: "bimfs-demo"},
	}
	user, pass := "demo", "demo"
	for u, p := range d.BIMcloud.Options().Users {
		user, pass = u, p
		break
	}
	if err := wiring.LoginPassword(ctx, env, d.Accounts[1], user, pass); err != nil {
		d.Close()
		return nil, fmt.Errorf("demo BIMcloud login: %w", err)
	}
	return d, nil
}

// randomSeed is a seed no earlier start used.
func randomSeed() int64 {
	var b [8]byte
	rand.Read(b[:])
	return int64(binary.LittleEndian.Uint64(b[:])&(1<<62-1)) + 1
}

// Close stops the emulators and removes the demo's tokens.
func (d *Demo) Close() {
	d.BIM360.Close()
	d.BIMcloud.Close()
	os.RemoveAll(d.dir)
}

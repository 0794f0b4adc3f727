package bim360

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/golang-jwt/jwt/v5"

	"github.com/bimfs/bimfs/remote"
	"github.com/bimfs/bimfs/remote/bim360/emulator"
)

// serviceAccountEnv is an emulator with one service account whose key is
// in a 0600 file in the form create-service-account-key returns it.
type serviceAccountEnv struct {
	s    *emulator.Server
	sa   emulator.ServiceAccount
	key  *rsa.PrivateKey
	cfg  Config
	logs *logBuf
}

func newServiceAccountEnv(t *testing.T, opts emulator.Options) *serviceAccountEnv {
	t.Helper()
	s := emulator.New(opts)
	t.Cleanup(s.Close)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sa := s.AddServiceAccount("robot", &key.PublicKey)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	file, _ := json.Marshal(map[string]string{"kid": sa.KeyID, "privateKey": string(pemKey)})
	path := filepath.Join(t.TempDir(), "robot.json")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &logBuf{}
	return &serviceAccountEnv{s: s, sa: sa, key: key, logs: logs, cfg: Config{
		Account:               "robot",
		BaseURL:               s.URL,
		ClientID:              emulator.DefaultClientID,
		ClientSecret:          emulator.DefaultClientSecret,
		ServiceAccount:        sa.ID,
		ServiceAccountKeyFile: path,
		Logger:                slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MaxAttempts:           3,
	}}
}

// TestServiceAccountMount: a service account mounts with no browser and
// no token file; an expired token is replaced by signing a new assertion.
func TestServiceAccountMount(t *testing.T) {
	e := newServiceAccountEnv(t, emulator.Options{})
	e.s.AddHub("H")
	ctx := context.Background()
	if err := Login(ctx, e.cfg, func(string) error { t.Fatal("a service account opened a browser"); return nil }); err != nil {
		t.Fatalf("Login: %v", err)
	}
	if !strings.Contains(e.logs.String(), "no browser login or stored token is needed") {
		t.Errorf("login does not explain itself:\n%s", e.logs.String())
	}
	b, err := New(ctx, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.List(ctx, rootID); err != nil {
		t.Fatalf("List: %v", err)
	}
	e.s.ResetCounters()
	e.s.ExpireTokens()
	if _, err := b.List(ctx, rootID); err != nil {
		t.Fatalf("List after expiry: %v", err)
	}
	if n := e.s.Counters()[emulator.OpToken]; n != 1 {
		t.Fatalf("%d token requests after expiry, want one re-signed assertion", n)
	}
	checkNoSecretsIn(t, e.logs.String(), e.cfg.ClientSecret)
}

// TestServiceAccountRefusals: a disabled key, a key file others can read,
// and a missing client secret fail with a clear error.
func TestServiceAccountRefusals(t *testing.T) {
	e := newServiceAccountEnv(t, emulator.Options{})
	ctx := context.Background()

	e.s.DisableServiceAccountKey(e.sa.KeyID)
	err := Login(ctx, e.cfg, nil)
	if !remote.IsKind(err, remote.Unauthenticated) || !strings.Contains(err.Error(), "service account "+e.sa.ID) {
		t.Fatalf("disabled key: %v", err)
	}

	if err := os.Chmod(e.cfg.ServiceAccountKeyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = New(ctx, e.cfg)
	if !remote.IsKind(err, remote.Permission) || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("readable key file: %v", err)
	}

	cfg := e.cfg
	cfg.ClientSecret = ""
	if _, err := New(ctx, cfg); !remote.IsKind(err, remote.Invalid) {
		t.Fatalf("no client secret: %v", err)
	}
}

// TestEmulatorVerifiesAssertions: the emulator's grant checks the
// signature with the registered public key and the claims.
func TestEmulatorVerifiesAssertions(t *testing.T) {
	e := newServiceAccountEnv(t, emulator.Options{})
	ctx := context.Background()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	good := func() AssertionClaims {
		return AssertionClaims{Scope: Scopes, RegisteredClaims: jwt.RegisteredClaims{
			Issuer: e.cfg.ClientID, Subject: e.sa.ID, Audience: jwt.ClaimStrings{e.s.URL + tokenPath},
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
		}}
	}
	sign := func(c AssertionClaims, key *rsa.PrivateKey, kid string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cfg := e.cfg
	if err := cfg.setDefaults(); err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.exchangeAssertion(ctx, sign(good(), e.key, e.sa.KeyID)); err != nil {
		t.Fatalf("valid assertion: %v", err)
	}
	expired, wrongAud, wrongSub, wrongIss, tooLong := good(), good(), good(), good(), good()
	expired.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Minute))
	wrongAud.Audience = jwt.ClaimStrings{"https://example.com/token"}
	wrongSub.Subject = "SOMEONE"
	wrongIss.Issuer = "another-client"
	tooLong.ExpiresAt = jwt.NewNumericDate(now.Add(24 * time.Hour))
	for name, assertion := range map[string]string{
		"other key":     sign(good(), other, e.sa.KeyID),
		"unknown kid":   sign(good(), e.key, "nope"),
		"expired":       sign(expired, e.key, e.sa.KeyID),
		"audience":      sign(wrongAud, e.key, e.sa.KeyID),
		"subject":       sign(wrongSub, e.key, e.sa.KeyID),
		"issuer":        sign(wrongIss, e.key, e.sa.KeyID),
		"too long":      sign(tooLong, e.key, e.sa.KeyID),
		"unsigned":      mustNone(t, good()),
		"tampered body": tamper(sign(good(), e.key, e.sa.KeyID)),
	} {
		_, err := cfg.exchangeAssertion(ctx, assertion)
		if err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Errorf("%s: %v, want invalid_grant", name, err)
		}
	}
}

func mustNone(t *testing.T, c AssertionClaims) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tamper changes the payload of a signed token, keeping the signature.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	p := []byte(parts[1])
	if p[5] == 'A' {
		p[5] = 'B'
	} else {
		p[5] = 'A'
	}
	parts[1] = string(p)
	return strings.Join(parts, ".")
}

func checkNoSecretsIn(t *testing.T, logs, secret string) {
	t.Helper()
	if secret != "" && strings.Contains(logs, secret) {
		t.Fatal("the client secret reached the log")
	}
}

// TestServiceAccountRequestMatchesSpec: the assertion exchange the client
// sends is validated against secureserviceaccount.yaml (form body, Basic
// client authentication, the jwt-bearer grant).
func TestServiceAccountRequestMatchesSpec(t *testing.T) {
	sp := loadSpec(t, filepath.Join("..", "aps-extra", "secureserviceaccount.yaml"))
	e := newServiceAccountEnv(t, emulator.Options{})
	rec := &recorder{base: http.DefaultTransport}
	e.cfg.HTTP = &http.Client{Transport: rec}
	if err := Login(context.Background(), e.cfg, nil); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reqs) != 1 {
		t.Fatalf("%d requests, want the one exchange", len(rec.reqs))
	}
	r := rec.reqs[0]
	req, err := http.NewRequest(r.method, "https://developer.api.autodesk.com"+r.uri, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = r.header.Clone()
	route, params, err := sp.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.uri, err)
	}
	basic := func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
		if _, _, ok := in.RequestValidationInput.Request.BasicAuth(); !ok {
			return errors.New("no Basic client authentication")
		}
		return nil
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: basic}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		t.Fatalf("the exchange does not match the spec: %v\nbody: %s", err, r.body)
	}
	if route.Operation.OperationID != "exchange-jwt-assertion" {
		t.Fatalf("matched %s", route.Operation.OperationID)
	}
}

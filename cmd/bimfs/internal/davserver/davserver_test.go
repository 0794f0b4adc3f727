package davserver_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/davserver"
)

func TestListenerPolicy(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	htpasswd := writeHtpasswd(t, dir, "ann", "s3cret")
	ok := []davserver.Config{
		{},
		{Addr: "127.0.0.1:0"},
		{Addr: "[::1]:8080"},
		{Addr: "localhost:8080"},
		{Addr: "127.0.0.1:0", CertFile: cert, KeyFile: key},
		{Addr: "127.0.0.1:0", CertFile: cert, KeyFile: key, HtpasswdFile: htpasswd},
		{Addr: "0.0.0.0:8443", CertFile: cert, KeyFile: key, HtpasswdFile: htpasswd},
		{Addr: "192.0.2.10:8443", CertFile: cert, KeyFile: key, HtpasswdFile: htpasswd},
	}
	for _, c := range ok {
		if _, err := c.Check(); err != nil {
			t.Errorf("%+v refused: %v", c, err)
		}
	}
	refused := []struct {
		c    davserver.Config
		says string
	}{
		{davserver.Config{Addr: "0.0.0.0:8080"}, "needs TLS (a certificate and a key) and authentication"},
		{davserver.Config{Addr: ":8080"}, "needs TLS"},
		{davserver.Config{Addr: "192.0.2.10:8080", CertFile: cert, KeyFile: key}, "needs authentication (an htpasswd file)"},
		{davserver.Config{Addr: "files.example.com:8080", CertFile: cert, KeyFile: key}, "needs authentication"},
		{davserver.Config{Addr: "127.0.0.1:8080", HtpasswdFile: htpasswd}, "Basic auth would send passwords in clear text"},
		{davserver.Config{Addr: "127.0.0.1:8080", CertFile: cert}, "both a certificate and a key"},
		{davserver.Config{Addr: "127.0.0.1"}, "want host:port"},
	}
	for _, r := range refused {
		_, err := r.c.Check()
		if err == nil || !strings.Contains(err.Error(), r.says) {
			t.Errorf("%+v: %v; want a refusal saying %q", r.c, err, r.says)
		}
	}
	// Start refuses before it binds anything: nothing is sent to the
	// non-loopback address.
	if s, err := davserver.Start(davserver.Config{Addr: "0.0.0.0:0"}, http.NotFoundHandler(), nil); err == nil {
		s.Shutdown(t.Context())
		t.Fatal("Start served on every interface without TLS and authentication")
	}
}

func TestHtpasswdParsing(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	good := "# users\nann:" + string(hash) + "\n\n"
	h, err := davserver.ParseHtpasswd("users", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if !h.Check("ann", "pw") || !h.Check("ann", "pw") || h.Check("ann", "PW") || h.Check("bob", "pw") {
		t.Error("Check answers wrongly")
	}
	bad := map[string]string{
		"ann:$apr1$abc$def\n":                     "line 1 (user ann): not a bcrypt hash",
		"ann:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n": "not a bcrypt hash",
		"just-a-name\n":                           "line 1: want user:hash",
		"ann:$2y$10$short\n":                      "malformed bcrypt hash",
		"":                                        "has no users",
		"ann:" + string(hash) + "\nann:" + string(hash): "line 2: user ann appears twice",
	}
	for content, says := range bad {
		_, err := davserver.ParseHtpasswd("users", []byte(content))
		if err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%q: %v; want %q", content, err, says)
		}
		if err != nil && strings.Contains(content, "$") && strings.Contains(err.Error(), "$") {
			t.Errorf("error shows the hash: %v", err)
		}
	}
}

func TestTLSAndAuth(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	htpasswd := writeHtpasswd(t, dir, "ann", "correct horse")
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "inside") })
	s, err := davserver.Start(davserver.Config{Addr: "127.0.0.1:0", CertFile: cert, KeyFile: key, HtpasswdFile: htpasswd}, h, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(t.Context()) })
	if !strings.HasPrefix(s.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL %s", s.URL())
	}
	pool := x509.NewCertPool()
	pemData, _ := os.ReadFile(cert)
	pool.AppendCertsFromPEM(pemData)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	get := func(user, pass string) (int, string, http.Header) {
		req, _ := http.NewRequest(http.MethodGet, s.URL(), nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	if code, _, hdr := get("", ""); code != 401 || !strings.Contains(hdr.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("no credentials: %d %v", code, hdr)
	}
	if code, _, _ := get("ann", "wrong horse"); code != 401 {
		t.Errorf("wrong password: %d", code)
	}
	if code, _, _ := get("mallory", "correct horse"); code != 401 {
		t.Errorf("unknown user: %d", code)
	}
	if code, body, _ := get("ann", "correct horse"); code != 200 || body != "inside" {
		t.Errorf("right password: %d %q", code, body)
	}
	// Plain HTTP to the TLS port gets no content.
	resp, err := http.Get(strings.Replace(s.URL(), "https", "http", 1))
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "inside") {
			t.Error("plain HTTP reached the handler")
		}
	}
	// An untrusted certificate is refused by a verifying client.
	if _, err := http.Get(s.URL()); err == nil {
		t.Error("a client without the certificate connected")
	}
	out := logs.String()
	if strings.Contains(out, "horse") {
		t.Errorf("a password reached the log:\n%s", out)
	}
	if !strings.Contains(out, "WebDAV login failed") || !strings.Contains(out, "user=mallory") {
		t.Errorf("failed logins not logged:\n%s", out)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "bimfs test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func writeHtpasswd(t *testing.T, dir, user, password string) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(p, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLoopbackRefusesOtherHostNames checks the defence against DNS
// rebinding: without users, only requests naming a loopback host are
// served.
func TestLoopbackRefusesOtherHostNames(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "inside") })
	s, err := davserver.Start(davserver.Config{Addr: "127.0.0.1:0"}, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(t.Context()) })
	_, port, _ := net.SplitHostPort(strings.TrimSuffix(strings.TrimPrefix(s.URL(), "http://"), "/"))
	for host, want := range map[string]int{
		"127.0.0.1:" + port:    200,
		"localhost:" + port:    200,
		"localhost":            200,
		"[::1]:" + port:        200,
		"evil.example:" + port: http.StatusMisdirectedRequest,
		"192.0.2.1":            http.StatusMisdirectedRequest,
	} {
		req, _ := http.NewRequest(http.MethodGet, s.URL(), nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: %d; want %d", host, resp.StatusCode, want)
		}
	}
}

package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/bimfs/bimfs/cmd/bimfs/internal/davserver"
)

// TestWebDAVOverTLSWithUsers serves the export over HTTPS with an
// htpasswd user (a self-signed certificate made here, traffic on
// 127.0.0.1 only) and drives it with curl and rclone.
func TestWebDAVOverTLSWithUsers(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("tr0ub4dor"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(dir, "htpasswd")
	os.WriteFile(users, []byte("ann:"+string(hash)+"\n"), 0o600)

	var tr bimTree
	e := startExport(t, exportConfig{mountConfig: mountConfig{setup: setupBIM(&tr)},
		dav: davserver.Config{CertFile: cert, KeyFile: key, HtpasswdFile: users}})
	if !strings.HasPrefix(e.url, "https://127.0.0.1:") {
		t.Fatalf("export URL %s", e.url)
	}
	fileURL := e.bimURL(tr.hub, tr.project, "Project Files", "Site Plan.dwg")

	hdr, _ := curl(t, "--cacert", cert, fileURL)
	if !strings.Contains(hdr, " 401") || !strings.HasPrefix(headerValue(hdr, "WWW-Authenticate"), "Basic") {
		t.Errorf("no credentials: %s", hdr)
	}
	hdr, _ = curl(t, "--cacert", cert, "-u", "ann:wrong", fileURL)
	if !strings.Contains(hdr, " 401") {
		t.Errorf("wrong password: %s", hdr)
	}
	hdr, body := curl(t, "--cacert", cert, "-u", "ann:tr0ub4dor", fileURL)
	if !strings.Contains(hdr, " 200") || body != "DWG site plan v1\n" {
		t.Errorf("right password: %s %q", hdr, body)
	}
	// A client that does not trust the certificate gets nothing.
	if out, err := exec.Command("curl", "-sS", "-o", "/dev/null", fileURL).CombinedOutput(); err == nil {
		t.Errorf("curl without the certificate succeeded: %s", out)
	}

	if _, err := exec.LookPath("rclone"); err != nil {
		t.Skip("rclone is not installed (.ci/run installs it)")
	}
	obscured, err := exec.Command("rclone", "obscure", "tr0ub4dor").Output()
	if err != nil {
		t.Fatal(err)
	}
	ls := rclone(t, e, "--ca-cert", cert, "--webdav-user", "ann", "--webdav-pass", strings.TrimSpace(string(obscured)),
		"lsf", ":webdav:"+e.bimPath(tr.hub, tr.project, "Project Files"))
	if !strings.Contains(ls, "Site Plan.dwg") {
		t.Errorf("rclone over HTTPS lists:\n%s", ls)
	}
	if strings.Contains(e.log.String(), "tr0ub4dor") {
		t.Error("the password reached the log")
	}
}

// writeSelfSigned writes a certificate for 127.0.0.1 and its key.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
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
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return certFile, keyFile
}

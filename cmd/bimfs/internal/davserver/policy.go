// Package davserver runs the WebDAV export on a network listener with the
// project's rules for listeners: loopback unless the user configures TLS
// and authentication, Basic auth only over TLS, and no secret in logs.
package davserver

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// Config says where and how the export listens.
type Config struct {
	// Addr is host:port; DefaultAddr when empty.
	Addr string
	// CertFile and KeyFile are a PEM certificate (chain) and key: with
	// them the server speaks HTTPS only.
	CertFile, KeyFile string
	// HtpasswdFile holds user:bcrypt-hash lines; with it every request
	// needs HTTP Basic credentials. It requires TLS.
	HtpasswdFile string
}

// DefaultAddr is the loopback address the export listens on by default.
const DefaultAddr = "127.0.0.1:8080"

// TLS reports whether the config serves HTTPS.
func (c Config) TLS() bool { return c.CertFile != "" }

// Check applies the listener rules and returns the address to listen on.
// A non-loopback address needs TLS and authentication; authentication
// needs TLS everywhere (Basic auth sends the password as it is). The
// errors say what is missing and why.
func (c Config) Check() (string, error) {
	addr := c.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("WebDAV address %q: %v (want host:port, e.g. %s)", addr, err, DefaultAddr)
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return "", errors.New("WebDAV TLS needs both a certificate and a key file")
	}
	if c.HtpasswdFile != "" && !c.TLS() {
		return "", errors.New("WebDAV authentication needs TLS (a certificate and a key): Basic auth would send passwords in clear text")
	}
	if !IsLoopback(host) {
		var missing []string
		if !c.TLS() {
			missing = append(missing, "TLS (a certificate and a key)")
		}
		if c.HtpasswdFile == "" {
			missing = append(missing, "authentication (an htpasswd file)")
		}
		if len(missing) > 0 {
			return "", fmt.Errorf("refusing to serve WebDAV on %s: an address other computers can reach needs %s; without them anyone on the network could read and change your files (use 127.0.0.1 to serve this computer only)",
				addr, strings.Join(missing, " and "))
		}
	}
	return addr, nil
}

// IsLoopback reports whether host (of a listen address) reaches this
// computer only: "localhost", or a loopback IP. An empty host (every
// interface) and any other name count as reachable from outside.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

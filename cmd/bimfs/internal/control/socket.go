package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/bimfs/bimfs/mountopts"
)

// RuntimeDir is where control sockets (and default daemon logs) live:
// $XDG_RUNTIME_DIR/bimfs, else /run/user/<uid>/bimfs, else (root)
// /run/bimfs, else /tmp/bimfs-<uid>. It is created with mode 0700; an existing directory
// owned by someone else is refused.
func RuntimeDir() (string, error) {
	uid := os.Getuid()
	dir := ""
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" {
		dir = filepath.Join(x, "bimfs")
	} else if fi, err := os.Stat(fmt.Sprintf("/run/user/%d", uid)); err == nil && fi.IsDir() {
		dir = fmt.Sprintf("/run/user/%d/bimfs", uid)
	} else if fi, err := os.Stat("/run"); err == nil && fi.IsDir() && uid == 0 {
		// System mounts (fstab, systemd units) run without a session.
		dir = "/run/bimfs"
	} else {
		dir = filepath.Join(os.TempDir(), fmt.Sprintf("bimfs-%d", uid))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("runtime directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", fmt.Errorf("runtime directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != uid {
		return "", fmt.Errorf("runtime directory %s is not a directory owned by uid %d", dir, uid)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return "", fmt.Errorf("runtime directory: %w", err)
		}
	}
	return dir, nil
}

// SocketPath is the control socket of mountpoint.
func SocketPath(mountpoint string) (string, error) {
	dir, err := RuntimeDir()
	if err != nil {
		return "", err
	}
	key := mountopts.MountKey(mountpoint)
	p := filepath.Join(dir, key+".sock")
	if len(p) > maxSocketPath {
		// Unix socket addresses hold about 108 bytes; keep just the hash.
		p = filepath.Join(dir, key[strings.LastIndexByte(key, '-')+1:]+".sock")
	}
	if len(p) > maxSocketPath {
		return "", fmt.Errorf("runtime directory %s is too long for a unix socket path; set XDG_RUNTIME_DIR to a shorter one", dir)
	}
	return p, nil
}

// maxSocketPath is the longest socket path every unix accepts.
const maxSocketPath = 103

// LogPath is the default log file of a background mount of mountpoint.
func LogPath(mountpoint string) (string, error) {
	dir, err := RuntimeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, mountopts.MountKey(mountpoint)+".log"), nil
}

// Server serves a StatusSource on a control socket.
type Server struct {
	path string
	srv  *http.Server
	done chan struct{}
}

// Serve listens on the control socket of mountpoint (mode 0600). A socket
// left by a process that died is replaced; one that still answers means
// another bimfs serves that mountpoint, which is an error.
func Serve(mountpoint string, src StatusSource) (*Server, error) {
	path, err := SocketPath(mountpoint)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err == nil {
		if _, err := Get(context.Background(), path); err == nil {
			return nil, fmt.Errorf("control socket %s: another bimfs serves %s", path, mountpoint)
		}
		os.Remove(path)
	}
	// The socket appears with the umask's mode until the Chmod below; the
	// runtime directory is 0700, so nobody else can reach it meanwhile.
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(src.Status())
	})
	s := &Server{path: path, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.srv.Serve(ln)
	}()
	return s, nil
}

// Path is the socket's file name.
func (s *Server) Path() string { return s.path }

// Close stops serving and removes the socket.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.done
	os.Remove(s.path)
	return err
}

// Get reads the status served on the socket at path.
func Get(ctx context.Context, path string) (Status, error) {
	c := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://bimfs/v1/status", nil)
	if err != nil {
		return Status{}, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return Status{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Status{}, fmt.Errorf("control socket %s: %s", path, resp.Status)
	}
	var s Status
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return Status{}, fmt.Errorf("control socket %s: %w", path, err)
	}
	return s, nil
}

// ErrNotRunning means no bimfs answers for a mountpoint.
var ErrNotRunning = errors.New("no running bimfs serves this mountpoint")

// GetMount reads the live status of the mount on mountpoint.
func GetMount(ctx context.Context, mountpoint string) (Status, error) {
	path, err := SocketPath(mountpoint)
	if err != nil {
		return Status{}, err
	}
	if _, err := os.Stat(path); err != nil {
		return Status{}, ErrNotRunning
	}
	s, err := Get(ctx, path)
	if err != nil {
		return Status{}, fmt.Errorf("%w (%v)", ErrNotRunning, err)
	}
	return s, nil
}

// All reads the status of every running mount of this user, sorted by
// mountpoint. Sockets nobody answers on are skipped.
func All(ctx context.Context) ([]Status, error) {
	dir, err := RuntimeDir()
	if err != nil {
		return nil, err
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.sock"))
	if err != nil {
		return nil, err
	}
	var out []Status
	for _, p := range names {
		if s, err := Get(ctx, p); err == nil {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.Compare(out[i].Mountpoint, out[j].Mountpoint) < 0 })
	return out, nil
}

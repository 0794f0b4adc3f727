package httpx

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// lockPollInterval is how often Lock tries again while another process
// holds the lock.
const lockPollInterval = 20 * time.Millisecond

// LockPath is the lock file beside the token file; it holds no data.
func (s *TokenStore) LockPath() string { return s.Path + ".lock" }

// Lock takes an exclusive flock on LockPath, waiting while another process
// (or another TokenSource of this one) holds it, until ctx ends. The lock is
// advisory: every bimfs process of the account takes it around a refresh,
// so a single-use refresh token is never spent twice. The returned function
// releases it.
func (s *TokenStore) Lock(ctx context.Context) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(s.LockPath(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	fd := int(f.Fd())
	for {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, &os.PathError{Op: "flock", Path: s.LockPath(), Err: err}
		}
		t := time.NewTimer(lockPollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	return func() {
		_ = unix.Flock(fd, unix.LOCK_UN)
		f.Close()
	}, nil
}

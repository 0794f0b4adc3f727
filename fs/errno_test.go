package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"testing"

	"github.com/bimfs/bimfs/remote"
)

func TestKindErrno(t *testing.T) {
	for kind, want := range map[remote.Kind]syscall.Errno{
		remote.KindUnknown:     syscall.EIO,
		remote.NotFound:        syscall.ENOENT,
		remote.Permission:      syscall.EACCES,
		remote.Unauthenticated: syscall.EACCES,
		remote.Throttled:       syscall.EIO,
		remote.Conflict:        syscall.EBUSY,
		remote.Exists:          syscall.EEXIST,
		remote.NotEmpty:        syscall.ENOTEMPTY,
		remote.Unsupported:     syscall.ENOTSUP,
		remote.Invalid:         syscall.EINVAL,
		remote.Unavailable:     syscall.EIO,
		remote.NoSpace:         syscall.ENOSPC,
		remote.Canceled:        syscall.EINTR,
		remote.Kind(999):       syscall.EIO,
	} {
		if got := kindErrno(kind); got != want {
			t.Errorf("kindErrno(%v) = %v, want %v", kind, got, want)
		}
	}
}

func testAccount(buf *bytes.Buffer) *account {
	log := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return &account{name: "acme", fsys: &filesystem{log: log}}
}

func TestAccountErrno(t *testing.T) {
	var buf bytes.Buffer
	a := testAccount(&buf)
	ctx := context.Background()
	canceled, cancel := context.WithCancel(ctx)
	cancel()

	for _, tc := range []struct {
		name    string
		ctx     context.Context
		err     error
		want    syscall.Errno
		logText string
	}{
		{"wrapped remote error", ctx, fmt.Errorf("listing: %w", remote.Errorf(remote.Permission, "svc.List", "no access to folder")), syscall.EACCES, "no access to folder"},
		{"context canceled", ctx, fmt.Errorf("get: %w", context.Canceled), syscall.EINTR, "request interrupted"},
		{"interrupted, unwrapped", canceled, errors.New("read tcp: use of closed connection"), syscall.EINTR, "request interrupted"},
		{"plain error", ctx, errors.New("boom"), syscall.EIO, "unexpected error from backend"},
		{"not found", ctx, remote.Errorf(remote.NotFound, "svc.Stat", "gone"), syscall.ENOENT, "no longer exists"},
	} {
		buf.Reset()
		if got := a.errno(tc.ctx, "read", "acme/x", tc.err); got != tc.want {
			t.Errorf("%s: errno = %v, want %v", tc.name, got, tc.want)
		}
		logged := buf.String()
		if strings.Count(logged, "\n") != 1 || !strings.Contains(logged, tc.logText) || !strings.Contains(logged, "path=acme/x") || !strings.Contains(logged, "op=read") {
			t.Errorf("%s: logged %q, want one line with %q, op and path", tc.name, logged, tc.logText)
		}
	}
}

func TestLoginHintRateLimited(t *testing.T) {
	var buf bytes.Buffer
	a := testAccount(&buf)
	err := &remote.Error{Kind: remote.Unauthenticated, Op: "svc.List", Status: 401}
	for range 3 {
		if got := a.errno(context.Background(), "lookup", "acme/x", err); got != syscall.EACCES {
			t.Fatalf("errno = %v, want EACCES", got)
		}
	}
	if n := strings.Count(buf.String(), "run `bimfs login acme`"); n != 1 {
		t.Fatalf("login hint logged %d times in\n%s", n, buf.String())
	}
	if n := strings.Count(buf.String(), "\n"); n != 3 {
		t.Fatalf("logged %d lines for 3 failures, want one each", n)
	}
}

package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/bimfs/bimfs/remote"
)

func testAccount(buf *bytes.Buffer) *account {
	log := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return &account{name: "acme", fsys: &FS{log: log}}
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
		want    remote.Kind
		logText string
	}{
		{"wrapped remote error", ctx, fmt.Errorf("listing: %w", remote.Errorf(remote.Permission, "svc.List", "no access to folder")), remote.Permission, "no access to folder"},
		{"context canceled", ctx, fmt.Errorf("get: %w", context.Canceled), remote.Canceled, "request interrupted"},
		{"interrupted, unwrapped", canceled, errors.New("read tcp: use of closed connection"), remote.Canceled, "request interrupted"},
		{"plain error", ctx, errors.New("boom"), remote.KindUnknown, "unexpected error"},
		{"not found", ctx, remote.Errorf(remote.NotFound, "svc.Stat", "gone"), remote.NotFound, "no longer exists"},
	} {
		buf.Reset()
		if got := remote.KindOf(a.fail(tc.ctx, "read", "acme/x", tc.err)); got != tc.want {
			t.Errorf("%s: kind = %v, want %v", tc.name, got, tc.want)
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
		if got := a.fail(context.Background(), "lookup", "acme/x", err); got != err {
			t.Fatalf("fail returned %v, want the error itself", got)
		}
	}
	if n := strings.Count(buf.String(), "run `bimfs login acme`"); n != 1 {
		t.Fatalf("login hint logged %d times in\n%s", n, buf.String())
	}
	if n := strings.Count(buf.String(), "\n"); n != 3 {
		t.Fatalf("logged %d lines for 3 failures, want one each", n)
	}
}

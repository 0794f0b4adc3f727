package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Background mounts. The command line is checked in the foreground, then
// bimfs starts itself again in a new session with the same arguments (minus
// --daemon) and a pipe on file descriptor 3. The background process writes
// "ready" to the pipe once the kernel serves the mount and the control
// socket listens, or "error CODE MESSAGE" if it cannot mount; the
// foreground process exits 0 only after "ready", otherwise with the error
// and its exit status.

const readyEnv = "BIMFS_READY_FD"

// readySignal is how a background mount reports to the process that
// started it; the zero value (a foreground mount) only talks to systemd.
type readySignal struct {
	pipe *os.File
}

// readiness is this process's readiness channel, set up from the
// environment at start.
var readiness = newReadySignal()

func newReadySignal() *readySignal {
	fd, err := strconv.Atoi(os.Getenv(readyEnv))
	if err != nil || fd < 3 {
		return &readySignal{}
	}
	os.Unsetenv(readyEnv)
	return &readySignal{pipe: os.NewFile(uintptr(fd), "ready")}
}

// background reports whether this process is a background mount.
func (r *readySignal) background() bool { return r.pipe != nil }

// ready tells the starting process and systemd (Type=notify) that the
// mount is usable.
func (r *readySignal) ready(status string) {
	_, _ = daemon.SdNotify(false, daemon.SdNotifyReady+"\nSTATUS="+status)
	if r.pipe != nil {
		fmt.Fprintln(r.pipe, "ready")
		r.pipe.Close()
		r.pipe = nil
	}
}

// failed passes an error that ends the process before it was ready.
func (r *readySignal) failed(err error, code int) {
	if r.pipe != nil {
		msg := strings.ReplaceAll(err.Error(), "\n", "\n\t")
		fmt.Fprintf(r.pipe, "error %d %s\n", code, msg)
		r.pipe.Close()
		r.pipe = nil
	}
}

// stopping tells systemd that the mount is shutting down.
func (r *readySignal) stopping() {
	_, _ = daemon.SdNotify(false, daemon.SdNotifyStopping)
}

// startBackground runs this program again without --daemon as a
// background process logging to logPath, and waits for its readiness.
func startBackground(args []string, logPath string, timeout time.Duration) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the bimfs executable: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		w.Close()
		return fmt.Errorf("log file: %w", err)
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		w.Close()
		return err
	}
	defer devnull.Close()
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), readyEnv+"=3")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	cmd.ExtraFiles = []*os.File{w}
	// A new session: the mount outlives the terminal, mount(8) and the
	// shell that started it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("starting the background mount: %w", err)
	}
	w.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	lines := make(chan string, 1)
	go func() {
		// One line, or an error whose message continues on lines indented
		// with a tab: everything until the background process closes the
		// pipe (after "ready", or by exiting).
		b, _ := io.ReadAll(r)
		lines <- strings.TrimRight(string(b), "\n")
	}()
	select {
	case line := <-lines:
		if line == "ready" {
			return nil
		}
		if msg, ok := strings.CutPrefix(line, "error "); ok {
			codeStr, text, _ := strings.Cut(msg, " ")
			code, _ := strconv.Atoi(codeStr)
			if code == 0 {
				code = 1
			}
			<-exited
			return exitCodeError{error: errors.New(strings.ReplaceAll(text, "\n\t", "\n")), code: code}
		}
		err := <-exited
		return fmt.Errorf("the background mount exited before it was ready (%v); see %s", err, logPath)
	case <-time.After(timeout):
		cmd.Process.Signal(syscall.SIGTERM)
		return fmt.Errorf("the background mount was not ready after %s; see %s", timeout, logPath)
	}
}

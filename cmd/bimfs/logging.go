package main

import (
	"io"
	"log/slog"
	"os"

	"github.com/bimfs/bimfs/mountopts"
)

// logLevels maps --log-level values.
var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
}

// openLog builds the logger the options ask for: a file or standard error,
// text or JSON lines, at the given level (debug whenever a debug target is
// on). The returned closer closes the log file, if any.
func openLog(o *mountopts.Options) (*slog.Logger, io.Closer, error) {
	var w io.Writer = os.Stderr
	var closer io.Closer = io.NopCloser(nil)
	if o.LogFile != "" && o.LogFile != "-" {
		f, err := os.OpenFile(o.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, nil, usagef("log file: %v", err)
		}
		w, closer = f, f
	}
	level, ok := logLevels[o.LogLevel]
	if !ok {
		level = slog.LevelInfo
	}
	if o.DebugAPI || o.DebugFUSE {
		level = slog.LevelDebug
	}
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch o.LogFormat {
	case "json":
		h = slog.NewJSONHandler(w, hopts)
	case "text", "":
		h = slog.NewTextHandler(w, hopts)
	default:
		closer.Close()
		return nil, nil, usagef("log format %q: want text or json", o.LogFormat)
	}
	return slog.New(h), closer, nil
}

// newLogger is the plain standard-error logger of the short commands.
func newLogger(debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// checkLogOptions validates log options that came from flags.
func checkLogOptions(o *mountopts.Options) error {
	if _, ok := logLevels[o.LogLevel]; !ok {
		return usagef("log level %q: want debug, info, warn or error", o.LogLevel)
	}
	if o.LogFormat != "text" && o.LogFormat != "json" {
		return usagef("log format %q: want text or json", o.LogFormat)
	}
	return nil
}

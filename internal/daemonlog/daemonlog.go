// Package daemonlog decides where the daemon's own messages go. auditd
// starts its plugins with standard error on /dev/null (it has detached),
// so a plugin that writes its warnings there tells no one: when standard
// error leads nowhere, the messages go to syslog, where auditd's own go.
package daemonlog

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"strings"
	"sync"
	"syscall"
)

// New returns the daemon's logger: text on stderr when stderr leads
// somewhere (a terminal, a file, the journal), else syslog (facility
// daemon, tagged tag). Messages no syslog takes (none runs yet) go to
// stderr, which for a plugin drops them.
func New(tag string, stderr *os.File) *slog.Logger {
	if !LeadsNowhere(stderr) {
		return slog.New(slog.NewTextHandler(stderr, nil))
	}
	out := &syslogOut{fallback: stderr, dial: func() (priorityWriter, error) {
		return syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, tag)
	}}
	return slog.New(newSyslogHandler(out))
}

// LeadsNowhere reports whether f is /dev/null (or cannot be looked at).
// (Go's runtime opens a closed stderr on /dev/null before main.)
func LeadsNowhere(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil {
		return true
	}
	null, err := os.Stat(os.DevNull)
	if err != nil {
		return false
	}
	st, ok1 := fi.Sys().(*syscall.Stat_t)
	nst, ok2 := null.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && fi.Mode()&os.ModeCharDevice != 0 && st.Rdev == nst.Rdev
}

// priorityWriter is what the handler needs of a *syslog.Writer.
type priorityWriter interface {
	Err(string) error
	Warning(string) error
	Info(string) error
	Debug(string) error
	Close() error
}

// syslogOut sends each record to syslog at its level's priority. It dials
// when the first message comes and again after a failure (log/syslog
// redials once itself), so a syslog daemon started after gotrail still
// gets its messages; until one answers, they go to fallback.
type syslogOut struct {
	mu       sync.Mutex
	fallback io.Writer
	dial     func() (priorityWriter, error)
	w        priorityWriter
}

func (o *syslogOut) send(level slog.Level, line []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	msg := strings.TrimSuffix(string(line), "\n")
	if o.w == nil {
		w, err := o.dial()
		if err != nil {
			o.fallback.Write(line)
			return
		}
		o.w = w
	}
	var err error
	switch {
	case level >= slog.LevelError:
		err = o.w.Err(msg)
	case level >= slog.LevelWarn:
		err = o.w.Warning(msg)
	case level >= slog.LevelInfo:
		err = o.w.Info(msg)
	default:
		err = o.w.Debug(msg)
	}
	if err != nil {
		// log/syslog redialled once and failed: drop that connection, dial
		// again at the next message
		o.w.Close()
		o.w = nil
		o.fallback.Write(line)
	}
}

// syslogHandler formats a record as slog's text without the time (syslog
// stamps it) and sends it with its level. Handlers made by WithAttrs share
// one buffer under one lock, as TextHandler shares its writer (so a
// LogValuer must not log).
type syslogHandler struct {
	out   *syslogOut
	text  slog.Handler // writes into buf
	buf   *bytes.Buffer
	guard *sync.Mutex // buf, shared by the handlers WithAttrs makes
}

func newSyslogHandler(out *syslogOut) *syslogHandler {
	buf := new(bytes.Buffer)
	noTime := func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}
	return &syslogHandler{out: out, buf: buf, guard: new(sync.Mutex),
		text: slog.NewTextHandler(buf, &slog.HandlerOptions{ReplaceAttr: noTime})}
}

func (h *syslogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.text.Enabled(ctx, l)
}

func (h *syslogHandler) Handle(ctx context.Context, r slog.Record) error {
	h.guard.Lock()
	defer h.guard.Unlock()
	h.buf.Reset()
	if err := h.text.Handle(ctx, r); err != nil {
		return err
	}
	h.out.send(r.Level, h.buf.Bytes())
	return nil
}

func (h *syslogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &syslogHandler{out: h.out, buf: h.buf, guard: h.guard, text: h.text.WithAttrs(as)}
}

func (h *syslogHandler) WithGroup(name string) slog.Handler {
	return &syslogHandler{out: h.out, buf: h.buf, guard: h.guard, text: h.text.WithGroup(name)}
}

package daemonlog

import (
	"bytes"
	"context"
	"log/slog"
	"log/syslog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listen is a syslog socket like /dev/log, at path.
func listen(t *testing.T, path string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func receive(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 8192)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("nothing reached syslog: %v", err)
	}
	return string(buf[:n])
}

func logger(path string, fallback *bytes.Buffer) *slog.Logger {
	out := &syslogOut{fallback: fallback, dial: func() (priorityWriter, error) {
		return syslog.Dial("unixgram", path, syslog.LOG_DAEMON|syslog.LOG_INFO, "gotrail")
	}}
	return slog.New(newSyslogHandler(out)).With("component", "watch")
}

// TestSyslogPriorities: each level is its syslog priority (facility
// daemon), the message is slog's text without a time of its own, and a
// newline in a value stays inside one message.
func TestSyslogPriorities(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	c := listen(t, path)
	var fallback bytes.Buffer
	log := logger(path, &fallback)
	for _, tc := range []struct {
		level slog.Level
		msg   string
		args  []any
		pri   string
		want  string
	}{
		{slog.LevelError, "saving the trail failed", []any{"err", "disk full"}, "<27>", `level=ERROR msg="saving the trail failed" component=watch err="disk full"`},
		{slog.LevelWarn, "a title", []any{"title", "go\nbuild\x1b[31m"}, "<28>", `level=WARN msg="a title" component=watch title="go\nbuild\x1b[31m"`},
		{slog.LevelInfo, "started", nil, "<30>", `level=INFO msg=started component=watch`},
	} {
		log.Log(context.Background(), tc.level, tc.msg, tc.args...)
		got := receive(t, c)
		if !strings.HasPrefix(got, tc.pri) || !strings.Contains(got, " gotrail[") || !strings.HasSuffix(strings.TrimSuffix(got, "\n"), "]: "+tc.want) {
			t.Errorf("syslog got %q, want %s…gotrail[pid]: %s", got, tc.pri, tc.want)
		}
		if strings.Contains(got, "time=") || strings.Count(got, "\n") > 1 {
			t.Errorf("syslog got %q: a time of its own or a line break", got)
		}
	}
	if fallback.Len() != 0 {
		t.Errorf("fell back with syslog there: %q", fallback.String())
	}
}

// TestSyslogLater: with no syslog listening, messages go to the fallback;
// once one listens (it started after gotrail, or restarted), they go there.
func TestSyslogLater(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	var fallback bytes.Buffer
	log := logger(path, &fallback)
	log.Warn("before syslog")
	if !strings.Contains(fallback.String(), `msg="before syslog"`) {
		t.Fatalf("fallback has %q", fallback.String())
	}
	c := listen(t, path)
	log.Warn("with syslog")
	if got := receive(t, c); !strings.Contains(got, `msg="with syslog"`) {
		t.Errorf("syslog got %q", got)
	}
	// syslog restarts: the old socket is gone, a new one at the same path
	c.Close()
	os.Remove(path)
	log.Warn("while it restarts")
	c = listen(t, path)
	log.Warn("after the restart")
	if got := receive(t, c); !strings.Contains(got, `msg="after the restart"`) {
		t.Errorf("syslog got %q", got)
	}
	if !strings.Contains(fallback.String(), `msg="while it restarts"`) {
		t.Errorf("a message while syslog was down is lost: fallback has %q", fallback.String())
	}
}

func TestLeadsNowhere(t *testing.T) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "err.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, tc := range []struct {
		name string
		f    *os.File
		want bool
	}{
		{"/dev/null", null, true},
		{"a file", file, false},
		{"a pipe (the journal, a shell's 2>&1 |)", w, false},
	} {
		if got := LeadsNowhere(tc.f); got != tc.want {
			t.Errorf("%s: LeadsNowhere = %v, want %v", tc.name, got, tc.want)
		}
	}
}

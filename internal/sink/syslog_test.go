package sink

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/gotrail/gotrail/internal/config"
	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/testutil/rsyslogtest"
)

// TestSyslogToRsyslog sends events over tcp, tls and udp to a real rsyslog
// writing RFC 5424, and parses what it wrote with a syslog parser: the
// structured data arrives intact, hostile text escaped, over-long messages
// shortened in MSG only.
func TestSyslogToRsyslog(t *testing.T) {
	rsyslogtest.Required(t)
	r := rsyslogtest.Start(t)
	long := hostile()
	long.Message = strings.Repeat("é long message ", 400) // over udp's 2048 bytes
	long.Event.ID = "1795637809.006:8"
	n := 0
	for _, addr := range []string{"tcp://" + r.TCP, "tls://" + r.TLS, "udp://" + r.UDP} {
		s, err := NewSyslog(config.Sink{Type: "syslog", Address: addr, CAFile: r.CAFile, Facility: "local3"})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range []*event.Event{hostile(), long} {
			if err := s.Send(context.Background(), e); err != nil {
				t.Fatalf("%s: %v", addr, err)
			}
			n++
		}
		s.Close()
	}
	lines := r.WaitLines(t, n, 10*time.Second)
	p := rfc5424.NewParser(rfc5424.WithBestEffort())
	var longs []int
	for i, line := range lines {
		m, err := p.Parse([]byte(line))
		if err != nil {
			t.Fatalf("line %d does not parse as RFC 5424: %v\n%s", i+1, err, line)
		}
		msg := m.(*rfc5424.SyslogMessage)
		if *msg.Appname != "gotrail" || *msg.MsgID != "profile.modify" || *msg.Facility != 19 || *msg.Severity != 3 {
			t.Errorf("line %d header: app %v msgid %v facility %v severity %v", i+1, *msg.Appname, *msg.MsgID, *msg.Facility, *msg.Severity)
		}
		sd := (*msg.StructuredData)["gotrail@32473"]
		want := map[string]string{"kind": "profile.modify", "auid": "1001", "login": "alice", "uid": "0", "user": "root",
			"path": "/etc/pro]file\"\\n", "exe": "/usr/bin/vim", "severity": "high", "authorized": "false", "key": "gotrail-profile"}
		for k, v := range want {
			if sd[k] != v {
				t.Errorf("line %d: SD %s = %q, want %q", i+1, k, sd[k], v)
			}
		}
		if strings.ContainsAny(line, "\x1b\x07") {
			t.Errorf("line %d carries control characters: %q", i+1, line)
		}
		if sd["id"] == "1795637809.006:8" && msg.Message != nil {
			longs = append(longs, len(line))
		}
	}
	// the long message whole over tcp and tls, shortened to 2048 over udp
	slices.Sort(longs)
	if len(longs) != 3 || longs[0] > 2048+64 || longs[1] < 6000 {
		t.Errorf("lengths of the long message as received: %v", longs)
	}
}

// TestNewSyslogChecks: a sink made without config.Load refuses what would
// make every message unparsable, as Load does.
func TestNewSyslogChecks(t *testing.T) {
	for _, tt := range []struct {
		c    config.Sink
		want string
	}{
		{config.Sink{Address: "udp://127.0.0.1:514", SDID: "gotrail"}, `sd_id "gotrail": want NAME@NUMBER`},
		{config.Sink{Address: "udp://127.0.0.1:514", SDID: "a b@1"}, "want printable US-ASCII"},
		{config.Sink{Address: "udp://127.0.0.1:514", Facility: "local9"}, `facility "local9"`},
	} {
		if _, err := NewSyslog(tt.c); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewSyslog(%+v) = %v, want an error containing %q", tt.c, err, tt.want)
		}
	}
	s, err := NewSyslog(config.Sink{Address: "udp://127.0.0.1:514", SDID: "acme@12345", Facility: "local3"})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(s.Message(hostile())); !strings.HasPrefix(got, "<155>1 ") || !strings.Contains(got, " [acme@12345 id=") {
		t.Errorf("message %s", got)
	}
}

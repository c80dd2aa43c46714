package sink

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/gotrail/gotrail/internal/event"
)

func TestAppendSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"vim /etc/profile", "vim /etc/profile"},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"a\nb\tc\rd", `a\nb\tc\rd`},
		{`back\slash`, `back\\slash`},
		{"caf\u00e9 ✓", "caf\u00e9 ✓"},
		{"\xff\xfe", `\xff\xfe`},
		{"\u009b31m", `\u009b31m`},
		{"x\u2028y", `x\u2028y`},
		{"\x7f\x00", `\x7f\x00`},
		// bidi controls reorder what a terminal shows
		{"/etc/\u202eelifor", `/etc/\u202eelifor`},
		{"a\u061cb\u200ec\u200fd", `a\u061cb\u200ec\u200fd`},
		{"\u202a\u202b\u202c\u202d", `\u202a\u202b\u202c\u202d`},
		{"\u2066\u2067\u2068\u2069", `\u2066\u2067\u2068\u2069`},
		{"\u05e9\u05dc\u05d5\u05dd \u0627", "\u05e9\u05dc\u05d5\u05dd \u0627"}, // right-to-left letters themselves stay
	}
	for _, tt := range tests {
		if got := string(AppendSafe(nil, tt.in)); got != tt.want {
			t.Errorf("AppendSafe(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func hostile() *event.Event {
	no := false
	e := &event.Event{
		Time:    event.Time{Time: time.Date(2026, 11, 25, 20, 16, 49, 6e6, time.UTC)},
		Event:   event.Meta{ID: "1795637809.006:7", Action: "write", Outcome: "success"},
		Gotrail: event.Gotrail{Kind: "profile.modify", Severity: "high", Authorized: &no},
		Tags:    []string{"gotrail-profile"},
		Host:    event.Host{Name: "web-01"},
		User:    event.User{Audit: &event.Ident{ID: "1001", Name: "alice"}, ID: "0", Name: "root", Effective: &event.Ident{ID: "0", Name: "root"}},
		Process: event.Process{PID: 2292, Executable: "/usr/bin/vim", Name: "vim\x1b]0;pwned\x07"},
		File:    &event.File{Path: "/etc/pro]file\"\n"},
		Message: "alice (as root) wrote /etc/profile with vim\x1b[2J",
	}
	event.Categorize(e)
	return e
}

func TestAppendText(t *testing.T) {
	got := string(AppendText(nil, hostile()))
	want := `2026-11-25T20:16:49.006Z alice      root       profile.modify  write    /etc/pro]file"\n (vim\x1b]0;pwned\x07)`
	if got != want {
		t.Errorf("AppendText:\n got %s\nwant %s", got, want)
	}
}

func TestRFC5424(t *testing.T) {
	got := string(RFC5424{}.Append(nil, hostile()))
	want := `<83>1 2026-11-25T20:16:49.006Z web-01 gotrail - profile.modify [gotrail@32473 id="1795637809.006:7" kind="profile.modify" action="write" outcome="success" auid="1001" login="alice" uid="0" user="root" euid="0" euser="root" path="/etc/pro\]file\"\\n" exe="/usr/bin/vim" pid="2292" key="gotrail-profile" severity="high" authorized="false"] alice (as root) wrote /etc/profile with vim\x1b[2J`
	if got != want {
		t.Errorf("RFC5424:\n got %s\nwant %s", got, want)
	}
	if strings.ContainsAny(got, "\x1b\n\x07") {
		t.Error("control characters reached the syslog line")
	}
}

// TestBidiControlsEscaped: a path or program name with a right-to-left
// override (or another bidi control) reaches neither the text line nor the
// syslog line raw, in any field, so that it cannot reorder what an
// operator reads.
func TestBidiControlsEscaped(t *testing.T) {
	for _, r := range []rune{'\u061c', '\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069'} {
		e := hostile()
		c := string(r)
		e.File.Path = "/etc/" + c + "elifor"
		e.Gotrail.PreviousPath = "/tmp/x" + c
		e.Process.Name = "vim" + c
		e.Process.Executable = "/usr/bin/vim" + c
		e.User.Audit.Name = "alice" + c
		e.Message = "wrote /etc/" + c + "elifor"
		escaped := fmt.Sprintf(`\u%04x`, r)
		for _, out := range []struct{ name, line string }{
			{"text", string(AppendText(nil, e))},
			{"rfc5424", string(RFC5424{}.Append(nil, e))},
		} {
			if strings.ContainsRune(out.line, r) {
				t.Errorf("%s: %U arrives raw: %q", out.name, r, out.line)
			}
			if !strings.Contains(out.line, "/etc/"+escaped+"elifor") {
				t.Errorf("%s: %U not escaped as %s: %q", out.name, r, escaped, out.line)
			}
		}
		// a collector's parser reads the escape back in the structured data
		m, err := rfc5424.NewParser().Parse(RFC5424{}.Append(nil, e))
		if err != nil {
			t.Fatalf("%U: %v", r, err)
		}
		sd := (*m.(*rfc5424.SyslogMessage).StructuredData)[DefaultSDID]
		if sd["path"] != "/etc/"+escaped+"elifor" || sd["login"] != "alice"+escaped {
			t.Errorf("%U: structured data %q", r, sd)
		}
	}
}

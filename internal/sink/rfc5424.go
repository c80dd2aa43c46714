package sink

import (
	"strconv"
	"strings"

	"github.com/gotrail/gotrail/internal/event"
)

// DefaultSDID is the structured-data id of gotrail's parameters: 32473 is
// the private enterprise number reserved for documentation (RFC 5612); a
// site with its own number configures it.
const DefaultSDID = "gotrail@32473"

// Syslog facilities gotrail may log under (RFC 5424, section 6.2.1).
const (
	FacilityAuthpriv = 10
)

// RFC5424 renders events as syslog messages.
type RFC5424 struct {
	Facility int    // default FacilityAuthpriv
	SDID     string // default DefaultSDID
	AppName  string // default "gotrail"
	ProcID   string // default "-"
}

// Severity maps an event's severity to a syslog severity: critical -> crit,
// high -> err, medium -> warning, low -> notice, otherwise info.
func Severity(s string) int {
	switch s {
	case "critical":
		return 2
	case "high":
		return 3
	case "medium":
		return 4
	case "low":
		return 5
	}
	return 6
}

// Append appends one RFC 5424 message for e (without framing or newline):
// <PRI>1 TIMESTAMP HOST gotrail - KIND [gotrail@32473 …] MESSAGE.
func (f RFC5424) Append(b []byte, e *event.Event) []byte {
	var ts [32]byte
	b = f.appendHeader(b, e.Gotrail.Severity, event.AppendTimestamp(ts[:0], e.Time.Time), e.Host.Name, e.Gotrail.Kind)
	b = appendParam(b, "id", e.Event.ID)
	b = appendParam(b, "kind", e.Gotrail.Kind)
	b = appendParam(b, "action", e.Event.Action)
	b = appendParam(b, "outcome", e.Event.Outcome)
	if a := e.User.Audit; a != nil {
		b = appendParam(b, "auid", a.ID)
		b = appendParam(b, "login", a.Name)
	}
	b = appendParam(b, "uid", e.User.ID)
	b = appendParam(b, "user", e.User.Name)
	if ef := e.User.Effective; ef != nil {
		b = appendParam(b, "euid", ef.ID)
		b = appendParam(b, "euser", ef.Name)
	}
	if e.File != nil {
		b = appendParam(b, "path", e.File.Path)
		b = appendParam(b, "previous_path", e.Gotrail.PreviousPath)
	}
	b = appendParam(b, "exe", e.Process.Executable)
	if e.Process.PID != 0 {
		b = appendParam(b, "pid", strconv.Itoa(e.Process.PID))
	}
	b = appendParam(b, "key", strings.Join(e.Tags, ","))
	b = appendParam(b, "severity", e.Gotrail.Severity)
	if e.Gotrail.Authorized != nil {
		b = appendParam(b, "authorized", strconv.FormatBool(*e.Gotrail.Authorized))
	}
	if t := e.Trail; t != nil {
		b = appendParam(b, "seq", strconv.FormatUint(t.Seq, 10))
		b = appendParam(b, "hash", t.Hash)
	}
	b = append(b, "] "...)
	return AppendSafe(b, e.Message)
}

// appendHeader appends the header and the start of gotrail's SD element,
// up to its first parameter: <PRI>1 TIMESTAMP HOST APP PROCID MSGID [SDID.
func (f RFC5424) appendHeader(b []byte, severity string, timestamp []byte, host, msgID string) []byte {
	fac := f.Facility
	if fac <= 0 || fac > 23 {
		fac = FacilityAuthpriv
	}
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(fac*8+Severity(severity)), 10)
	b = append(b, ">1 "...)
	b = appendHeaderField(b, string(timestamp), 64)
	b = append(b, ' ')
	b = appendHeaderField(b, host, 255)
	b = append(b, ' ')
	b = appendHeaderField(b, or(f.AppName, "gotrail"), 48)
	b = append(b, ' ')
	b = appendHeaderField(b, or(f.ProcID, "-"), 128)
	b = append(b, ' ')
	b = appendHeaderField(b, msgID, 32)
	b = append(b, " ["...)
	return append(b, or(f.SDID, DefaultSDID)...)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// appendHeaderField writes a header field: printable US-ASCII without
// spaces, at most max characters, "-" when empty (RFC 5424, section 6).
func appendHeaderField(b []byte, s string, max int) []byte {
	n := 0
	for i := 0; i < len(s) && n < max; i++ {
		c := s[i]
		if c > 32 && c < 127 {
			b = append(b, c)
			n++
		}
	}
	if n == 0 {
		b = append(b, '-')
	}
	return b
}

// appendParam writes name="value": the value made safe as AppendSafe
// makes it (control characters as \n, \x1b), then '"', '\\' and ']'
// escaped as RFC 5424 section 6.3.3 requires, so that a strict parser
// reads back exactly the safe form. Empty values are left out.
func appendParam(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ' ')
	b = append(b, name...)
	b = append(b, '=', '"')
	var tmp [256]byte
	for _, c := range AppendSafe(tmp[:0], v) {
		if c == '"' || c == '\\' || c == ']' {
			b = append(b, '\\')
		}
		b = append(b, c)
	}
	return append(b, '"')
}

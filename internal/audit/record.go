package audit

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// enrichedSep separates the kernel's fields from the names auditd adds when
// log_format = ENRICHED.
const enrichedSep = '\x1d'

// Stamp is the time auditd gave an event: seconds since the epoch and milliseconds.
type Stamp struct {
	Sec   int64
	Milli uint16
}

// Time is the stamp as a time.
func (s Stamp) Time() time.Time {
	return time.Unix(s.Sec, int64(s.Milli)*int64(time.Millisecond))
}

// Before reports whether s is earlier than o.
func (s Stamp) Before(o Stamp) bool {
	return s.Sec < o.Sec || (s.Sec == o.Sec && s.Milli < o.Milli)
}

// Record is one audit record: one line of an audit log.
//
// Only the header is parsed eagerly; Fields splits the body on demand, so a
// reader that only groups records pays for the header alone.
type Record struct {
	Node   string // the node= prefix, empty when absent
	Type   string // SYSCALL, PATH, UNKNOWN[1334], …
	Time   Stamp
	Serial uint64
	Line   int64  // line number in its input, for error messages
	Body   string // everything after "): ", including the enriched part
}

// Own copies the record's text out of the buffer it was parsed from, so
// that the buffer can be reused.
func (r *Record) Own() {
	r.Node = strings.Clone(r.Node)
	r.Type = strings.Clone(r.Type)
	r.Body = strings.Clone(r.Body)
}

// SyntaxError is a line that is not an audit record.
type SyntaxError struct {
	Line int64
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

var errNoHeader = errors.New("no type=… msg=audit(…): header")

// ParseRecord parses the header of one line (without its newline).
// The returned Record's strings share memory with line.
func ParseRecord(line string) (Record, error) {
	var r Record
	s := line
	if strings.HasPrefix(s, "node=") {
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			return r, errNoHeader
		}
		r.Node = s[5:i]
		s = s[i+1:]
	}
	if !strings.HasPrefix(s, "type=") {
		return r, errNoHeader
	}
	s = s[5:]
	i := strings.IndexByte(s, ' ')
	if i <= 0 {
		return r, errNoHeader
	}
	r.Type = s[:i]
	s = s[i+1:]
	if !strings.HasPrefix(s, "msg=audit(") {
		return r, errNoHeader
	}
	s = s[len("msg=audit("):]
	// SEC.MILLI:SERIAL):
	sec, n := parseUint(s)
	if n == 0 || n > 18 || n >= len(s) || s[n] != '.' {
		return r, errors.New("bad time in msg=audit(…)")
	}
	s = s[n+1:]
	ms, n := parseUint(s)
	if n == 0 || n > 3 || n >= len(s) || s[n] != ':' {
		return r, errors.New("bad milliseconds in msg=audit(…)")
	}
	s = s[n+1:]
	serial, n := parseUint(s)
	if n == 0 || n > 19 || n+1 >= len(s) || s[n] != ')' || s[n+1] != ':' {
		return r, errors.New("bad serial in msg=audit(…)")
	}
	s = s[n+2:]
	if len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	r.Time = Stamp{Sec: int64(sec), Milli: uint16(ms)}
	r.Serial = serial
	r.Body = s
	return r, nil
}

// parseUint reads leading decimal digits; n is how many were read.
// Overflow is prevented by the callers' digit limits.
func parseUint(s string) (v uint64, n int) {
	for n < len(s) && n < 20 {
		c := s[n]
		if c < '0' || c > '9' {
			break
		}
		v = v*10 + uint64(c-'0')
		n++
	}
	return v, n
}

// Quoting says how a value was written in the log.
type Quoting uint8

const (
	Bare   Quoting = iota // key=value: a number, a name, or hex for encoded fields
	Quoted                // key="value": printable text as it was
	Single                // the single-quoted msg='…' of user-space records
)

// Field is one key=value of a record, with the value as written (still hex
// when the kernel encoded it).
type Field struct {
	Key      string
	Value    string
	Quoting  Quoting
	Enriched bool // after the 0x1d separator: auditd's own interpretation
	// Open: a quoted value whose closing quote is missing (it runs to the
	// end of the body, or of msg='…')
	Open bool
}

// Fields splits the body into fields and appends them to dst. The fields of a
// user-space record's msg='…' are flattened into the record, as auditd's own
// tools show them. Tokens without '=' (the prose of AVC records) are skipped.
func (r *Record) Fields(dst []Field) []Field {
	return splitFields(dst, r.Body, false)
}

// KernelFields is Fields without what auditd added after the separator
// (the ENRICHED names), for a reader that needs none of it.
func (r *Record) KernelFields(dst []Field) []Field {
	s := r.Body
	if i := strings.IndexByte(s, enrichedSep); i >= 0 {
		s = s[:i]
	}
	return splitPart(dst, s, false)
}

func splitFields(dst []Field, s string, enriched bool) []Field {
	if i := strings.IndexByte(s, enrichedSep); i >= 0 {
		dst = splitPart(dst, s[:i], enriched)
		return splitPart(dst, s[i+1:], true)
	}
	return splitPart(dst, s, enriched)
}

// splitPart splits one side of the enriched separator in one pass: the key
// is scanned byte by byte up to its '=' (keys are a few bytes), and the
// value's end found by valueEnd. This loop is most of the parser's work; the
// tokenizing it must keep is FuzzSplitPartDiff's reference, splitPartOld.
func splitPart(dst []Field, s string, enriched bool) []Field {
	for len(s) > 0 {
		if s[0] == ' ' {
			s = s[1:]
			continue
		}
		i := 0
		for i < len(s) && s[i] != '=' && s[i] != ' ' {
			i++
		}
		switch {
		case i == len(s): // a bare word at the end
			return dst
		case s[i] == ' ': // a bare word (the prose of AVC records)
			s = s[i+1:]
			continue
		case i == 0: // no key: skip the token
			sp := strings.IndexByte(s, ' ')
			if sp < 0 {
				return dst
			}
			s = s[sp+1:]
			continue
		}
		key, rest := s[:i], s[i+1:]
		if len(rest) > 0 && (rest[0] == '"' || rest[0] == '\'') {
			q := rest[0]
			end := strings.IndexByte(rest[1:], q)
			open := end < 0
			if open {
				end = len(rest) - 1
			}
			val := rest[1 : 1+end]
			// the byte after the closing quote goes too, whatever it is
			s = rest[min(len(rest), end+2):]
			if q == '\'' {
				// msg='op=… acct="x" res=success': its fields are the record's
				dst = splitPart(dst, val, enriched)
				continue
			}
			dst = append(dst, Field{Key: key, Value: val, Quoting: Quoted, Enriched: enriched, Open: open})
			continue
		}
		sp := valueEnd(rest)
		if sp < 0 {
			return append(dst, Field{Key: key, Value: rest, Enriched: enriched})
		}
		dst = append(dst, Field{Key: key, Value: rest[:sp], Enriched: enriched})
		s = rest[sp+1:]
	}
	return dst
}

// valueEnd is the index of the first space in s, -1 if none. Most values
// are short numbers and names, for which a plain loop beats the call into
// IndexByte; long ones (hex arguments, titles) go to IndexByte's wide scan.
func valueEnd(s string) int {
	n := min(len(s), 16)
	for i := 0; i < n; i++ {
		if s[i] == ' ' {
			return i
		}
	}
	if n == len(s) {
		return -1
	}
	if j := strings.IndexByte(s[n:], ' '); j >= 0 {
		return n + j
	}
	return -1
}

// Package sink renders attributed events and delivers them: to standard
// output (text, JSON lines, RFC 5424 lines), and for the daemon to syslog and
// webhooks. It is the last stage of DESIGN.md's data flow.
package sink

import (
	"encoding/binary"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/gotrail/gotrail/internal/event"
)

// AppendText appends one readable line for e (without newline): time, login
// user, effective user, kind, action, the file or command, and the program.
// Everything that came from the audited host is made safe for a terminal.
func AppendText(b []byte, e *event.Event) []byte {
	b = event.AppendTimestamp(b, e.Time.Time)
	b = append(b, ' ')
	b = appendPadded(b, e.LoginName(), 10)
	b = appendPadded(b, e.EffectiveName(), 10)
	b = appendPadded(b, e.Gotrail.Kind, 15)
	act := e.Event.Action
	if e.Event.Outcome == "failure" {
		act += "!"
	}
	b = appendPadded(b, act, 8)
	switch {
	case e.Event.Action == "exec" && len(e.Process.Args) > 0:
		for i, a := range e.Process.Args {
			if i > 0 {
				b = append(b, ' ')
			}
			b = AppendSafe(b, a)
		}
	case e.Event.Action == "exec" && e.Process.Title != "":
		b = AppendSafe(b, e.Process.Title)
	case e.File != nil && e.Gotrail.PreviousPath != "":
		b = AppendSafe(b, e.Gotrail.PreviousPath)
		b = append(b, " -> "...)
		b = AppendSafe(b, e.File.Path)
	case e.File != nil:
		b = AppendSafe(b, e.File.Path)
	default:
		b = AppendSafe(b, e.Message)
	}
	if e.Event.Action != "exec" && e.Process.Name != "" {
		b = append(b, " ("...)
		b = AppendSafe(b, e.Process.Name)
		b = append(b, ')')
	}
	if e.Event.Outcome == "failure" && e.Auditd.Exit != "" {
		b = append(b, " ["...)
		b = AppendSafe(b, e.Auditd.Exit)
		b = append(b, ']')
	}
	return b
}

func appendPadded(b []byte, s string, width int) []byte {
	if s == "" {
		s = "-"
	}
	n := len(b)
	b = AppendSafe(b, s)
	for w := utf8.RuneCount(b[n:]); w < width; w++ {
		b = append(b, ' ')
	}
	return append(b, ' ')
}

// AppendSafe appends s with every byte that could steer a terminal or break
// a line-oriented log escaped: C0 controls, DEL, C1 controls, the line and
// paragraph separators, the Unicode bidi controls (which reorder what is
// shown: "/etc/\u202eelifor" reads as /etc/profile), invalid UTF-8 and the
// backslash itself (so that an escape in the output is never ambiguous). A
// process title with an ANSI escape shows as \x1b[31m.
func AppendSafe(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		// eight printable ASCII bytes at a time: nearly all of what is shown
		for i+8 <= len(s) && safe8(binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))) {
			i += 8
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '\\' {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if !(r == utf8.RuneError && size == 1) && !(r >= 0x80 && r < 0xa0) && r != '\u2028' && r != '\u2029' && !isBidiControl(r) {
				i += size
				continue
			}
			b = append(b, s[start:i]...)
			if r == utf8.RuneError {
				b = appendHexByte(b, c)
			} else {
				// four digits, so that what follows is not read as part of it
				const hex = "0123456789abcdef"
				b = append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
			}
			i += size
			start = i
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = appendHexByte(b, c)
		}
		i++
		start = i
	}
	return append(b, s[start:]...)
}

// isBidiControl reports whether r changes the direction text is shown in
// (Unicode's Bidi_Control: U+061C, U+200E, U+200F, U+202A-U+202E,
// U+2066-U+2069).
func isBidiControl(r rune) bool { return unicode.Is(unicode.Bidi_Control, r) }

func appendHexByte(b []byte, c byte) []byte {
	const hex = "0123456789abcdef"
	return append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
}

// safe8 reports whether the 8 bytes of x are all printable ASCII other
// than the backslash (0x20 to 0x7e), with the SWAR tests for "has a byte
// less than n" and "has a byte equal to n"; a byte of 0x7f or more sets its
// high bit in x or in x+1 (a carry comes only from 0xff, itself high).
func safe8(x uint64) bool {
	const lows, highs = 0x0101010101010101, 0x8080808080808080
	lt20 := (x - lows*0x20) &^ x & highs
	bs := x ^ (lows * '\\')
	bslash := (bs - lows) &^ bs & highs
	return (lt20 | bslash | (x|(x+lows))&highs) == 0
}

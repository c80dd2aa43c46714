package audit

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"time"
	"unsafe"
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
	r, s, err := parseType(line)
	if err != nil {
		return r, err
	}
	n, err := parseStamp(&r, s)
	if err != nil {
		return r, err
	}
	r.Body = body(s[n:])
	return r, nil
}

// RecordParser parses lines as ParseRecord does, remembering the last
// msg=audit(TIME:SERIAL): it read: the records of an event come one after
// the other with the same one, and its digits were most of the work of
// parsing a record. The zero value is ready; it is not safe for concurrent
// use.
type RecordParser struct {
	stamp  [64]byte // the last stamp's text, "msg=audit(…):"; a copy, as lines' buffers are reused
	n      int
	time   Stamp
	serial uint64
}

// Parse is ParseRecord(line).
func (p *RecordParser) Parse(line string) (Record, error) {
	r, s, err := parseType(line)
	if err != nil {
		return r, err
	}
	if n := p.n; n > 0 && len(s) >= n && s[:n] == unsafe.String(&p.stamp[0], n) {
		// the very text parseStamp read last time: the same values
		r.Time, r.Serial = p.time, p.serial
		r.Body = body(s[n:])
		return r, nil
	}
	n, err := parseStamp(&r, s)
	if err != nil {
		return r, err
	}
	p.n = copy(p.stamp[:], s[:n]) // parseStamp reads 54 bytes at most
	p.time, p.serial = r.Time, r.Serial
	r.Body = body(s[n:])
	return r, nil
}

// parseType reads the node= prefix and the type; s is what follows the
// type's space.
func parseType(line string) (r Record, s string, err error) {
	s = line
	if strings.HasPrefix(s, "node=") {
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			return r, "", errNoHeader
		}
		r.Node = s[5:i]
		s = s[i+1:]
	}
	if !strings.HasPrefix(s, "type=") {
		return r, "", errNoHeader
	}
	s = s[5:]
	i := strings.IndexByte(s, ' ')
	if i <= 0 {
		return r, "", errNoHeader
	}
	r.Type = s[:i]
	return r, s[i+1:], nil
}

// parseStamp reads msg=audit(SEC.MILLI:SERIAL): at the start of s into r
// and returns its length: 54 bytes at most, by the digit limits.
func parseStamp(r *Record, s string) (int, error) {
	const prefix = "msg=audit("
	if !strings.HasPrefix(s, prefix) {
		return 0, errNoHeader
	}
	p := len(prefix)
	sec, n := parseUint(s[p:])
	if n == 0 || n > 18 || p+n >= len(s) || s[p+n] != '.' {
		return 0, errors.New("bad time in msg=audit(…)")
	}
	p += n + 1
	ms, n := parseUint(s[p:])
	if n == 0 || n > 3 || p+n >= len(s) || s[p+n] != ':' {
		return 0, errors.New("bad milliseconds in msg=audit(…)")
	}
	p += n + 1
	serial, n := parseUint(s[p:])
	if n == 0 || n > 19 || p+n+1 >= len(s) || s[p+n] != ')' || s[p+n+1] != ':' {
		return 0, errors.New("bad serial in msg=audit(…)")
	}
	r.Time = Stamp{Sec: int64(sec), Milli: uint16(ms)}
	r.Serial = serial
	return p + n + 2, nil
}

// body is what follows the stamp, without the space after it.
func body(s string) string {
	if len(s) > 0 && s[0] == ' ' {
		return s[1:]
	}
	return s
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
		// keyEnd and valueEnd, their first word inline
		i := 8
		if len(s) >= 8 {
			i = equalsOrSpaceIn(load64(s))
		}
		if i == 8 {
			i = keyEnd(s)
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
		sp := 8
		if len(rest) >= 8 {
			sp = spaceIn(load64(rest))
		}
		if sp == 8 {
			sp = valueEnd(rest)
		}
		if sp < 0 {
			return append(dst, Field{Key: key, Value: rest, Enriched: enriched})
		}
		dst = append(dst, Field{Key: key, Value: rest[:sp], Enriched: enriched})
		s = rest[sp+1:]
	}
	return dst
}

// splitPartWanted is splitPart of the kernel's part for a reader that
// needs a few of the fields: those whose keys want surely does not hold
// are left out, which spares storing and dispatching most of a PATH record
// (and, for Sketch, of a SYSCALL). It splits exactly as splitPart does
// (FuzzSplitPartWantedDiff holds it to splitPart, filtered). Where most
// fields are kept it costs more than it saves: whether to store a field
// is a branch the processor cannot foresee. It is a copy of splitPart's
// loop rather than splitPart with a nil filter: that one loop for both
// cost 2% of the Go-only and text runs' instructions per MiB.
func splitPartWanted(dst []Field, s string, want *keyFilter) []Field {
	for len(s) > 0 {
		if s[0] == ' ' {
			s = s[1:]
			continue
		}
		// keyEnd and valueEnd, their first word inline
		i := 8
		if len(s) >= 8 {
			i = equalsOrSpaceIn(load64(s))
		}
		if i == 8 {
			i = keyEnd(s)
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
				dst = splitPartWanted(dst, val, want)
				continue
			}
			if want.has(key) {
				dst = append(dst, Field{Key: key, Value: val, Quoting: Quoted, Open: open})
			}
			continue
		}
		sp := 8
		if len(rest) >= 8 {
			sp = spaceIn(load64(rest))
		}
		if sp == 8 {
			sp = valueEnd(rest)
		}
		if sp < 0 {
			if want.has(key) {
				dst = append(dst, Field{Key: key, Value: rest})
			}
			return dst
		}
		if want.has(key) {
			dst = append(dst, Field{Key: key, Value: rest[:sp]})
		}
		s = rest[sp+1:]
	}
	return dst
}

// keyFilter is a set of keys known by their first byte (its low five bits)
// and length (up to 8): a key outside it is surely not one of the keys it
// was made of; one inside may be, sharing a letter and length with one.
type keyFilter [32]uint8

func newKeyFilter(keys ...string) *keyFilter {
	var kf keyFilter
	for _, k := range keys {
		kf[k[0]&31] |= 1 << (min(len(k), 8) - 1)
	}
	return &kf
}

// has reports whether key (not empty) may be one of the filter's.
func (kf *keyFilter) has(key string) bool {
	return kf[key[0]&31]&(1<<(min(len(key), 8)-1)) != 0
}

// kernelFieldsOf is KernelFields without the fields whose keys want
// surely does not hold: for a reader that takes nothing of auditd's names.
func (r *Record) kernelFieldsOf(dst []Field, want *keyFilter) []Field {
	s := r.Body
	if i := strings.IndexByte(s, enrichedSep); i >= 0 {
		s = s[:i]
	}
	return splitPartWanted(dst, s, want)
}

// valueEnd is the index of the first space in s, -1 if none. Most values
// are short numbers and names: their end is found a word at a time (no
// loop whose exit depends on the value's length, which the branch
// predictor misses), inline; long ones (hex arguments, titles) go to
// IndexByte's wide scan. Words are read only where s has 8 bytes.
func valueEnd(s string) int {
	if len(s) >= 8 {
		if i := spaceIn(load64(s)); i < 8 {
			return i
		}
	}
	return valueEndAfter(s)
}

// valueEndAfter is valueEnd past its first word.
func valueEndAfter(s string) int {
	if len(s) < 8 {
		for i := 0; i < len(s); i++ {
			if s[i] == ' ' {
				return i
			}
		}
		return -1
	}
	if len(s) >= 16 {
		if i := spaceIn(loadAt(s, 8)); i < 8 {
			return 8 + i
		}
		if j := strings.IndexByte(s[16:], ' '); j >= 0 {
			return 16 + j
		}
		return -1
	}
	for i := 8; i < len(s); i++ {
		if s[i] == ' ' {
			return i
		}
	}
	return -1
}

// keyEnd is the index of the first '=' or space in s, len(s) if none: a
// word at a time for the first 8 bytes (keys are 2 to 7 bytes), as
// valueEnd does.
func keyEnd(s string) int {
	if len(s) >= 8 {
		if i := equalsOrSpaceIn(load64(s)); i < 8 {
			return i
		}
		return keyEndFrom(s, 8)
	}
	return keyEndFrom(s, 0)
}

func keyEndFrom(s string, i int) int {
	for i < len(s) && s[i] != '=' && s[i] != ' ' {
		i++
	}
	return i
}

// equalsOrSpaceIn is the index of the first '=' or space in the 8 bytes of
// w, 8 if none; see spaceIn. The lowest flag of either test is exact, so
// the lowest of both is.
func equalsOrSpaceIn(w uint64) int {
	const ones, highs, spaces, equals = 0x0101010101010101, 0x8080808080808080, 0x2020202020202020, 0x3d3d3d3d3d3d3d3d
	x, y := w^spaces, w^equals
	return bits.TrailingZeros64(((x-ones)&^x|(y-ones)&^y)&highs) >> 3
}

// spaceIn is the index of the first space in the 8 bytes of w (little
// endian), 8 if none: a space's byte is zero in w^0x20…, and the lowest
// byte the zero-byte test flags is the first zero (a false flag needs a
// borrow from a lower zero byte).
func spaceIn(w uint64) int {
	const ones, highs, spaces = 0x0101010101010101, 0x8080808080808080, 0x2020202020202020
	x := w ^ spaces
	return bits.TrailingZeros64((x-ones)&^x&highs) >> 3
}

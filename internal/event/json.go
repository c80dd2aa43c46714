package event

import (
	"encoding/binary"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// AppendJSON appends e as one line of JSON (without the newline). The output
// is what encoding/json writes for Event with HTML escaping off, byte for
// byte; it exists because reflection costs more than parsing the audit line
// did, and `gotrail events` prints hundreds of thousands of events a second.
func AppendJSON(b []byte, e *Event) []byte {
	b = append(b, `{"@timestamp":"`...)
	b = AppendTimestamp(b, e.Time.Time)
	b = append(b, `","event":{"id":`...)
	m := &e.Event
	b = AppendString(b, m.ID)
	b = append(b, `,"kind":`...)
	b = AppendString(b, m.Kind)
	b = appendOptStrings(b, `"category":`, m.Category)
	b = appendOptStrings(b, `"type":`, m.Type)
	b = appendOptString(b, `"action":`, m.Action)
	b = appendOptString(b, `"outcome":`, m.Outcome)
	b = append(b, `,"severity":`...)
	b = strconv.AppendInt(b, int64(m.Severity), 10)
	b = appendOptString(b, `"module":`, m.Module)
	b = appendOptString(b, `"dataset":`, m.Dataset)
	b = append(b, `},"gotrail":{"kind":`...)
	b = appendGotrail(b, &e.Gotrail)
	b = append(b, '}')
	b = appendOptStrings(b, `"tags":`, e.Tags)
	b = append(b, `,"host":{`...)
	b = appendOptString(b, `"name":`, e.Host.Name)
	if o := e.Host.OS; o != nil {
		b = key(b, `"os":`)
		b = append(b, '{')
		b = appendOptString(b, `"kernel":`, o.Kernel)
		b = append(b, '}')
	}
	b = append(b, `},"user":{`...)
	b = appendUser(b, &e.User)
	b = append(b, `},"process":{`...)
	b = appendProcess(b, &e.Process)
	b = append(b, '}')
	if e.File != nil {
		b = append(b, `,"file":{"path":`...)
		b = AppendString(b, e.File.Path)
		b = appendOptString(b, `"mode":`, e.File.Mode)
		b = append(b, '}')
	}
	if e.Container != nil {
		b = append(b, `,"container":{"id":`...)
		b = AppendString(b, e.Container.ID)
		b = append(b, '}')
	}
	b = append(b, `,"auditd":{`...)
	b = appendAuditd(b, &e.Auditd)
	b = append(b, `},"message":`...)
	b = AppendString(b, e.Message)
	if t := e.Trail; t != nil {
		b = append(b, `,"trail":{"seq":`...)
		b = strconv.AppendUint(b, t.Seq, 10)
		b = append(b, `,"prev":`...)
		b = AppendString(b, t.Prev)
		b = append(b, `,"hash":`...)
		b = AppendString(b, t.Hash)
		b = append(b, '}')
	}
	return append(b, '}')
}

// AppendTimestamp is t.UTC().AppendFormat(b, TimeLayout) written out by
// hand, as time's general layout interpreter costs more than the rest of
// the line's fixed parts; years of other than four digits go to it.
func AppendTimestamp(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, TimeLayout)
	}
	h, mi, s := t.Clock()
	ms := t.Nanosecond() / 1e6
	return append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+mo/10), byte('0'+mo%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':',
		byte('0'+s/10), byte('0'+s%10), '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// key writes a key inside an object, given quoted and with its colon
// (`"name":`, one copy), with a comma unless the object is still empty (its
// last byte is the opening brace).
func key(b []byte, quoted string) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	return append(b, quoted...)
}

func appendOptString(b []byte, k, v string) []byte {
	if v == "" {
		return b
	}
	b = key(b, k)
	return AppendString(b, v)
}

func appendIdent(b []byte, k string, id *Ident) []byte {
	if id == nil {
		return b
	}
	b = key(b, k)
	b = append(b, '{')
	b = appendOptString(b, `"id":`, id.ID)
	b = appendOptString(b, `"name":`, id.Name)
	return append(b, '}')
}

func appendUser(b []byte, u *User) []byte {
	b = appendIdent(b, `"audit":`, u.Audit)
	b = appendOptString(b, `"id":`, u.ID)
	b = appendOptString(b, `"name":`, u.Name)
	return appendIdent(b, `"effective":`, u.Effective)
}

// appendGotrail writes the gotrail object after its opening `{"kind":`.
func appendGotrail(b []byte, g *Gotrail) []byte {
	b = AppendString(b, g.Kind)
	b = appendOptString(b, `"severity":`, g.Severity)
	if g.Authorized != nil {
		b = append(b, `,"authorized":`...)
		b = strconv.AppendBool(b, *g.Authorized)
	}
	b = appendOptString(b, `"policy":`, g.Policy)
	b = appendOptString(b, `"previous_path":`, g.PreviousPath)
	b = appendIdent(b, `"sudo":`, g.Sudo)
	b = appendOptString(b, `"env_error":`, g.EnvError)
	b = appendOptString(b, `"interpreter":`, g.Interpreter)
	if g.Toolchain != nil {
		b = append(b, `,"toolchain":`...)
		b = appendToolchain(b, g.Toolchain)
	}
	if c := g.AuditChange; c != nil {
		b = append(b, `,"audit_change":{`...)
		b = appendRuleCounts(b, `"added":`, c.Added)
		b = appendRuleCounts(b, `"removed":`, c.Removed)
		b = appendRuleCounts(b, `"gotrail_removed":`, c.GotrailRemoved)
		b = appendOptStrings(b, `"missing":`, c.Missing)
		if len(c.Settings) > 0 {
			b = key(b, `"settings":`)
			b = append(b, '[')
			for i, st := range c.Settings {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"name":`...)
				b = AppendString(b, st.Name)
				b = append(b, `,"old":`...)
				b = AppendString(b, st.Old)
				b = append(b, `,"new":`...)
				b = AppendString(b, st.New)
				b = append(b, '}')
			}
			b = append(b, ']')
		}
		if c.Refused != 0 {
			b = key(b, `"refused":`)
			b = strconv.AppendInt(b, int64(c.Refused), 10)
		}
		b = append(b, '}')
	}
	return b
}

func appendRuleCounts(b []byte, k string, rs []RuleCount) []byte {
	if len(rs) == 0 {
		return b
	}
	b = key(b, k)
	b = append(b, '[')
	for i, r := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":`...)
		b = AppendString(b, r.Key)
		b = appendOptString(b, `"dir":`, r.Dir)
		b = append(b, `,"rules":`...)
		b = strconv.AppendInt(b, int64(r.Rules), 10)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendOptStrings writes a non-empty string array.
func appendOptStrings(b []byte, k string, vs []string) []byte {
	if len(vs) == 0 {
		return b
	}
	b = key(b, k)
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, v)
	}
	return append(b, ']')
}

func appendToolchain(b []byte, t *Toolchain) []byte {
	b = append(b, `{"version":`...)
	b = AppendString(b, t.Version)
	b = appendOptString(b, `"source":`, t.Source)
	b = appendOptString(b, `"url":`, t.URL)
	b = appendOptString(b, `"archive_sha256":`, t.ArchiveSHA256)
	b = appendOptString(b, `"module_hash":`, t.ModuleHash)
	if s := t.SumDB; s != nil {
		b = append(b, `,"sumdb":{"name":`...)
		b = AppendString(b, s.Name)
		b = appendOptString(b, `"url":`, s.URL)
		if s.Record != 0 {
			b = append(b, `,"record":`...)
			b = strconv.AppendInt(b, s.Record, 10)
		}
		if len(s.Lines) > 0 {
			b = append(b, `,"lines":[`...)
			for i, l := range s.Lines {
				if i > 0 {
					b = append(b, ',')
				}
				b = AppendString(b, l)
			}
			b = append(b, ']')
		}
		b = appendOptString(b, `"tree_head":`, s.TreeHead)
		b = append(b, '}')
	}
	b = appendOptString(b, `"dir":`, t.Dir)
	b = appendOptString(b, `"link":`, t.Link)
	b = appendOptString(b, `"previous":`, t.Previous)
	b = appendOptString(b, `"manifest":`, t.Manifest)
	b = appendOptString(b, `"error":`, t.Error)
	return append(b, '}')
}

func appendProcess(b []byte, p *Process) []byte {
	if p.PID != 0 {
		b = key(b, `"pid":`)
		b = strconv.AppendInt(b, int64(p.PID), 10)
	}
	b = appendOptString(b, `"executable":`, p.Executable)
	b = appendOptString(b, `"name":`, p.Name)
	b = appendOptStrings(b, `"args":`, p.Args)
	b = appendOptString(b, `"title":`, p.Title)
	b = appendOptString(b, `"working_directory":`, p.WorkingDirectory)
	b = appendOptStrings(b, `"env_vars":`, p.EnvVars)
	if p.Parent != nil {
		b = key(b, `"parent":`)
		b = append(b, '{')
		if p.Parent.PID != 0 {
			b = key(b, `"pid":`)
			b = strconv.AppendInt(b, int64(p.Parent.PID), 10)
		}
		b = appendOptString(b, `"name":`, p.Parent.Name)
		b = append(b, '}')
	}
	return b
}

func appendAuditd(b []byte, a *Auditd) []byte {
	b = appendOptString(b, `"message_type":`, a.MessageType)
	b = appendOptString(b, `"session":`, a.Session)
	b = appendOptString(b, `"tty":`, a.TTY)
	b = appendOptString(b, `"syscall":`, a.Syscall)
	b = appendOptString(b, `"arch":`, a.Arch)
	b = appendOptString(b, `"exit":`, a.Exit)
	if len(a.Paths) > 0 {
		b = key(b, `"paths":`)
		b = append(b, '[')
		for i := range a.Paths {
			p := &a.Paths[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = AppendString(b, p.Name)
			b = appendOptString(b, `"nametype":`, p.Nametype)
			b = appendOptString(b, `"inode":`, p.Inode)
			b = appendOptString(b, `"mode":`, p.Mode)
			b = appendOptString(b, `"ouid":`, p.OUID)
			b = appendOptString(b, `"ogid":`, p.OGID)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(a.Records) > 0 {
		b = key(b, `"records":`)
		b = append(b, a.Records...)
	}
	return appendOptString(b, `"incomplete":`, a.Incomplete)
}

const hexDigits = "0123456789abcdef"

const (
	lows  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plain8 reports whether none of 8 bytes needs escaping.
func plain8(s string) bool {
	return plainBits(load64(unsafe.StringData(s), 0))
}

// plainBits reports whether none of the 8 bytes of x needs escaping: no
// control character, quote, backslash or non-ASCII byte (the classic SWAR
// tests for "has a byte less than n" and "has a byte equal to n").
func plainBits(x uint64) bool {
	lt20 := (x - lows*0x20) &^ x & highs
	q := x ^ (lows * '"')
	quote := (q - lows) &^ q & highs
	bs := x ^ (lows * '\\')
	bslash := (bs - lows) &^ bs & highs
	return (lt20 | quote | bslash | x&highs) == 0
}

// PlainButQuotes reports whether AppendString would copy every substring of
// s without a double quote as it is: s has no control character, backslash
// or non-ASCII byte. A renderer that knows where the quotes of a text are
// (the audit record renderer, from its field splitter) checks the text once
// and then writes its pieces without looking at them again.
func PlainButQuotes(s string) bool {
	p, n := unsafe.StringData(s), len(s)
	if n < 8 {
		for i := range n {
			if c := s[i]; c < 0x20 || c == '\\' || c >= utf8.RuneSelf {
				return false
			}
		}
		return true
	}
	// sixteen bytes a turn (a record body is a few hundred), then the last
	// sixteen or eight again for what is left
	i := 0
	for ; i+16 <= n; i += 16 {
		if !plainButQuotes2(load64(p, i), load64(p, i+8)) {
			return false
		}
	}
	switch {
	case i == n:
		return true
	case n >= 16:
		return plainButQuotes2(load64(p, n-16), load64(p, n-8))
	}
	return plainButQuotes2(load64(p, 0), load64(p, n-8))
}

// load64 is the 8 bytes from p+i, read as one load: through an array
// pointer, not unsafe.Slice, whose wrap-around check costs 3 instructions
// a word.
func load64(p *byte, i int) uint64 {
	return binary.LittleEndian.Uint64((*[8]byte)(unsafe.Add(unsafe.Pointer(p), i))[:])
}

// plainButQuotes2 reports whether the 16 bytes of x and y are all 0x20 to
// 0x7f but the backslash. A byte c is in that range exactly when c+0x60
// has its high bit set and c has not; the carry out of a byte over 0x9f
// can spoil its neighbour's answer, but that byte fails already.
func plainButQuotes2(x, y uint64) bool {
	inRange := ((x + lows*0x60) &^ x) & ((y + lows*0x60) &^ y) & highs
	bx, by := x^(lows*'\\'), y^(lows*'\\')
	bslash := ((bx - lows) &^ bx) | ((by - lows) &^ by)
	return inRange == highs && bslash&highs == 0
}

// plain marks the ASCII bytes a JSON string carries as they are.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainWord is plain8 for a string of 1 to 8 bytes, read as one word: two
// overlapping halves for 4 to 7 bytes, byte by byte below that with the
// missing bytes taken as spaces, which are plain.
func plainWord(s string) bool {
	n := len(s)
	if n == 8 {
		return plain8(s)
	}
	var x uint64
	if n >= 4 {
		x = uint64(load32(s)) | uint64(load32(s[n-4:]))<<32
	} else {
		x = lows * ' '
		for i := range n {
			x = x&^(0xff<<(8*i)) | uint64(s[i])<<(8*i)
		}
	}
	return plainBits(x)
}

func load32(s string) uint32 {
	return binary.LittleEndian.Uint32((*[4]byte)(unsafe.Pointer(unsafe.StringData(s)))[:])
}

// isPlain reports whether s needs no escaping at all, a word at a time;
// the tail is the last eight bytes again, overlapping.
func isPlain(s string) bool {
	n := len(s)
	if n <= 8 {
		return n == 0 || plainWord(s)
	}
	p, i := unsafe.StringData(s), 0
	// long ones (titles, messages) sixteen bytes a turn
	for ; i+16 < n; i += 16 {
		x, y := load64(p, i), load64(p, i+8)
		qx, qy := x^(lows*'"'), y^(lows*'"')
		if !plainButQuotes2(x, y) || ((qx-lows)&^qx|(qy-lows)&^qy)&highs != 0 {
			return false
		}
	}
	for ; i+8 < n; i += 8 {
		if !plain8(s[i : i+8]) {
			return false
		}
	}
	return plain8(s[n-8:])
}

// AppendString appends s as a JSON string the way encoding/json does with
// HTML escaping off: control characters escaped, invalid UTF-8 replaced by
// U+FFFD, U+2028 and U+2029 escaped. Nearly every string gotrail writes
// needs no escape: those are copied whole.
func AppendString(b []byte, s string) []byte {
	if len(s) <= 16 {
		// most are short (ids, numbers, names, arguments): a table look-up a
		// byte costs less than setting up words, and each byte is copied as
		// it is checked, which costs less than a call to memmove
		n := len(b)
		if cap(b)-n < len(s)+2 {
			b = growBytes(b, len(s)+2)
		}
		d := b[n : n+len(s)+2]
		d[0] = '"'
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !plainByte[c] {
				return appendEscaped(b[:n], s)
			}
			d[i+1] = c
		}
		d[len(s)+1] = '"'
		return b[:n+len(s)+2]
	}
	if !isPlain(s) {
		return appendEscaped(b, s)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// growBytes is b with room for n more bytes, grown as append grows it.
func growBytes(b []byte, n int) []byte {
	return append(b, make([]byte, n)...)[:len(b)]
}

// plainByte is plain for every byte value: false from 0x80 up.
var plainByte = func() (t [256]bool) {
	copy(t[:], plain[:])
	return t
}()

// appendEscaped is AppendString for a string with something to escape.
func appendEscaped(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// eight plain ASCII bytes at a time: most of what gotrail writes
		for i+8 <= len(s) && plain8(s[i:i+8]) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// the line separators break JavaScript readers; the bidi controls
		// reorder what jq -r or a terminal shows ("/etc/\u202eelifor")
		if r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r) {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

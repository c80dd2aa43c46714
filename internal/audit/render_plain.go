package audit

import (
	"strings"

	"github.com/gotrail/gotrail/internal/event"
)

// The fast path of appendRecord, for what nearly every record is: text that
// needs no JSON escape, keys in lower case written once each. It writes the
// same bytes as appendAnyRecord, which FuzzAppendRecordDiff checks, with
// less work per field: the text is checked for escapes once, not key by key
// and value by value, and the key set is only asked about keys that can
// repeat.

// plainRecord reports whether every key and every value as written (before
// hex decoding) of the fields split from body is a JSON string as it is.
// The body is checked for escapes in one pass (event.PlainButQuotes); that
// leaves double quotes. Each closed quoted value owns two, its delimiters,
// and holds none, so when the body has exactly two per quoted value no key
// or bare value has one.
func plainRecord(body string, fields []Field) bool {
	quotes := 0
	for i := range fields {
		if fields[i].Quoting == Quoted {
			if fields[i].Open {
				return false
			}
			quotes += 2
		}
	}
	kernel, enriched := body, ""
	if i := strings.IndexByte(body, enrichedSep); i >= 0 {
		kernel, enriched = body[:i], body[i+1:]
	}
	return event.PlainButQuotes(kernel) && event.PlainButQuotes(enriched) &&
		strings.Count(body, `"`) == quotes
}

// lowerKeys reports whether the fields have the shape the fast path relies
// on: the kernel's keys have no upper-case letter and none is "type" (so no
// interpretation's key, all upper case, can equal one), every key auditd
// added has an upper-case letter (so it equals no kernel key), and all keys
// are different. Records of a type mostly repeat the keys of the one
// before, so the last accepted keys of each type are remembered and a
// record with the same keys is accepted by comparing them.
func (in *Interpreter) lowerKeys(typ string, fields []Field) bool {
	s := in.shapeOf(typ)
	if s.same(fields) {
		return true
	}
	if !in.checkKeys(fields) {
		return false
	}
	s.remember(fields)
	return true
}

// checkKeys is lowerKeys without the remembered shapes.
func (in *Interpreter) checkKeys(fields []Field) bool {
	keys := &in.keys
	keys.reset()
	for i := range fields {
		f := &fields[i]
		if f.Enriched != hasUpper(f.Key) || f.Key == "type" || !keys.add(f.Key) {
			return false
		}
	}
	return true
}

// keyShape is the keys of the last record of a type that checkKeys
// accepted: those of the kernel, then those auditd added.
type keyShape struct {
	typ      string
	keys     []string // views into buf
	kernel   int      // how many of keys are the kernel's
	buf      []byte
	lastUsed uint64
}

// maxShapes bounds the types remembered; maxShapeBytes the keys of one.
const (
	maxShapes     = 16
	maxShapeBytes = 8 << 10
)

// shapeOf returns the remembered shape of record type typ, or the slot to
// remember it in: a free one or the least recently used.
func (in *Interpreter) shapeOf(typ string) *keyShape {
	in.shapeClock++
	var victim *keyShape
	for i := range in.shapes {
		s := &in.shapes[i]
		if s.typ == typ {
			s.lastUsed = in.shapeClock
			return s
		}
		if victim == nil || s.lastUsed < victim.lastUsed {
			victim = s
		}
	}
	if len(in.shapes) < maxShapes {
		in.shapes = append(in.shapes, keyShape{})
		victim = &in.shapes[len(in.shapes)-1]
	}
	*victim = keyShape{typ: strings.Clone(typ), keys: victim.keys[:0], buf: victim.buf[:0], lastUsed: in.shapeClock}
	return victim
}

// same reports whether fields have exactly the remembered keys, the
// kernel's and auditd's split where they were.
func (s *keyShape) same(fields []Field) bool {
	if len(fields) != len(s.keys) || len(s.keys) == 0 {
		return false
	}
	for i := range fields {
		if fields[i].Key != s.keys[i] || fields[i].Enriched != (i >= s.kernel) {
			return false
		}
	}
	return true
}

// remember keeps a copy of the keys of fields (which checkKeys accepted).
func (s *keyShape) remember(fields []Field) {
	s.keys, s.kernel, s.buf = s.keys[:0], 0, s.buf[:0]
	n := 0
	for i := range fields {
		n += len(fields[i].Key)
	}
	if n > maxShapeBytes {
		return
	}
	if cap(s.buf) < n {
		s.buf = make([]byte, 0, n)
	}
	for i := range fields {
		s.buf = append(s.buf, fields[i].Key...)
		if !fields[i].Enriched {
			s.kernel++
		}
	}
	// views taken after the appends: buf does not move any more
	off := 0
	for i := range fields {
		k := len(fields[i].Key)
		s.keys = append(s.keys, bytesView(s.buf[off:off+k]))
		off += k
	}
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// appendPlainRecord is appendRecord for a record that plainRecord and
// lowerKeys accept.
func (in *Interpreter) appendPlainRecord(b []byte, r *Record, fields []Field) []byte {
	b = append(b, `{"type":`...)
	b = event.AppendString(b, r.Type)
	arch, archOK, success := archSuccess(fields)
	in.interp = in.interp[:0]
	enriched := false
	for i := range fields {
		f := &fields[i]
		if f.Enriched {
			enriched = true
			continue
		}
		if mayInterpret(f.Key) {
			in.interp = append(in.interp, int32(i))
		}
		b = append(b, `,"`...)
		b = append(b, f.Key...)
		b = append(b, `":`...)
		b = in.appendPlainValue(b, r.Type, f)
	}
	// interpretations: one key each, all different, none a kernel's key
	var written uint32 // upBit of each
	for _, i := range in.interp {
		up, val := in.interpretField(r, fields, fields[i], arch, archOK, success)
		if up == "" {
			continue
		}
		written |= upBit(up)
		b = append(b, `,"`...)
		b = append(b, up...)
		b = append(b, `":`...)
		b = event.AppendString(b, val)
	}
	if !enriched {
		return append(b, '}')
	}
	// what auditd interpreted that we do not (SADDR, SIG, …)
	for i := range fields {
		f := &fields[i]
		if !f.Enriched || written&upBit(f.Key) != 0 {
			continue
		}
		b = append(b, `,"`...)
		b = append(b, f.Key...)
		b = append(b, `":"`...)
		b = append(b, f.Value...)
		b = append(b, '"')
	}
	return append(b, '}')
}

// appendPlainValue writes a kernel field's value: as it is, but hex
// decoded (which can yield anything, so it is escaped) and null for (null).
func (in *Interpreter) appendPlainValue(b []byte, recordType string, f *Field) []byte {
	if f.Quoting == Bare && f.Value == "(null)" {
		return append(b, "null"...)
	}
	if f.Quoting == Bare && IsEncoded(recordType, f.Key) {
		if buf, ok := appendHex(in.hex[:0], f.Value); ok {
			in.hex = buf
			if f.Key == "proctitle" {
				buf = procTitleBytes(buf)
			}
			return event.AppendString(b, bytesView(buf))
		}
	}
	b = append(b, '"')
	b = append(b, f.Value...)
	return append(b, '"')
}

// archSuccess is what interpretations depend on: the last arch and success
// of the kernel's fields.
func archSuccess(fields []Field) (arch Arch, archOK bool, success string) {
	for i := range fields {
		f := &fields[i]
		if f.Enriched {
			continue
		}
		switch f.Key {
		case "arch":
			arch, archOK = ParseArch(f.Value)
		case "success":
			success = f.Value
		}
	}
	return arch, archOK, success
}

// mayInterpret is false for most keys interpretField has nothing for, by
// their last letter: all it interprets end in h (arch), l (syscall), t
// (exit), e (mode), s (ses, res) or d (the ids).
func mayInterpret(k string) bool {
	if len(k) < 3 {
		return false
	}
	switch k[len(k)-1] {
	case 'h', 'l', 't', 'e', 's', 'd':
		return true
	}
	return false
}

// upBit is a bit of its own for each key interpretField can return, 0 for
// any other key.
func upBit(k string) uint32 {
	var i uint
	switch k {
	case "ARCH":
		i = 0
	case "SYSCALL":
		i = 1
	case "EXIT":
		i = 2
	case "MODE":
		i = 3
	case "SES":
		i = 4
	case "RES":
		i = 5
	case "AUID":
		i = 6
	case "UID":
		i = 7
	case "EUID":
		i = 8
	case "SUID":
		i = 9
	case "FSUID":
		i = 10
	case "OUID":
		i = 11
	case "IUID":
		i = 12
	case "OBJ_UID":
		i = 13
	case "SAUID":
		i = 14
	case "OAUID":
		i = 15
	case "OLD-AUID":
		i = 16
	case "INODE_UID":
		i = 17
	case "GID":
		i = 18
	case "EGID":
		i = 19
	case "SGID":
		i = 20
	case "FSGID":
		i = 21
	case "OGID":
		i = 22
	case "IGID":
		i = 23
	case "OBJ_GID":
		i = 24
	case "NEW_GID":
		i = 25
	case "INODE_GID":
		i = 26
	default:
		return 0
	}
	return 1 << i
}

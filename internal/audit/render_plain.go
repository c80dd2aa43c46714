package audit

import (
	"encoding/binary"
	"slices"
	"strings"
	"unsafe"

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

// shapeFor returns what the fast path needs to know of the keys of
// fields, or nil when they do not have the shape it relies on: the
// kernel's keys have no upper-case letter and none is "type" (so no
// interpretation's key, all upper case, can equal one), every key auditd
// added has an upper-case letter (so it equals no kernel key), and all keys
// are different. Records of a type mostly repeat the keys of one before, so
// the accepted keys are remembered by type and count, with what rendering
// them takes, and a record with the same keys is accepted by comparing them.
func (in *Interpreter) shapeFor(typ, body string, fields []Field) *keyShape {
	if len(fields) == 0 {
		return nil
	}
	s := in.shapeOf(typ, len(fields))
	if s.typ == typ && s.same(body, fields) {
		return s
	}
	if !in.checkKeys(fields) || !s.remember(typ, fields) {
		return nil
	}
	return s
}

// checkKeys is the test of shapeFor, without the remembered shapes.
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

// keyShape is the keys of a record that checkKeys accepted (the kernel's,
// then those auditd added) and, for each, how it is rendered.
type keyShape struct {
	typ      string
	head     []byte   // `{"type":"TYP"`, the record's JSON up to its fields
	keys     []string // views into buf
	match    []shapeKey
	kernel   int // how many of keys are the kernel's
	buf      []byte
	prefixes []string // `,"key":` of each key, views into pbuf
	pbuf     []byte
	how      []uint8  // for each kernel key, shape* flags
	ups      []uint32 // for each key auditd added, the bits of the interps with its key
	interp   []shapeInterp
	ubuf     []byte
	arch     int // index of the arch key, -1 if none
	success  int // of success
}

// shapeKey is what same compares a key with.
type shapeKey struct {
	word, mask uint64 // a key of up to 8 bytes as a word (load64), and its bytes' mask
	n          uint32 // its length
	enriched   bool   // added by auditd
}

// shapeInterp is a kernel key of a shape that has an interpretation.
type shapeInterp struct {
	field    int32 // its index
	enriched int32 // of auditd's interpretation of it (ids), -1 if none
	how      interpretation
	up       string // its upper-case key
	prefix   string // `,"UP":`, a view into keyShape.ubuf
	bit      uint32 // 1 << its index in interp
}

const (
	shapeEncoded   = 1 << iota // IsEncoded: a bare value is hex
	shapeProctitle             // a decoded value's NULs are spaces
)

// maxShapes is the size of the table of shapes; maxShapeBytes bounds the
// keys of one.
const (
	maxShapes     = 64
	maxShapeBytes = 8 << 10
)

// shapeOf returns the remembered shape of records of type typ with n
// fields, or the slot to remember it in: the shapes are a direct-mapped
// table by type and count, so a look-up is one comparison and a shape that
// collides with another replaces it.
func (in *Interpreter) shapeOf(typ string, n int) *keyShape {
	if in.shapes == nil {
		in.shapes = make([]keyShape, maxShapes)
	}
	h := uint(n) * 0x9E3779B1
	if typ != "" {
		h ^= uint(typ[0])<<8 | uint(typ[len(typ)-1])<<16 | uint(len(typ))<<24
	}
	h *= 0x85EBCA6B
	return &in.shapes[(h>>16)%maxShapes]
}

// same reports whether fields, split from body, have exactly the
// remembered keys, the kernel's and auditd's split where they were. A key
// of up to 8 bytes with 8 bytes of body from its start is compared as one
// word.
func (s *keyShape) same(body string, fields []Field) bool {
	if len(fields) != len(s.match) {
		return false
	}
	base := uintptr(unsafe.Pointer(unsafe.StringData(body)))
	end := base + uintptr(len(body))
	for i := range fields {
		f, m := &fields[i], &s.match[i]
		if len(f.Key) != int(m.n) || f.Enriched != m.enriched {
			return false
		}
		p := uintptr(unsafe.Pointer(unsafe.StringData(f.Key)))
		if m.n <= 8 && p >= base && p+8 <= end {
			// within body: keys are split from it
			if load64(f.Key)&m.mask != m.word {
				return false
			}
		} else if f.Key != s.keys[i] {
			return false
		}
	}
	return true
}

// remember makes s the shape of fields (which checkKeys accepted) in a
// record of type typ; false when their keys are too long to keep.
func (s *keyShape) remember(typ string, fields []Field) bool {
	n := 0
	for i := range fields {
		n += len(fields[i].Key)
	}
	*s = keyShape{typ: s.typ, head: s.head[:0], keys: s.keys[:0], match: s.match[:0], buf: s.buf[:0], prefixes: s.prefixes[:0], pbuf: s.pbuf[:0],
		how: s.how[:0], ups: s.ups[:0], interp: s.interp[:0], ubuf: s.ubuf[:0], arch: -1, success: -1}
	if n > maxShapeBytes {
		return false
	}
	if s.typ != typ {
		s.typ = strings.Clone(typ)
	}
	s.head = event.AppendString(append(s.head, `{"type":`...), typ)
	s.buf = slices.Grow(s.buf, n+8)
	s.pbuf = slices.Grow(s.pbuf, n+5*len(fields)+16)
	for i := range fields {
		k := fields[i].Key
		s.buf = append(s.buf, k...)
		s.pbuf = append(append(append(s.pbuf, `,"`...), k...), `":`...)
		if fields[i].Enriched {
			continue // ups, below, once the interpretations are known
		}
		s.kernel++
		var how uint8
		if IsEncoded(typ, k) {
			how |= shapeEncoded
		}
		if k == "proctitle" {
			how |= shapeProctitle
		}
		s.how = append(s.how, how)
		if how, up := interpretationOf(k); how != interpNone {
			e := -1 // only ids have auditd's names
			if how == interpUID || how == interpGID {
				e = enrichedIndex(fields, up)
			}
			s.interp = append(s.interp, shapeInterp{field: int32(i), enriched: int32(e), how: how, up: up, bit: 1 << len(s.interp)})
		}
		switch k {
		case "arch":
			s.arch = i
		case "success":
			s.success = i
		}
	}
	// the kernel's keys are different, so their interpretations' keys are
	// (a few dozen at most, of a fixed vocabulary): a bit each fits
	if len(s.interp) > 32 {
		return false
	}
	for _, f := range fields[s.kernel:] {
		var bits uint32
		for _, it := range s.interp {
			if it.up == f.Key {
				bits |= it.bit
			}
		}
		s.ups = append(s.ups, bits)
	}
	s.pbuf = append(s.pbuf, make([]byte, 16)...) // for appendShort
	for _, it := range s.interp {
		s.ubuf = append(append(append(s.ubuf, `,"`...), it.up...), `":`...)
	}
	uoff := 0
	for i := range s.interp {
		n := len(s.interp[i].up) + 4
		s.interp[i].prefix = bytesView(s.ubuf[uoff : uoff+n])
		uoff += n
	}
	// views taken after the appends: the buffers do not move any more
	off, poff := 0, 0
	s.buf = append(s.buf, make([]byte, 8)...) // so that load64 can read 8 from any key
	for i := range fields {
		k := len(fields[i].Key)
		s.keys = append(s.keys, bytesView(s.buf[off:off+k]))
		m := shapeKey{n: uint32(k), enriched: fields[i].Enriched}
		if k <= 8 {
			m.mask = ^uint64(0) >> (64 - 8*k)
			m.word = load64(bytesView(s.buf[off:off+8])) & m.mask
		}
		s.match = append(s.match, m)
		s.prefixes = append(s.prefixes, bytesView(s.pbuf[poff:poff+k+4]))
		off, poff = off+k, poff+k+4
	}
	return true
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// appendPlainRecord is appendRecord for a record that plainRecord accepts
// and whose keys have shape s.
func (in *Interpreter) appendPlainRecord(b []byte, r *Record, fields []Field, s *keyShape) []byte {
	b = append(b, s.head...) // r.Type is s.typ
	// room for the kernel's fields as they are written, so that the short
	// copies below can store 16 bytes at a time
	b = slices.Grow(b, len(s.pbuf)+len(r.Body)+3*len(fields)+16)
	end := uintptr(unsafe.Pointer(unsafe.StringData(r.Body))) + uintptr(len(r.Body))
	for i := 0; i < s.kernel; i++ {
		b = appendShort(b, s.prefixes[i], true) // pbuf has 16 bytes to spare
		f := &fields[i]
		if f.Quoting == Bare && (f.Value == "(null)" || s.how[i]&shapeEncoded != 0) {
			b = in.appendPlainValue(b, f, s.how[i])
			continue
		}
		b = append(b, '"')
		b = appendShort(b, f.Value, uintptr(unsafe.Pointer(unsafe.StringData(f.Value)))+16 <= end)
		b = append(b, '"')
	}
	// interpretations: one key each, all different, none a kernel's key
	var arch Arch
	archOK, success := false, ""
	if s.arch >= 0 {
		arch, archOK = ParseArch(fields[s.arch].Value)
	}
	if s.success >= 0 {
		success = fields[s.success].Value
	}
	var written uint32 // the bit of each interpretation written
	for i := range s.interp {
		it := &s.interp[i]
		enriched := ""
		if it.enriched >= 0 {
			enriched = fields[it.enriched].Value
		}
		up, val := in.interpretAs(it.how, it.up, fields[it.field], enriched, arch, archOK, success)
		if up == "" {
			continue
		}
		written |= it.bit
		b = append(b, it.prefix...) // `,"up":`: interpretAs returns it.up or ""
		b = event.AppendString(b, val)
	}
	// what auditd interpreted that we do not (SADDR, SIG, …)
	for i := s.kernel; i < len(fields); i++ {
		if written&s.ups[i-s.kernel] != 0 {
			continue
		}
		b = append(b, s.prefixes[i]...)
		b = append(b, '"')
		b = append(b, fields[i].Value...)
		b = append(b, '"')
	}
	return append(b, '}')
}

// appendPlainValue writes a kernel field's value: as it is, but hex
// decoded (which can yield anything, so it is escaped) and null for (null).
func (in *Interpreter) appendPlainValue(b []byte, f *Field, how uint8) []byte {
	if f.Quoting == Bare {
		if f.Value == "(null)" {
			return append(b, "null"...)
		}
		if how&shapeProctitle != 0 {
			if title, ok := in.title.of(f.Value); ok && !in.general {
				return event.AppendString(b, title) // decoded by gatherProctitle
			}
		}
		if how&shapeEncoded != 0 {
			if buf, ok := appendHex(in.hex[:0], f.Value); ok {
				in.hex = buf
				if how&shapeProctitle != 0 {
					buf = procTitleBytes(buf)
				}
				return event.AppendString(b, bytesView(buf))
			}
		}
	}
	b = append(b, '"')
	b = append(b, f.Value...)
	return append(b, '"')
}

// enrichedIndex is the index of auditd's interpretation of the field whose
// upper-case key is up: the enriched fields follow all the others, so the
// search runs from the end; -1 if there is none.
func enrichedIndex(fields []Field, up string) int {
	for i := len(fields) - 1; i >= 0 && fields[i].Enriched; i-- {
		if fields[i].Key == up {
			return i
		}
	}
	return -1
}

// split splits r's body into fields as Record.Fields does; without the
// fields gather leaves alone when records are not rendered. When records
// are rendered and the last shape of r's type is known, it splits by that
// shape (splitByShape), checking each key where it expects it, and leaves
// in splitShape the shape the keys are then known to have, which spares
// appendRecord comparing them again.
func (in *Interpreter) split(r *Record) []Field {
	in.splitShape = nil
	if in.general {
		return r.Fields(in.fields[:0])
	}
	if !in.Records {
		// nothing is rendered: only the fields gather takes
		if w := gatherWants(r.Type); w != nil {
			return r.kernelFieldsOf(in.fields[:0], w)
		}
		return r.Fields(in.fields[:0])
	}
	if s := in.byType[typeSlot(r.Type)]; s != nil && s.typ == r.Type {
		fields, same := s.splitByShape(in.fields[:0], r.Body)
		if same {
			in.splitShape = s
		}
		return fields
	}
	return r.Fields(in.fields[:0])
}

// typeSlot is where a record type's last shape is kept in byType: a hash
// of its length, first and last two bytes, with a multiplier picked so
// that the common types have a slot each (TestTypeSlots); types that share
// one take it in turns, splitting by splitFields.
func typeSlot(typ string) int {
	if len(typ) < 2 {
		return 0
	}
	h := uint32(len(typ)) | uint32(typ[0])<<8 | uint32(typ[len(typ)-2])<<16 | uint32(typ[len(typ)-1])<<24
	return int((h * 0x1769f53d) >> 26) // 64 slots
}

// splitByShape splits body into exactly the fields splitFields does;
// same reports whether they have the keys of s. Where the keys differ,
// the rest is split by splitPart.
func (s *keyShape) splitByShape(dst []Field, body string) (fields []Field, same bool) {
	kernel, enriched, sep := body, "", false
	if i := strings.IndexByte(body, enrichedSep); i >= 0 {
		kernel, enriched, sep = body[:i], body[i+1:], true
	}
	dst, same = splitPartByKeys(dst, kernel, s.keys[:s.kernel], s.match[:s.kernel], false)
	if !sep {
		return dst, same && s.kernel == len(s.keys)
	}
	if !same {
		return splitPart(dst, enriched, true), false
	}
	return splitPartByKeys(dst, enriched, s.keys[s.kernel:], s.match[s.kernel:], true)
}

// splitPartByKeys is splitPart for a part expected to have the fields of
// the given keys (none empty, none holding '=' or ' ', as splitPart leaves
// them), in order and nothing else: same reports whether it has. Where
// splitPart scans for a key's end, it checks that the key is there and '='
// after it; the values are taken as splitPart takes them. Where a key is
// not what was expected, or more follows, splitPart splits the rest: up to
// there the two split alike.
func splitPartByKeys(dst []Field, s string, keys []string, match []shapeKey, enriched bool) (fields []Field, same bool) {
	p := 0
	for i, key := range keys {
		for p < len(s) && s[p] == ' ' {
			p++
		}
		e := p + len(key)
		if e >= len(s) || s[e] != '=' || !keyAt(s, p, key, &match[i]) {
			return splitPart(dst, s[p:], enriched), false
		}
		v := e + 1
		if v < len(s) && (s[v] == '"' || s[v] == '\'') {
			if s[v] == '\'' {
				// msg='…': its fields are split by splitPart
				return splitPart(dst, s[p:], enriched), false
			}
			end := strings.IndexByte(s[v+1:], '"')
			open := end < 0
			if open {
				end = len(s) - v - 1
			}
			dst = append(dst, Field{Key: s[p:e], Value: s[v+1 : v+1+end], Quoting: Quoted, Enriched: enriched, Open: open})
			p = min(len(s), v+end+2)
			continue
		}
		sp := valueEnd(s[v:])
		if sp < 0 {
			dst = append(dst, Field{Key: s[p:e], Value: s[v:], Enriched: enriched})
			p = len(s)
			continue
		}
		dst = append(dst, Field{Key: s[p:e], Value: s[v : v+sp], Enriched: enriched})
		p = v + sp + 1
	}
	for p < len(s) && s[p] == ' ' {
		p++
	}
	if p < len(s) {
		return splitPart(dst, s[p:], enriched), false
	}
	return dst, true
}

// keyAt reports whether s[p:] begins with key (whose shapeKey is m): as one
// word when key has 8 bytes at most and s 8 from p.
func keyAt(s string, p int, key string, m *shapeKey) bool {
	if len(key) <= 8 && p+8 <= len(s) {
		return loadAt(s, p)&m.mask == m.word
	}
	return s[p:p+len(key)] == key
}

// load64 is the first 8 bytes of s, which has 8 at least. It reads them
// through an array pointer, which compiles to one load: unsafe.Slice adds a
// check that the slice does not wrap around the address space, 3% of the
// Go-only run's instructions across the word loads of the split.
func load64(s string) uint64 {
	return binary.LittleEndian.Uint64((*[8]byte)(unsafe.Pointer(unsafe.StringData(s)))[:])
}

// loadAt is load64(s[i:]) without the slicing, whose pointer arithmetic
// (kept from pointing past s's end when the rest is empty) costs 4
// instructions: s holds 8 bytes from i.
func loadAt(s string, i int) uint64 {
	return binary.LittleEndian.Uint64((*[8]byte)(unsafe.Add(unsafe.Pointer(unsafe.StringData(s)), i))[:])
}

// appendShort is append(b, s...) without the call to memmove for a string
// of up to 16 bytes: 16 bytes are copied as one, when readable is true (16
// bytes from s's start lie in its buffer) and b has room for 16. This is
// the records' inner loop: a key's prefix and a value, a few bytes each.
func appendShort(b []byte, s string, readable bool) []byte {
	n := len(b)
	if len(s) == 0 || len(s) > 16 || !readable || cap(b)-n < 16 {
		return append(b, s...)
	}
	*(*[16]byte)(unsafe.Pointer(unsafe.SliceData(b[n : n+16]))) = *(*[16]byte)(unsafe.Pointer(unsafe.StringData(s)))
	return b[:n+len(s)]
}

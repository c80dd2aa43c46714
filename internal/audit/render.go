package audit

import (
	"strconv"
	"strings"
	"unsafe"

	"github.com/gotrail/gotrail/internal/event"
)

// appendRecord renders one record as a JSON object: "type", then every field
// as written but with hex-encoded values decoded (the encoding is transport,
// not meaning), then auditd's ENRICHED convention for what is interpreted:
// the same key in upper case holding the interpretation (AUID="alice",
// SYSCALL="openat", EXIT="ENOENT", MODE="file,644"). Raw and RAW-format logs
// come out alike; a key that repeats is written once, as JSON consumers such
// as Elasticsearch reject duplicate keys.
func (in *Interpreter) appendRecord(b []byte, r *Record, fields []Field) []byte {
	if !in.general && plainRecord(r.Body, fields) {
		s := in.splitShape // split by it: the keys are its keys
		if s == nil {
			if s = in.shapeFor(r.Type, r.Body, fields); s != nil {
				in.byType[typeSlot(r.Type)] = s // the next of the type is split by it
			}
		}
		if s != nil {
			return in.appendPlainRecord(b, r, fields, s)
		}
	}
	return in.appendAnyRecord(b, r, fields)
}

// appendAnyRecord is appendRecord for any record: every key and value is
// escaped as it needs, and every key is looked up in the key set.
func (in *Interpreter) appendAnyRecord(b []byte, r *Record, fields []Field) []byte {
	b = append(b, `{"type":`...)
	b = event.AppendString(b, r.Type)
	var arch Arch
	archOK := false
	success := ""
	for _, f := range fields {
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
	keys := &in.keys
	keys.reset()
	keys.add("type")
	seen := func(k string) bool { return !keys.add(k) }
	for _, f := range fields {
		if f.Enriched || seen(f.Key) {
			continue
		}
		v, null := in.valueView(r.Type, f)
		b = append(b, ',')
		b = event.AppendString(b, f.Key)
		b = append(b, ':')
		if null {
			b = append(b, "null"...)
		} else {
			if f.Key == "proctitle" {
				v = ProcTitle(v)
			}
			b = event.AppendString(b, v)
		}
	}
	// interpretations
	for _, f := range fields {
		if f.Enriched {
			continue
		}
		up, val := in.interpretField(r, fields, f, arch, archOK, success)
		if up == "" || seen(up) {
			continue
		}
		b = append(b, ',')
		b = event.AppendString(b, up)
		b = append(b, ':')
		b = event.AppendString(b, val)
	}
	// what auditd interpreted that we do not (SADDR, SIG, …)
	for _, f := range fields {
		if !f.Enriched || seen(f.Key) {
			continue
		}
		b = append(b, ',')
		b = event.AppendString(b, f.Key)
		b = append(b, ':')
		b = event.AppendString(b, f.Value)
	}
	return append(b, '}')
}

// keySet remembers the keys written to one record object: an open-addressing
// hash set, reused from record to record, since records have a few dozen
// keys (EXECVE records hundreds) and a map would be cleared and rehashed for
// every one of them. A slot holds a key of up to 7 bytes (nearly all)
// packed with its length into a word, so that a lookup is one comparison and
// filling the table writes no pointers; a longer key is kept in long and its
// slot holds longMark and its index there.
type keySet struct {
	slots []uint64 // 0 when empty; len is a power of two
	used  []uint32 // the slots in use, so reset clears only those
	long  []string
}

const longMark = 0xff << 56

// packKey packs a key of 1 to 7 bytes with its length in the top byte; ok
// is false for longer (and empty) keys.
func packKey(k string) (w uint64, ok bool) {
	if len(k) == 0 || len(k) > 7 {
		return 0, false
	}
	w = uint64(len(k)) << 56
	for i := 0; i < len(k); i++ {
		w |= uint64(k[i]) << (8 * i)
	}
	return w, true
}

// hashWord spreads a packed key (or a long key's FNV-1a) over the table.
func hashWord(w uint64) uint32 { return uint32((w * 0x9E3779B97F4A7C15) >> 32) }

func hashLong(k string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(k); i++ {
		h ^= uint64(k[i])
		h *= 1099511628211
	}
	return h
}

// add reports whether k is new, and remembers it.
func (s *keySet) add(k string) bool {
	if 2*(len(s.used)+1) > len(s.slots) {
		s.grow()
	}
	mask := uint32(len(s.slots) - 1)
	w, short := packKey(k)
	h := w
	if !short {
		h = hashLong(k)
	}
	for i := hashWord(h) & mask; ; i = (i + 1) & mask {
		v := s.slots[i]
		switch {
		case v == 0:
			if !short {
				w = longMark | uint64(len(s.long))
				s.long = append(s.long, k)
			}
			s.slots[i] = w
			s.used = append(s.used, i)
			return true
		case short && v == w:
			return false
		case !short && v&longMark == longMark && s.long[uint32(v)] == k:
			return false
		}
	}
}

// hashOf is the hash a slot's key was placed by.
func (s *keySet) hashOf(v uint64) uint64 {
	if v&longMark == longMark {
		return hashLong(s.long[uint32(v)])
	}
	return v
}

func (s *keySet) grow() {
	n := 64
	for n < 4*(len(s.used)+1) {
		n *= 2
	}
	old := s.slots
	s.slots = make([]uint64, n)
	mask := uint32(n - 1)
	s.used = s.used[:0]
	for _, v := range old {
		if v == 0 {
			continue
		}
		i := hashWord(s.hashOf(v)) & mask
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = v
		s.used = append(s.used, i)
	}
}

func (s *keySet) reset() {
	for _, i := range s.used {
		s.slots[i] = 0
	}
	s.used = s.used[:0]
	clear(s.long) // they may point into a read buffer
	s.long = s.long[:0]
}

// valueView is Value without an allocation: a decoded value lives in the
// interpreter's scratch buffer until the next call.
func (in *Interpreter) valueView(recordType string, f Field) (string, bool) {
	if f.Quoting != Bare {
		return f.Value, false
	}
	if f.Value == "(null)" {
		return "", true
	}
	if f.Enriched || !IsEncoded(recordType, f.Key) {
		return f.Value, false
	}
	buf, ok := appendHex(in.hex[:0], f.Value)
	if !ok {
		return f.Value, false
	}
	in.hex = buf
	return unsafe.String(unsafe.SliceData(buf), len(buf)), false
}

// upperKey is the interpretation's key for an id field: "auid" -> "AUID".
func upperKey(k string) string {
	switch k {
	case "auid":
		return "AUID"
	case "uid":
		return "UID"
	case "euid":
		return "EUID"
	case "suid":
		return "SUID"
	case "fsuid":
		return "FSUID"
	case "ouid":
		return "OUID"
	case "gid":
		return "GID"
	case "egid":
		return "EGID"
	case "sgid":
		return "SGID"
	case "fsgid":
		return "FSGID"
	case "ogid":
		return "OGID"
	}
	return strings.ToUpper(k)
}

// enrichedValue is auditd's interpretation of the field whose upper-case
// key is up, "" if none.
func enrichedValue(fields []Field, up string) string {
	if i := enrichedIndex(fields, up); i >= 0 {
		return fields[i].Value
	}
	return ""
}

// interpretation is which interpretation a field's key has (interpretAs).
type interpretation uint8

const (
	interpNone interpretation = iota
	interpArch
	interpSyscall
	interpExit
	interpMode
	interpUID
	interpGID
	interpSes
	interpRes
)

// interpretationOf is the interpretation of key k, and its upper-case key.
func interpretationOf(k string) (interpretation, string) {
	switch {
	case k == "arch":
		return interpArch, "ARCH"
	case k == "syscall":
		return interpSyscall, "SYSCALL"
	case k == "exit":
		return interpExit, "EXIT"
	case k == "mode":
		return interpMode, "MODE"
	case isUIDField(k):
		return interpUID, upperKey(k)
	case isGIDField(k):
		return interpGID, upperKey(k)
	case k == "ses":
		return interpSes, "SES"
	case k == "res":
		return interpRes, "RES"
	}
	return interpNone, ""
}

// interpretField returns the upper-case key and the interpretation of a
// field that has one.
func (in *Interpreter) interpretField(r *Record, fields []Field, f Field, arch Arch, archOK bool, success string) (string, string) {
	how, up := interpretationOf(f.Key)
	enriched := ""
	if how == interpUID || how == interpGID {
		enriched = enrichedValue(fields, up)
	}
	return in.interpretAs(how, up, f, enriched, arch, archOK, success)
}

// interpretAs interprets f as how says, up being its upper-case key and
// enriched auditd's interpretation of it (ids only); "" for no
// interpretation.
func (in *Interpreter) interpretAs(how interpretation, up string, f Field, enriched string, arch Arch, archOK bool, success string) (string, string) {
	switch how {
	case interpArch:
		if archOK {
			return up, arch.String()
		}
	case interpSyscall:
		if !archOK {
			break
		}
		if n, ok := parseSyscall(f.Value); ok {
			name, _ := SyscallName(arch, n)
			return up, name
		}
	case interpExit:
		if success != "no" {
			break
		}
		if x, err := strconv.ParseInt(f.Value, 10, 64); err == nil {
			if name, ok := ErrnoName(x); ok {
				return up, name
			}
		}
	case interpMode:
		if f.Quoting != Bare {
			break
		}
		if m, ok := FileMode(f.Value); ok {
			return up, m
		}
	case interpUID, interpGID:
		if f.Value == Unset {
			return up, "unset"
		}
		if n := in.name(f.Value, enriched, how == interpGID); n != "" {
			return up, n
		}
		if _, err := strconv.ParseUint(f.Value, 10, 32); err == nil {
			return up, "unknown(" + f.Value + ")"
		}
	case interpSes:
		if f.Value == Unset {
			return up, "unset"
		}
	case interpRes:
		// the kernel writes res=1/0 (LOGIN, CONFIG_CHANGE); user space
		// writes success/failed
		switch f.Value {
		case "1":
			return up, "yes"
		case "0":
			return up, "no"
		}
	}
	return "", ""
}

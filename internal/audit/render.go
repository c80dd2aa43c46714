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
// hash set over a slice, reused from record to record, since records have a
// few dozen keys (EXECVE records hundreds) and a map would be cleared and
// rehashed for every one of them.
type keySet struct {
	list  []string
	pos   []uint32 // slot of each key, so reset clears only what was used
	slots []int32  // index into list, -1 when empty; len is a power of two
}

// hashKey hashes a key. Keys of up to 7 bytes (nearly all) are packed
// with their length into a word, which a multiplication spreads; longer
// ones go through FNV-1a.
func hashKey(k string) uint32 {
	var h uint64
	if len(k) <= 7 {
		h = uint64(len(k)) << 56
		for i := 0; i < len(k); i++ {
			h |= uint64(k[i]) << (8 * i)
		}
	} else {
		h = 14695981039346656037
		for i := 0; i < len(k); i++ {
			h ^= uint64(k[i])
			h *= 1099511628211
		}
	}
	return uint32((h * 0x9E3779B97F4A7C15) >> 32)
}

// add reports whether k is new, and remembers it.
func (s *keySet) add(k string) bool {
	if 2*(len(s.list)+1) > len(s.slots) {
		s.grow()
	}
	mask := uint32(len(s.slots) - 1)
	for i := hashKey(k) & mask; ; i = (i + 1) & mask {
		j := s.slots[i]
		if j < 0 {
			s.slots[i] = int32(len(s.list))
			s.list = append(s.list, k)
			s.pos = append(s.pos, i)
			return true
		}
		if s.list[j] == k {
			return false
		}
	}
}

func (s *keySet) grow() {
	n := 64
	for n < 4*(len(s.list)+1) {
		n *= 2
	}
	s.slots = make([]int32, n)
	for i := range s.slots {
		s.slots[i] = -1
	}
	mask := uint32(n - 1)
	for j, k := range s.list {
		i := hashKey(k) & mask
		for s.slots[i] >= 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = int32(j)
		s.pos[j] = i
	}
}

func (s *keySet) reset() {
	for _, i := range s.pos {
		s.slots[i] = -1
	}
	s.list = s.list[:0]
	s.pos = s.pos[:0]
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

// enrichedValue finds auditd's interpretation of a field: the enriched
// fields follow all the others, so the search runs from the end.
func enrichedValue(fields []Field, up string) string {
	for i := len(fields) - 1; i >= 0 && fields[i].Enriched; i-- {
		if fields[i].Key == up {
			return fields[i].Value
		}
	}
	return ""
}

// interpretField returns the upper-case key and the interpretation of a
// field that has one.
func (in *Interpreter) interpretField(r *Record, fields []Field, f Field, arch Arch, archOK bool, success string) (string, string) {
	switch {
	case f.Key == "arch":
		if archOK {
			return "ARCH", arch.String()
		}
	case f.Key == "syscall" && archOK:
		if n, err := strconv.ParseUint(f.Value, 10, 32); err == nil {
			name, _ := SyscallName(arch, n)
			return "SYSCALL", name
		}
	case f.Key == "exit" && success == "no":
		if x, err := strconv.ParseInt(f.Value, 10, 64); err == nil {
			if name, ok := ErrnoName(x); ok {
				return "EXIT", name
			}
		}
	case f.Key == "mode" && f.Quoting == Bare:
		if m, ok := FileMode(f.Value); ok {
			return "MODE", m
		}
	case isUIDField(f.Key):
		up := upperKey(f.Key)
		if f.Value == Unset {
			return up, "unset"
		}
		if n := in.userName(f.Value, enrichedValue(fields, up)); n != "" {
			return up, n
		}
		if _, err := strconv.ParseUint(f.Value, 10, 32); err == nil {
			return up, "unknown(" + f.Value + ")"
		}
	case isGIDField(f.Key):
		up := upperKey(f.Key)
		if f.Value == Unset {
			return up, "unset"
		}
		if n := in.groupName(f.Value, enrichedValue(fields, up)); n != "" {
			return up, n
		}
		if _, err := strconv.ParseUint(f.Value, 10, 32); err == nil {
			return up, "unknown(" + f.Value + ")"
		}
	case f.Key == "ses" && f.Value == Unset:
		return "SES", "unset"
	case f.Key == "res" && (f.Value == "1" || f.Value == "0"):
		// the kernel writes res=1/0 (LOGIN, CONFIG_CHANGE); user space
		// writes success/failed
		if f.Value == "1" {
			return "RES", "yes"
		}
		return "RES", "no"
	}
	return "", ""
}

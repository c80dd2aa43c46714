package audit

import (
	"strconv"
	"strings"

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
		v, null := Value(r.Type, f)
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

// keySet remembers the keys written to one record object. Keys in a record
// are almost always distinct, so a 64-bit filter answers "new" for nearly
// every key at the cost of a hash of three bytes; only a filter hit pays for
// the exact look-up.
type keySet struct {
	bits uint64
	list []string
}

func keyBit(k string) uint64 {
	if k == "" {
		return 1
	}
	h := uint(len(k))*31 + uint(k[0])*7 + uint(k[len(k)-1])
	if len(k) > 2 {
		h += uint(k[len(k)-2]) * 131
	}
	return 1 << (h & 63)
}

// add reports whether k is new, and remembers it.
func (s *keySet) add(k string) bool {
	bit := keyBit(k)
	if s.bits&bit != 0 {
		for _, x := range s.list {
			if x == k {
				return false
			}
		}
	}
	s.bits |= bit
	s.list = append(s.list, k)
	return true
}

func (s *keySet) reset() {
	s.bits = 0
	s.list = s.list[:0]
}

func enrichedValue(fields []Field, up string) string {
	for _, f := range fields {
		if f.Enriched && f.Key == up {
			return f.Value
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
		up := strings.ToUpper(f.Key)
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
		up := strings.ToUpper(f.Key)
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
	}
	return "", ""
}

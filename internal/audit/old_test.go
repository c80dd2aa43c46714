package audit

import (
	"strconv"
	"strings"
)

// The implementations the faster ones replaced, kept as the reference the
// differential fuzz tests (diff_fuzz_test.go) compare against.

func splitFieldsOld(dst []Field, s string, enriched bool) []Field {
	if i := strings.IndexByte(s, enrichedSep); i >= 0 {
		dst = splitPartOld(dst, s[:i], enriched)
		return splitPartOld(dst, s[i+1:], true)
	}
	return splitPartOld(dst, s, enriched)
}

func splitPartOld(dst []Field, s string, enriched bool) []Field {
	for len(s) > 0 {
		if s[0] == ' ' {
			s = s[1:]
			continue
		}
		sp := strings.IndexByte(s, ' ')
		tok := s
		if sp >= 0 {
			tok = s[:sp]
		}
		eq := strings.IndexByte(tok, '=')
		if eq <= 0 { // a bare word, or no key
			if sp < 0 {
				break
			}
			s = s[sp+1:]
			continue
		}
		key, rest := tok[:eq], s[eq+1:]
		if len(rest) > 0 && (rest[0] == '"' || rest[0] == '\'') {
			q := rest[0]
			end := strings.IndexByte(rest[1:], q)
			open := end < 0 // Field.Open came later; the reference says it too
			if open {
				end = len(rest) - 1
			}
			val := rest[1 : 1+end]
			s = rest[min(len(rest), end+2):]
			if q == '\'' {
				dst = splitPartOld(dst, val, enriched)
				continue
			}
			dst = append(dst, Field{Key: key, Value: val, Quoting: Quoted, Enriched: enriched, Open: open})
			continue
		}
		dst = append(dst, Field{Key: key, Value: tok[eq+1:], Enriched: enriched})
		if sp < 0 {
			break
		}
		s = s[sp+1:]
	}
	return dst
}

// keySetOld is the key set before packed keys. It remembers the keys written to one record object: an open-addressing
// hash set over a slice, reused from record to record, since records have a
// few dozen keys (EXECVE records hundreds) and a map would be cleared and
// rehashed for every one of them.
type keySetOld struct {
	list  []string
	pos   []uint32 // slot of each key, so reset clears only what was used
	slots []int32  // index into list, -1 when empty; len is a power of two
}

// hashKeyOld hashes a key. Keys of up to 7 bytes (nearly all) are packed
// with their length into a word, which a multiplication spreads; longer
// ones go through FNV-1a.
func hashKeyOld(k string) uint32 {
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
func (s *keySetOld) add(k string) bool {
	if 2*(len(s.list)+1) > len(s.slots) {
		s.grow()
	}
	mask := uint32(len(s.slots) - 1)
	for i := hashKeyOld(k) & mask; ; i = (i + 1) & mask {
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

func (s *keySetOld) grow() {
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
		i := hashKeyOld(k) & mask
		for s.slots[i] >= 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = int32(j)
		s.pos[j] = i
	}
}

func (s *keySetOld) reset() {
	for _, i := range s.pos {
		s.slots[i] = -1
	}
	s.list = s.list[:0]
	s.pos = s.pos[:0]
}

// interpretFieldOld is interpretField before it was split into
// interpretationOf and interpretAs.
func (in *Interpreter) interpretFieldOld(r *Record, fields []Field, f Field, arch Arch, archOK bool, success string) (string, string) {
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

// appendHexOld, before the table, appends the bytes that the hex digits of s encode; ok is false
// (and b unchanged) when s is not an even number of hex digits.
func appendHexOld(b []byte, s string) ([]byte, bool) {
	if len(s) == 0 || len(s)%2 != 0 {
		return b, false
	}
	n := len(b)
	for i := 0; i < len(s); i += 2 {
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return b[:n], false
		}
		b = append(b, hi<<4|lo)
	}
	return b, true
}

// argIndexOld, before the digits were read in place, splits a1 into (1,
// false) and a1[2] into (1, true).
func argIndexOld(k string) (num int, chunked bool) {
	i := 1
	for i < len(k) && k[i] >= '0' && k[i] <= '9' {
		i++
	}
	n, err := strconv.Atoi(k[1:i])
	if err != nil {
		return -1, false
	}
	return n, i < len(k)
}

// standaloneOld, before the switch on the first byte, reports whether a record type is always an event of its own:
// messages from user space (PAM, login, auditd itself) and the few kernel
// messages written outside a syscall.
func standaloneOld(t string) bool {
	switch {
	case strings.HasPrefix(t, "USER"), strings.HasPrefix(t, "CRED_"),
		strings.HasPrefix(t, "DAEMON_"), strings.HasPrefix(t, "ANOM_LOGIN"),
		strings.HasPrefix(t, "ACCT_"), strings.HasPrefix(t, "GRP_"),
		strings.HasPrefix(t, "ROLE_"), strings.HasPrefix(t, "RESP_"),
		strings.HasPrefix(t, "VIRT_"), strings.HasPrefix(t, "CRYPTO_"),
		strings.HasPrefix(t, "SYSTEM_"), strings.HasPrefix(t, "SERVICE_"):
		return true
	}
	switch t {
	case "LOGIN_FAILURES", "ADD_USER", "DEL_USER", "ADD_GROUP", "DEL_GROUP",
		"CHGRP_ID", "CHUSER_ID", "TRUSTED_APP", "USYS_CONFIG", "SOFTWARE_UPDATE",
		"LABEL_LEVEL_CHANGE", "LABEL_OVERRIDE", "ANOM_ABEND", "KERNEL",
		"ANOM_MAX_DAC", "ANOM_MAX_MAC", "ANOM_AMTU_FAIL", "ANOM_RBAC_FAIL",
		"ANOM_RBAC_INTEGRITY_FAIL", "ANOM_CRYPTO_FAIL", "ANOM_ACCESS_FS",
		"ANOM_EXEC", "ANOM_MK_EXEC", "ANOM_ADD_ACCT", "ANOM_DEL_ACCT",
		"ANOM_MOD_ACCT", "ANOM_ROOT_TRANS", "ANOM_ORIGIN_FAILURES", "ANOM_SESSION":
		return true
	}
	return false
}

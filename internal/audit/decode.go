package audit

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"unsafe"
)

// IsEncoded reports whether a field may carry a hex-encoded value: the
// fields the kernel and auditd write as hex when the value holds a space, a
// quote, a control character or a byte above 0x7e
// (audit_string_contains_control in the kernel, audit_encode_nv_string in
// auditd). A value is hex exactly when it is unquoted and its field is one of
// these; any other bare value is taken as it is. EXECVE arguments (a0,
// a1[2], …) are encoded too, but only in EXECVE records, where a0..a3 are
// not the syscall's registers.
func IsEncoded(recordType, key string) bool {
	switch key {
	case "acct", "cmd", "comm", "cwd", "data", "dir", "exe", "file", "grp", "key",
		"name", "new-chardev", "new-disk", "new_group", "ocomm", "old-chardev",
		"old-disk", "path", "proctitle", "root_dir", "sw", "vm", "watch", "cgroup",
		"new-fs", "old-fs", "old_group":
		return true
	}
	return recordType == "EXECVE" && isArgKey(key)
}

// isArgKey matches aN and aN[M], not aN_len or argc.
func isArgKey(k string) bool {
	if len(k) < 2 || k[0] != 'a' {
		return false
	}
	i := 1
	for i < len(k) && k[i] >= '0' && k[i] <= '9' {
		i++
	}
	if i == 1 {
		return false
	}
	if i == len(k) {
		return true
	}
	return k[i] == '[' && k[len(k)-1] == ']'
}

// Value returns a field's value as text: hex decoded when the field is an
// encoded one written bare, "" with null=true for (null).
func Value(recordType string, f Field) (v string, null bool) {
	if f.Quoting != Bare {
		return f.Value, false
	}
	if f.Value == "(null)" {
		return "", true
	}
	if !f.Enriched && IsEncoded(recordType, f.Key) {
		if d, ok := appendHex(make([]byte, 0, len(f.Value)/2), f.Value); ok {
			return string(d), false
		}
	}
	return f.Value, false
}

// appendHex appends the bytes that the hex digits of s encode; ok is false
// (and b's contents unchanged) when s is not an even number of hex digits.
func appendHex(b []byte, s string) ([]byte, bool) {
	if len(s) == 0 || len(s)%2 != 0 {
		return b, false
	}
	n := len(b)
	b = slices.Grow(b, len(s)/2)[:n+len(s)/2]
	out := b[n:]
	i := 0
	// eight digits (four bytes) at a time: a title is a few hundred
	for ; 2*i+8 <= len(s); i += 4 {
		v, ok := hex8(loadAt(s, 2*i))
		if !ok {
			return b[:n], false
		}
		binary.LittleEndian.PutUint32(out[i:], v)
	}
	for ; i < len(out); i++ {
		hi, lo := hexValue[s[2*i]], hexValue[s[2*i+1]]
		if hi|lo > 0xf {
			return b[:n], false
		}
		out[i] = hi<<4 | lo
	}
	return b, true
}

// hex8 decodes the eight hex digits of w (the first in its low byte) to
// four bytes, the first in the low byte; ok is false when a byte of w is
// not a digit of either case. Each byte is tested against '0'-'9' and, in
// lower case, 'a'-'f' by adding so that its high bit is set exactly within
// the range (no byte carries into the next: all are below 0x80 first).
func hex8(w uint64) (uint32, bool) {
	const highs, ones = 0x8080808080808080, 0x0101010101010101
	if w&highs != 0 {
		return 0, false
	}
	digit := (w + (0x80-'0')*ones) &^ (w + (0x80-'9'-1)*ones)
	l := w | 0x20*ones
	letter := (l + (0x80-'a')*ones) &^ (l + (0x80-'f'-1)*ones)
	if (digit|letter)&highs != highs {
		return 0, false
	}
	// a digit's value is its low nibble, a letter's that plus 9
	v := w&(0x0f*ones) + (w>>6&ones)*9
	// each even byte: its digit's value shifted up, the next one's below
	t := (v<<4 | v>>8) & 0x00ff00ff00ff00ff
	t = (t | t>>8) & 0x0000ffff0000ffff
	return uint32(t | t>>16), true
}

// hexValue is the value of a hex digit, 0xff for any other byte.
var hexValue = func() (t [256]byte) {
	for c := range t {
		t[c] = 0xff
		if v, ok := unhex(byte(c)); ok {
			t[c] = v
		}
	}
	return t
}()

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// ProcTitle turns a decoded proctitle (argv joined by NULs, cut at 128 bytes
// by the kernel) into one line: NULs become spaces, trailing NULs go.
func ProcTitle(s string) string {
	s = strings.TrimRight(s, "\x00")
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", " ")
}

// procTitleBytes is ProcTitle on a buffer of the caller's, in place.
func procTitleBytes(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], 0)
		if j < 0 {
			return b
		}
		b[i+j] = ' '
		i += j + 1
	}
}

// bytesView is b as a string without a copy, for a buffer that is not
// written to while the string is in use.
func bytesView(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

package sink

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

// FuzzAppendSafeDiff: the word-at-a-time skip of AppendSafe changes
// nothing: every string comes out as the byte-by-byte loop it was added to
// (appendSafeRef) writes it.
func FuzzAppendSafeDiff(f *testing.F) {
	for _, s := range []string{"", "plain ascii text, long enough", "a\x7fb~~~~~~~~~~", "\\\\\\\\\\\\\\\\\\",
		"\x1b[31mred\x1b[0m", "/etc/\u202eelifor", "caf\xc3\xa9 \xff\xfe \u2028", "\x80\x9f\xc2\x80\xc2\x9f~~~~~~~~"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendSafe([]byte("x"), s)
		want := appendSafeRef([]byte("x"), s)
		if !bytes.Equal(got, want) {
			t.Fatalf("AppendSafe(%q) = %q, want %q", s, got, want)
		}
	})
}

// appendSafeRef is AppendSafe as it was before the word-at-a-time skip.
func appendSafeRef(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
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

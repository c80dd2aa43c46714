package event

import (
	"testing"
	"unicode/utf8"

	"github.com/gotrail/gotrail/internal/testutil/pageend"
)

// TestWordChecksAtPageEnd: strings of 0 to 80 bytes that end where readable
// memory does, plain or with one byte of a class the checks tell apart at
// each position, give PlainButQuotes and AppendString the answers of a
// byte-by-byte check.
func TestWordChecksAtPageEnd(t *testing.T) {
	pages := pageend.New(t, 1)
	special := []byte{0, 0x1f, 0x20, '"', '\\', 0x7e, 0x7f, 0x80, 0x9f, 0xa0, 0xc3, 0xe2, 0xff}
	for n := 0; n <= 80; n++ {
		buf := pages.Buf(n)
		for pos := -1; pos < n; pos++ {
			for _, c := range special {
				for i := range buf {
					buf[i] = 'a'
				}
				if pos >= 0 {
					buf[pos] = c
				}
				s := pageend.String(buf)
				plainButQuotes := true
				for i := range n {
					if b := s[i]; b != '"' && (b >= utf8.RuneSelf || !plain[b]) {
						plainButQuotes = false
					}
				}
				if got := PlainButQuotes(s); got != plainButQuotes {
					t.Fatalf("PlainButQuotes(%q) = %v, want %v", s, got, plainButQuotes)
				}
				if got, want := string(AppendString(nil, s)), string(appendStringOld(nil, s)); got != want {
					t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
				}
				if pos < 0 {
					break // the plain string once
				}
			}
		}
	}
}

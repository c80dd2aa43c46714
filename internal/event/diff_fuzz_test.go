package event

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzAppendStringDiff: AppendString writes every string, at every length
// and with every byte at every position, exactly as the byte-loop version
// it replaced did.
func FuzzAppendStringDiff(f *testing.F) {
	for _, s := range []string{"", "a", "ab\"", "abc\\", "abcd", "abcdefg\x00", "/usr/local/go/bin/go", "é", "\u2028x",
		"\xff\xfe", "12345678\"", "1234567\x7f", "x\u202ey", strings.Repeat("a", 17) + "\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// every suffix: each length and alignment of the tail word; into
		// a buffer that must grow and into one with room, whose spare
		// bytes (written before an escape is met) must not show
		roomy := make([]byte, 1, 64)
		for i := 0; i <= len(s) && i < 24; i++ {
			want := appendStringOld([]byte("x"), s[i:])
			roomy = append(roomy[:1], bytes.Repeat([]byte{'#'}, 63)...)[:1]
			roomy[0] = 'x'
			for _, b := range [][]byte{[]byte("x"), roomy} {
				if got := AppendString(b, s[i:]); !bytes.Equal(got, want) {
					t.Fatalf("AppendString(%q, cap %d) = %q, want %q", s[i:], cap(b), got, want)
				}
			}
		}
	})
}

// FuzzTimestampDiff: the hand-written @timestamp is time's own formatting
// of TimeLayout for every instant, years of five digits and before the
// epoch included.
func FuzzTimestampDiff(f *testing.F) {
	f.Add(int64(1795637809), int64(6e6))
	f.Add(int64(-62135596800), int64(0))
	f.Add(int64(253402300799), int64(999999999))
	f.Add(int64(253402300800), int64(0))
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		tm := time.Unix(sec, nsec)
		if got, want := AppendTimestamp(nil, tm), tm.UTC().AppendFormat(nil, TimeLayout); !bytes.Equal(got, want) {
			t.Fatalf("AppendTimestamp(%d, %d) = %s, want %s", sec, nsec, got, want)
		}
	})
}

// FuzzPlainButQuotes: the sixteen-bytes-a-turn test agrees with the bytes
// AppendString copies as they are (the plain table), quotes aside.
func FuzzPlainButQuotes(f *testing.F) {
	for _, s := range []string{"", "a", "0123456789abcdef", `arch=c000003e syscall=59 comm="echo"`, "x\x1fy", "\\", "\x7f\x80", "\xa0\x1f0123456789abcdef", "~~~~~~~~~~~~~~~~\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := true
		for i := 0; i < len(s); i++ {
			if c := s[i]; c != '"' && (c >= utf8.RuneSelf || !plain[c]) {
				want = false
			}
		}
		if got := PlainButQuotes(s); got != want {
			t.Fatalf("PlainButQuotes(%q) = %v, want %v", s, got, want)
		}
	})
}

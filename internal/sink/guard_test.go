package sink

import (
	"testing"

	"github.com/gotrail/gotrail/internal/testutil/pageend"
)

// TestAppendSafeAtPageEnd: AppendSafe, which skips printable ASCII eight
// bytes at a time, reads nothing past a string that ends where readable
// memory does, and answers as the byte-by-byte reference for one byte of
// each class at each position, and for two-byte sequences (UTF-8 leads,
// C1 controls) across each word boundary.
func TestAppendSafeAtPageEnd(t *testing.T) {
	pages := pageend.New(t, 1)
	special := [][]byte{{0}, {0x1b}, {0x7f}, {'\\'}, {0xc2, 0x85}, {0xc2, 0x9b}, {0xe2, 0x80, 0xae}, {0xe2, 0x80, 0xa8}, {0xc3, 0xa9}, {0xff}, {0xc2}, {'~'}}
	for n := 0; n <= 40; n++ {
		buf := pages.Buf(n)
		for pos := -1; pos < n; pos++ {
			for _, sp := range special {
				for i := range buf {
					buf[i] = 'a'
				}
				if pos >= 0 {
					copy(buf[pos:], sp)
				}
				s := pageend.String(buf)
				if got, want := string(AppendSafe(nil, s)), string(appendSafeRef(nil, s)); got != want {
					t.Fatalf("AppendSafe(%q) = %q, want %q", s, got, want)
				}
				if pos < 0 {
					break
				}
			}
		}
	}
}

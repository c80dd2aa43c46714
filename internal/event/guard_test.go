package event

import (
	"syscall"
	"testing"
	"unicode/utf8"
	"unsafe"
)

// pageEnd is a page of writable memory right before an inaccessible one: a
// string that ends on its last byte makes a read past the string's end
// fault instead of reading the Go heap unseen.
func pageEnd(t *testing.T) []byte {
	t.Helper()
	ps := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 2*ps, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	if err := syscall.Mprotect(mem[ps:], syscall.PROT_NONE); err != nil {
		t.Fatalf("mprotect: %v", err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	return mem[:ps]
}

// TestWordChecksAtPageEnd: strings of 0 to 80 bytes that end where readable
// memory does, plain or with one byte of a class the checks tell apart at
// each position, give PlainButQuotes and AppendString the answers of a
// byte-by-byte check.
func TestWordChecksAtPageEnd(t *testing.T) {
	page := pageEnd(t)
	special := []byte{0, 0x1f, 0x20, '"', '\\', 0x7e, 0x7f, 0x80, 0x9f, 0xa0, 0xc3, 0xe2, 0xff}
	for n := 0; n <= 80; n++ {
		buf := page[len(page)-n:]
		for pos := -1; pos < n; pos++ {
			for _, c := range special {
				for i := range buf {
					buf[i] = 'a'
				}
				if pos >= 0 {
					buf[pos] = c
				}
				s := unsafe.String(unsafe.SliceData(buf), n)
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

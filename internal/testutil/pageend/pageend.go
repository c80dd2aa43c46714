// Package pageend places test strings so that they end on the last byte
// before an inaccessible page. Code that reads 8 or 16 bytes at a time
// (unsafe word loads, wide copies) must stay within the string it was given;
// a bounds check off by one then dies of SIGSEGV in the test instead of
// reading the next bytes of the Go heap unseen.
package pageend

import (
	"syscall"
	"testing"
	"unsafe"
)

// Pages hands out slots, each one page of writable memory followed by a
// PROT_NONE page. A slot is reused after Slots more strings, so a caller
// keeps fewer than that alive at once.
type Pages struct {
	Slots int
	mem   []byte
	page  int
	next  int
}

// New maps slots slots, unmapped when tb ends.
func New(tb testing.TB, slots int) *Pages {
	tb.Helper()
	ps := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 2*ps*slots, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		tb.Fatalf("pageend: mmap %d pages: %v", 2*slots, err)
	}
	tb.Cleanup(func() { syscall.Munmap(mem) })
	for i := range slots {
		if err := syscall.Mprotect(mem[(2*i+1)*ps:(2*i+2)*ps], syscall.PROT_NONE); err != nil {
			tb.Fatalf("pageend: mprotect the guard page of slot %d: %v", i, err)
		}
	}
	return &Pages{Slots: slots, mem: mem, page: ps}
}

// Size is the longest string a slot takes: one page.
func (p *Pages) Size() int { return p.page }

// Buf is the next slot's last n bytes (n at most Size), for a caller that
// writes its string in place.
func (p *Pages) Buf(n int) []byte {
	i := p.next % p.Slots
	p.next++
	return p.mem[(2*i+1)*p.page-n : (2*i+1)*p.page]
}

// At returns a copy of s that ends where readable memory does; s itself
// when it is empty or longer than a page.
func (p *Pages) At(s string) string {
	if len(s) == 0 || len(s) > p.page {
		return s
	}
	b := p.Buf(len(s))
	copy(b, s)
	return String(b)
}

// String is b as a string, without a copy: b's bytes, where b is.
func String(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

package collect

import (
	"bytes"
	"testing"
)

// FuzzParseLine: no line of a collector's file stops or crashes the
// verifier, and what the parser takes from it lies within the line.
func FuzzParseLine(f *testing.F) {
	fx := makeTrail(f, "web-01", 3, 3)
	for _, l := range fx.stream(0) {
		f.Add([]byte(l))
		f.Add([]byte("512 " + l))
		f.Add([]byte(l[:len(l)/2]))
	}
	for _, p := range fx.partMsgs(2, 2) {
		f.Add([]byte(p))
	}
	for _, s := range []string{"", "<", "<1>1 ", "<86>1 - h gotrail - - [a", `<86>1 t h gotrail p m [x@1 a="\"] b"][y@2] m`,
		`<86>1 t h gotrail p m [gotrail@1 payload="trail" seq="18446744073709551615" part="2/1"] x`} {
		f.Add([]byte(s))
	}
	keys := f.TempDir()
	fx.writeKey(f, keys)
	base := fx.stream(0)
	again := []byte(fx.recordMsg(2, ""))
	f.Fuzz(func(t *testing.T, line []byte) {
		m, ok := parseLine(line)
		if ok && (len(m.host) == 0 || len(m.sd) > len(line) || len(m.msg) > len(line)) {
			t.Fatalf("parsed %q into %+v", line, m)
		}
		if ok && m.kind == msgRecord && m.parts > 0 && (m.part < 1 || m.part > m.parts) {
			t.Fatalf("part %d/%d of %q", m.part, m.parts, line)
		}
		// the line among real ones, then again: never a panic
		c := New(Options{KeyDir: keys, Window: 4})
		for _, l := range base {
			c.Line([]byte(l))
		}
		for _, l := range bytes.Split(line, []byte("\n")) {
			c.Line(l)
		}
		c.Line(again)
		c.Line(line)
		c.Finish()
	})
}

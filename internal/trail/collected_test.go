package trail

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// FuzzSplitRecord: SplitRecord, which the collector's verifier reads
// records with, takes exactly the lines parseLine takes, apart the same
// way, and HashOK agrees with walkSegment's check.
func FuzzSplitRecord(f *testing.F) {
	g := Genesis
	canon := `{"@timestamp":"2026-11-25T20:16:49.006Z","host":{"name":"web-01"}}`
	sum := sha256.Sum256([]byte(g + canon))
	good := canon[:len(canon)-1] + `,"trail":{"seq":1,"prev":"` + g + `","hash":"` + hex.EncodeToString(sum[:]) + `"}}`
	for _, s := range []string{good, good[:len(good)-1], `,"trail":{"seq":"}}`, `,"trail":{"seq":1,"prev":"","hash":""}}`, "", `"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, ok := SplitRecord(line)
		want, err := parseLine(line)
		if ok != (err == nil) {
			t.Fatalf("SplitRecord ok=%v, parseLine err=%v: %q", ok, err, line)
		}
		if !ok {
			return
		}
		canon := append(bytes.Clone(r.Line[:r.Canon]), '}')
		if r.Seq != want.seq || string(r.Prev) != want.prev || string(r.Hash) != want.hash || !bytes.Equal(canon, want.canon) {
			t.Fatalf("SplitRecord %+v, parseLine %+v", r, want)
		}
		s := sha256.New()
		s.Write([]byte(want.prev))
		s.Write(want.canon)
		if r.HashOK() != (hex.EncodeToString(s.Sum(nil)) == want.hash) {
			t.Fatalf("HashOK %v disagrees with walkSegment: %q", r.HashOK(), line)
		}
	})
}

package audit

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// addBodySeeds adds the bodies of the shared corpus's records (every 7th)
// and a few hand-made edge cases.
func addBodySeeds(f *testing.F) {
	data, err := os.ReadFile("testdata/host-activity.log")
	if err != nil {
		f.Fatalf("read seed corpus: %v", err)
	}
	for i, l := range strings.Split(string(data), "\n") {
		if r, err := ParseRecord(l); err == nil && i%7 == 0 {
			f.Add(r.Body)
		}
	}
	for _, s := range []string{`a=1 b="x y" msg='c=2 d="3"'` + "\x1d" + `E=x`, `msg='unterminated`, `="" == =' '`,
		`a="x"b=1 c='d=1'e=2`, "a= b=  =c d", `k="` + "\x1d" + `" x=1`, "avc:  denied  { read } for pid=1", `a='b="c' d`} {
		f.Add(s)
	}
}

// FuzzSplitPartDiff: the one-pass splitPart splits every body into exactly
// the fields the two-scan version it replaced did.
func FuzzSplitPartDiff(f *testing.F) {
	addBodySeeds(f)
	f.Fuzz(func(t *testing.T, body string) {
		for _, enriched := range []bool{false, true} {
			got := splitFields(nil, body, enriched)
			want := splitFieldsOld(nil, body, enriched)
			if !slices.Equal(got, want) {
				t.Fatalf("body %q (enriched %v):\n got %+v\nwant %+v", body, enriched, got, want)
			}
		}
	})
}

func BenchmarkFields(b *testing.B) {
	data, err := os.ReadFile("testdata/host-activity.log")
	if err != nil {
		b.Fatal(err)
	}
	var recs []Record
	for _, l := range strings.Split(string(data), "\n") {
		if r, err := ParseRecord(l); err == nil && len(l) < 2000 {
			recs = append(recs, r)
		}
	}
	var n int64
	for _, r := range recs {
		n += int64(len(r.Body))
	}
	b.SetBytes(n)
	var dst []Field
	b.Run("new", func(b *testing.B) {
		for b.Loop() {
			for i := range recs {
				dst = recs[i].Fields(dst[:0])
			}
		}
	})
	b.Run("old", func(b *testing.B) {
		for b.Loop() {
			for i := range recs {
				dst = splitFieldsOld(dst[:0], recs[i].Body, false)
			}
		}
	})
}

// FuzzKeySetDiff: the packed key set says "new" for exactly the keys the
// set of strings it replaced did, over several records (resets) of keys
// short and long, colliding and repeated.
func FuzzKeySetDiff(f *testing.F) {
	f.Add("a b a\nc cc c a\n\nnametype nametype proctitle a1[0] a1[0]")
	f.Add("\x00 \x00\x00 \xff\xff\xff\xff\xff\xff\xff \xff\xff\xff\xff\xff\xff\xff\xff")
	f.Fuzz(func(t *testing.T, in string) {
		var got keySet
		var want keySetOld
		for rec := range strings.SplitSeq(in, "\n") {
			got.reset()
			want.reset()
			for k := range strings.SplitSeq(rec, " ") {
				if g, w := got.add(k), want.add(k); g != w {
					t.Fatalf("record %q: add(%q) = %v, want %v", rec, k, g, w)
				}
			}
		}
	})
}

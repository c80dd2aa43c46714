package audit

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/testutil/pageend"
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

// fuzzNames names a few ids, one of them with markup, a quote and a byte
// that is not UTF-8, so interpretations that need escaping are exercised.
type fuzzNames struct{}

func (fuzzNames) UserName(id uint32) (string, bool) {
	switch id {
	case 0:
		return "root", true
	case 1000:
		return "al\"ice<b>\xff", true
	}
	return "", false
}

func (fuzzNames) GroupName(id uint32) (string, bool) { return fuzzNames{}.UserName(id) }

// FuzzAppendRecordDiff: the fast path of appendRecord writes exactly what
// the general one does, for any record type and body, raw or enriched.
func FuzzAppendRecordDiff(f *testing.F) {
	addBodySeeds(f)
	for _, s := range []string{
		`arch=c000003e syscall=59 success=no exit=-2 a0=1 uid=1000 auid=4294967295 ses=4294967295 mode=0100644 res=1` + "\x1d" + `ARCH=x86_64 AUID="x" SADDR=y AUID=z`,
		`proctitle=2F62696E2F6563686F00610062000000 type=1 cwd=2F746D70`,
		`a0="x" a0="y" UID=1 uid=2`, `name=(null) name=""` + "\x1d" + `type=x`,
		`auid=0 uid=1000 euid=1 suid=0 fsuid=0 ouid=0 iuid=0 obj_uid=0 sauid=0 oauid=0 old-auid=0 inode_uid=1000 gid=0 egid=0 sgid=0 fsgid=0 ogid=0 igid=0 obj_gid=0 new_gid=0 inode_gid=0 ses=1 res=0` +
			"\x1d" + `AUID=a UID=b EUID=c SUID=d FSUID=e OUID=f IUID=g OBJ_UID=h SAUID=i OAUID=j OLD-AUID=k INODE_UID=l GID=m EGID=n SGID=o FSGID=p OGID=q IGID=r OBJ_GID=s NEW_GID=t INODE_GID=u SES=v RES=w X=y`,
	} {
		f.Add(s)
	}
	f.Add("a=1 b=2\na=1 b=2\x1dB=x\na=1 B=2\na=1 b=2 b=3\na=1 b=2")
	types := []string{"SYSCALL", "EXECVE", "PATH", "PROCTITLE", "CWD", "USER_CMD", "CONFIG_CHANGE", "x\"y"}
	pages := pageend.New(f, 64) // each body ends where readable memory does
	f.Fuzz(func(t *testing.T, body string) {
		in := NewInterpreter(fuzzNames{}, "h", true)
		// each line a record, all of them twice: one interpreter remembers
		// the keys of one record when it renders the next
		lines := strings.Split(body, "\n")
		for _, typ := range append(types, types...) {
			for _, l := range append(lines, lines...) {
				r := &Record{Type: typ, Body: pages.At(l)}
				fields := r.Fields(nil)
				got := string(in.appendRecord(nil, r, fields))
				want := string(in.appendAnyRecord(nil, r, fields))
				if got != want {
					t.Fatalf("type %s body %q:\n got %s\nwant %s", typ, l, got, want)
				}
			}
		}
	})
}

// FuzzInterpretFieldDiff: interpretField answers as the one switch it was
// before the shapes of render_plain.go needed its parts.
func FuzzInterpretFieldDiff(f *testing.F) {
	for _, k := range []string{"arch", "syscall", "exit", "mode", "auid", "uid", "obj_uid", "old-auid", "gid", "new_gid", "inode_gid", "ses", "res", "a0", "UID"} {
		for _, v := range []string{"0", "1", "1000", "59", "-2", "0100644", "4294967295", "c000003e", "x"} {
			f.Add(k, v, uint8(0), "no", "c000003e", "AUID")
		}
	}
	f.Fuzz(func(t *testing.T, key, value string, quoting uint8, success, arch, enrichedKey string) {
		in := NewInterpreter(fuzzNames{}, "h", true)
		fl := Field{Key: key, Value: value, Quoting: Quoting(quoting % 3)}
		fields := []Field{{Key: "arch", Value: arch}, fl, {Key: enrichedKey, Value: "named", Enriched: true}}
		a, archOK := ParseArch(arch)
		gu, gv := in.interpretField(&Record{Type: "SYSCALL"}, fields, fl, a, archOK, success)
		wu, wv := in.interpretFieldOld(&Record{Type: "SYSCALL"}, fields, fl, a, archOK, success)
		if gu != wu || gv != wv {
			t.Fatalf("%+v: got %q=%q, want %q=%q", fl, gu, gv, wu, wv)
		}
	})
}

// FuzzAppendHexDiff: the table-driven decoder agrees with the switch it
// replaced, in what it appends and when it refuses.
func FuzzAppendHexDiff(f *testing.F) {
	for _, s := range []string{"", "0", "2F62696E", "2f62696e00", "zz", "2F6G", "ABCDEFabcdef0123456789"} {
		f.Add([]byte("pre"), s)
	}
	f.Fuzz(func(t *testing.T, pre []byte, s string) {
		got, gok := appendHex(slices.Clone(pre), s)
		want, wok := appendHexOld(slices.Clone(pre), s)
		if gok != wok || !slices.Equal(got, want) {
			t.Fatalf("appendHex(%q, %q) = %q, %v; want %q, %v", pre, s, got, gok, want, wok)
		}
	})
}

// FuzzInterpretDiff: whole events, assembled from the lines of the input
// and rendered as `gotrail events --all --format json` does, come out the
// same through the fast paths (plain records, remembered key shapes, the
// title gather decoded) as through the general renderer alone; and without
// records, from the fields gather takes (gatherWants) as from all.
func FuzzInterpretDiff(f *testing.F) {
	for _, name := range []string{"testdata/host-activity.log", "testdata/script-exec.log"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatalf("read seed corpus: %v", err)
		}
		lines := strings.Split(string(data), "\n")
		for i := 0; i+40 < len(lines); i += 97 {
			f.Add(strings.Join(lines[i:i+40], "\n"))
		}
	}
	// the lines end where readable memory does; a slot is reused after
	// 4,096 more, so the lines of a longer input are left where they are
	pages := pageend.New(f, 4096)
	f.Fuzz(func(t *testing.T, in string) {
		fast := NewInterpreter(fuzzNames{}, "h", true)
		general := NewInterpreter(fuzzNames{}, "h", true)
		general.general = true
		// without records: only the fields gather takes, against all
		lean := NewInterpreter(fuzzNames{}, "h", false)
		whole := NewInterpreter(fuzzNames{}, "h", false)
		whole.general = true
		a := NewAssembler()
		placed := 0
		emit := func(ev *Event) {
			got := string(event.AppendJSON(nil, fast.InterpretTemp(ev)))
			want := string(event.AppendJSON(nil, general.InterpretTemp(ev)))
			if got != want {
				t.Fatalf("event %d:\n got %s\nwant %s", ev.Serial, got, want)
			}
			got = string(event.AppendJSON(nil, lean.InterpretTemp(ev)))
			want = string(event.AppendJSON(nil, whole.InterpretTemp(ev)))
			if got != want {
				t.Fatalf("event %d without records:\n got %s\nwant %s", ev.Serial, got, want)
			}
		}
		for l := range strings.SplitSeq(in, "\n") {
			if placed < pages.Slots {
				l = pages.At(l)
				placed++
			}
			if r, err := ParseRecord(l); err == nil {
				a.Add(r, emit)
			}
		}
		a.Flush(emit)
	})
}

// FuzzSplitByShapeDiff: splitting a body by the keys of another record's
// fields gives exactly the fields splitFields does, and says they have
// those keys only when they have.
func FuzzSplitByShapeDiff(f *testing.F) {
	f.Add("a=1 b=\"x\"\x1dB=y", "a=2 b=\"zz\" \x1dB=w")
	f.Add("a=1 b=2", "a=1  b=2 ")
	f.Add("a=1 b=2", "a=1 b")
	f.Add("a=\"1\" b=2", "a=\"1 b=2")
	f.Add("a=1 msg='c=2'", "a=1 msg='c=3'")
	f.Fuzz(func(t *testing.T, from, body string) {
		var s keyShape
		fields := splitFields(nil, from, false)
		if !s.remember("T", fields) {
			return
		}
		got, same := s.splitByShape(nil, body)
		want := splitFields(nil, body, false)
		if !slices.Equal(got, want) {
			t.Fatalf("body %q by the keys of %q:\n got %+v\nwant %+v", body, from, got, want)
		}
		if same && !s.same(body, want) {
			t.Fatalf("body %q by the keys of %q: said same, but the keys differ", body, from)
		}
	})
}

// FuzzRecordParserDiff: a RecordParser parses each of a sequence of lines
// as ParseRecord does, the stamp it remembers included: the second line is
// often the first's stamp with another body, or a stamp that differs from
// it in one digit or its end. The first line's buffer is overwritten before
// the second is parsed, as the reader reuses its chunks.
func FuzzRecordParserDiff(f *testing.F) {
	f.Add("type=SYSCALL msg=audit(1795638101.690:9204): arch=c000003e", "type=CWD msg=audit(1795638101.690:9204): cwd=\"/\"", "x")
	f.Add("type=SYSCALL msg=audit(1.690:92): a=1", "type=PATH msg=audit(1.690:920): a=1", "type=PATH msg=audit(1.690:9): b")
	f.Add("node=h type=A msg=audit(1.2:3):", "node=i type=B msg=audit(1.2:3):x", "type=C msg=audit(1.2:3)")
	f.Add("type=A msg=audit(1.2:3): x", "type=A msg=audit(1.2:3)", "type=A msg=audit(1.02:3): x")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		var p RecordParser
		for i, line := range []string{a, b, c, b} {
			buf := []byte(line)
			view := "" // the line in buf, which the parser must not rely on later
			if len(buf) > 0 {
				view = unsafe.String(&buf[0], len(buf))
			}
			got, gotErr := p.Parse(view)
			want, wantErr := ParseRecord(line)
			if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
				t.Fatalf("line %d %q: error %v, ParseRecord's %v", i, line, gotErr, wantErr)
			}
			if got != want {
				t.Fatalf("line %d %q:\n got %+v\nwant %+v", i, line, got, want)
			}
			clear(buf)
		}
	})
}

// FuzzValueEndDiff: the word-at-a-time valueEnd and keyEnd find the first
// space (or '=') where strings.IndexByte (IndexAny) does, at every length
// around their words.
func FuzzValueEndDiff(f *testing.F) {
	for _, s := range []string{"", " ", "a", "1234567 ", "12345678 ", "123456789012345 ", "1234567890123456 ", "12345678901234567",
		"\x20\x21\x1f\xa0 ", "abcdefg=", "abcdefgh=", "a=b", "=\xbd\x3c\x3e", "\xff\xff\xff\xff\xff\xff\xff\xff", "!!!!!!!!!!!!!!!!!!!! "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i := range min(len(s), 24) + 1 {
			if got, want := valueEnd(s[i:]), strings.IndexByte(s[i:], ' '); got != want {
				t.Fatalf("valueEnd(%q) = %d, want %d", s[i:], got, want)
			}
			want := strings.IndexAny(s[i:], "= ")
			if want < 0 {
				want = len(s) - i
			}
			if got := keyEnd(s[i:]); got != want {
				t.Fatalf("keyEnd(%q) = %d, want %d", s[i:], got, want)
			}
		}
	})
}

// FuzzParseUint32Diff: where parseUint32 answers, strconv.ParseUint gives
// the same value without error; and it answers for every 32-bit value
// written in as few digits as its fast path takes.
func FuzzParseUint32Diff(f *testing.F) {
	for _, s := range []string{"", "0", "c000003e", "C000003E", "0100755", "59", "999999999", "1000000000", "ffffffff", "fffffffff", "+1", "-1", "0x1", "1_0", "8", "a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, base := range []uint64{8, 10, 16} {
			n, ok := parseUint32(s, base)
			want, err := strconv.ParseUint(s, int(base), 32)
			if ok && (err != nil || n != want) {
				t.Fatalf("parseUint32(%q, %d) = %d, strconv: %d, %v", s, base, n, want, err)
			}
			most := map[uint64]int{8: 9, 10: 9, 16: 8}[base]
			if !ok && err == nil && len(s) <= most {
				t.Fatalf("parseUint32(%q, %d) left to strconv, which reads %d", s, base, want)
			}
		}
	})
}

// FuzzSplitPartWantedDiff: splitPartWanted gives splitPart's fields less
// those its filter surely does not hold, and never leaves out a field whose
// key is one the filter was made of.
func FuzzSplitPartWantedDiff(f *testing.F) {
	addBodySeeds(f)
	filters := [][]string{{"arch", "syscall", "a0", "a1", "a2", "exe", "key"}, {"name", "nametype"}, {"cwd"}, {"msg", "acct", "x"}}
	f.Fuzz(func(t *testing.T, body string) {
		for _, keys := range filters {
			want := newKeyFilter(keys...)
			got := splitPartWanted(nil, body, want)
			var all, filtered []Field
			all = splitPart(all, body, false)
			for _, fl := range all {
				if want.has(fl.Key) {
					filtered = append(filtered, fl)
				} else if slices.Contains(keys, fl.Key) {
					t.Fatalf("filter of %q says it has no %q", keys, fl.Key)
				}
			}
			if !slices.Equal(got, filtered) {
				t.Fatalf("body %q, keys %q:\n got %+v\nwant %+v", body, keys, got, filtered)
			}
		}
	})
}

// FuzzArgIndexDiff: argIndex reads an argument's number as the Atoi it
// replaced did, overflow included.
func FuzzArgIndexDiff(f *testing.F) {
	for _, k := range []string{"a0", "a1[2]", "a", "a_len", "a12_len", "a99999999999999999999", "a000000000000000000000001", "a9223372036854775807", "a9223372036854775808", "a1[", "ab"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, k string) {
		if len(k) == 0 {
			return
		}
		n, c := argIndex(k)
		wn, wc := argIndexOld(k)
		if n != wn || c != wc {
			t.Fatalf("argIndex(%q) = %d, %v; Atoi's: %d, %v", k, n, c, wn, wc)
		}
	})
}

// FuzzAssemblerDiff: the assembler that keeps the event being assembled
// out of its map emits the very events, in the same order, as one that
// maps every event as it opens; over records of a few events interleaved,
// repeated (collisions), completed by PROCTITLE or EOE, standing alone,
// and many at once (eviction).
func FuzzAssemblerDiff(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, uint8(3))
	f.Add([]byte{0, 16, 1, 17, 2, 18, 35, 19, 3, 51}, uint8(2))
	f.Add([]byte{64, 0, 65, 1, 66, 128, 129, 130, 200, 201}, uint8(1))
	types := []string{"SYSCALL", "CWD", "PATH", "EXECVE", "PROCTITLE", "EOE", "USER_START", "CONFIG_CHANGE"}
	f.Fuzz(func(t *testing.T, ops []byte, inFlight uint8) {
		run := func(eager bool) string {
			a := &Assembler{MaxInFlight: int(inFlight%6) + 1, MaxRecords: 4, Motion: 6, eager: eager}
			var evs []*Event
			emit := func(ev *Event) { evs = append(evs, ev) }
			for i, op := range ops {
				// the low bits pick the event (serial, and its second), the
				// high ones the record type
				serial, typ := uint64(op&7)+1, types[int(op>>3)%len(types)]
				line := fmt.Sprintf("type=%s msg=audit(%d.000:%d): x=%d", typ, 100+int(op&7)/4, serial, i)
				a.Add(rec(t, line), emit)
				if i%5 == 4 {
					var n int
					a.Pending(func(*Event) { n++ })
					evs = append(evs, &Event{Serial: uint64(1000 + n + 100*a.InFlight())}) // in flight, as a marker
				}
			}
			a.Flush(emit)
			return summary(evs)
		}
		if lazy, eager := run(false), run(true); lazy != eager {
			t.Fatalf("ops %v, %d in flight:\n lazy  %s\n eager %s", ops, inFlight%6+1, lazy, eager)
		}
	})
}

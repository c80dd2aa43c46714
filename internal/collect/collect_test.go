package collect

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/trail"
)

// want is what a case expects of one host.
type want struct {
	complete    bool
	records     uint64
	first, last uint64
	proven      uint64
	missing     []SeqRange
	problems    []string // "kind seq", in order
	counts      Counts
	startsAfter uint64
}

func (w want) check(t *testing.T, h *HostReport) {
	t.Helper()
	var got []string
	for _, p := range h.Problems {
		got = append(got, fmt.Sprintf("%s %d", p.Kind, p.Seq))
	}
	proven := uint64(0)
	if h.Proven != nil {
		proven = h.Proven.Seq
	}
	if h.Complete != w.complete || h.Records != w.records || h.First != w.first || h.Last != w.last || proven != w.proven ||
		!slices.Equal(h.Missing, w.missing) || !slices.Equal(got, w.problems) || h.Counts != w.counts || h.StartsAfter != w.startsAfter {
		t.Errorf("host %s:\n got complete=%v records=%d seq %d-%d proven=%d missing=%v starts_after=%d\n     problems=%q\n     counts=%+v\nwant complete=%v records=%d seq %d-%d proven=%d missing=%v starts_after=%d\n     problems=%q\n     counts=%+v\n%s",
			h.Host, h.Complete, h.Records, h.First, h.Last, proven, h.Missing, h.StartsAfter, got, h.Counts,
			w.complete, w.records, w.first, w.last, w.proven, w.missing, w.startsAfter, w.problems, w.counts, problemText(h))
	}
}

func problemText(h *HostReport) string {
	var b strings.Builder
	for _, p := range h.Problems {
		fmt.Fprintf(&b, "  %s seq %d %s: %s\n", p.Kind, p.Seq, p.Where, p.Text)
	}
	for _, n := range h.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	return b.String()
}

// oneHostCase is a collector's copy of one host's stream, and what the
// verifier must say of it.
type oneHostCase struct {
	name  string
	lines []string
	want  want
}

// oneHost is the fixture the cases edit: 40 records, a checkpoint every
// 10, each sent 3 records after its record.
type oneHost struct {
	f    *trailFixture
	base []string
	n    int
}

func (o oneHost) idx(lines []string, seq int) int {
	return slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, ` payload="trail" seq="`+strconv.Itoa(seq)+`"`) })
}

func (o oneHost) edit(fn func(l []string) []string) []string { return fn(slices.Clone(o.base)) }

// TestCollectedOneHost: what a collector's copy of one host's stream can
// suffer, and what the verifier names, by seq.
func TestCollectedOneHost(t *testing.T) {
	f := makeTrail(t, "web-01", 40, 10)
	keys := t.TempDir()
	f.writeKey(t, keys)
	o := oneHost{f: f, base: f.stream(3), n: 40}
	for _, c := range append(chainCases(t, o), messageCases(t, o)...) {
		t.Run(c.name, func(t *testing.T) {
			rep := verifyLines(t, keys, c.lines)
			if len(rep.Hosts) != 1 {
				t.Fatalf("%d hosts", len(rep.Hosts))
			}
			c.want.check(t, rep.Hosts[0])
		})
	}
}

// chainCases are edits of the records: missing, modified, duplicated,
// reordered, cut off, split.
func chainCases(t *testing.T, o oneHost) []oneHostCase {
	f, base, n, idx, edit := o.f, o.base, uint64(o.n), o.idx, o.edit
	whole := want{complete: true, records: n, first: 1, last: n, proven: n}
	return []oneHostCase{
		{"whole chain", base, whole},
		{"missing", edit(func(l []string) []string { return slices.Delete(l, idx(l, 17), idx(l, 17)+1) }),
			want{records: n - 1, first: 1, last: n, proven: 40, missing: []SeqRange{{17, 17}}, problems: []string{"missing 17"}}},
		{"modified, hash left", edit(func(l []string) []string {
			l[idx(l, 12)] = strings.Replace(l[idx(l, 12)], "wrote ~/.config", "wrote ~/.cOnfig", 1)
			return l
		}), want{records: n, first: 1, last: n, proven: 40, problems: []string{"modified 12"}, counts: Counts{Modified: 1}}},
		{"modified and re-hashed, not re-signed", rehashed(t, f, 25, base),
			want{records: n, first: 1, last: n, proven: 20, problems: []string{"modified 30", "modified 40"}, counts: Counts{Modified: 2}}},
		{"reordered", edit(func(l []string) []string {
			i, j := idx(l, 8), idx(l, 9)
			l[i], l[j] = l[j], l[i]
			return l
		}), want{records: n, first: 1, last: n, proven: 40, problems: []string{"reordered 8"}, counts: Counts{Reordered: 1}}},
		{"cut off, then resent", edit(func(l []string) []string { i := idx(l, 22); return slices.Insert(l, i, l[i][:len(l[i])-40]) }),
			want{complete: true, records: n, first: 1, last: n, proven: 40, counts: Counts{Resent: 1}}},
		{"cut off with only the SD, then resent", edit(func(l []string) []string {
			i := idx(l, 22)
			return slices.Insert(l, i, l[i][:strings.Index(l[i], "] {")+2])
		}), want{complete: true, records: n, first: 1, last: n, proven: 40, counts: Counts{Resent: 1}}},
		{"cut off, not resent", edit(func(l []string) []string { i := idx(l, 22); l[i] = l[i][:len(l[i])-40]; return l }),
			want{records: n, first: 1, last: n, proven: 40, problems: []string{"modified 22"}, counts: Counts{Modified: 1}}},
		{"split records", edit(func(l []string) []string {
			i := idx(l, 6)
			return slices.Replace(l, i, i+1, f.partMsgs(6, 3)...)
		}), whole},
		{"split record, a part missing", edit(func(l []string) []string {
			i := idx(l, 6)
			p := f.partMsgs(6, 3)
			return slices.Replace(l, i, i+1, p[0], p[2])
		}), want{records: n, first: 1, last: n, proven: 40, problems: []string{"modified 6"}, counts: Counts{Modified: 1}}},
		{"split record, a part altered", edit(func(l []string) []string {
			i := idx(l, 6)
			p := f.partMsgs(6, 3)
			p[1] = strings.Replace(p[1], "o", "0", 1)
			return slices.Replace(l, i, i+1, p...)
		}), want{records: n, first: 1, last: n, proven: 40, problems: []string{"modified 6"}, counts: Counts{Modified: 1}}},
		{"split record, a part cut off and resent", edit(func(l []string) []string {
			i := idx(l, 6)
			p := f.partMsgs(6, 3)
			return slices.Replace(l, i, i+1, p[0], p[1][:len(p[1])-5], p[1], p[2])
		}), want{complete: true, records: n, first: 1, last: n, proven: 40, counts: Counts{Resent: 1}}},
		{"split record, resent from its first part", edit(func(l []string) []string {
			i := idx(l, 6)
			p := f.partMsgs(6, 3)
			return slices.Replace(l, i, i+1, p[0], p[1], p[0], p[1], p[2])
		}), want{complete: true, records: n, first: 1, last: n, proven: 40, counts: Counts{Resent: 1}}},
	}
}

// TestCollectedAgain: a seq arriving twice. The same record byte for byte
// is the sink's resend after a connection dropped in its probation
// (counted, not a problem); anything else of that seq again, or the same
// record beyond the window (its hash no longer known), is duplicated.
func TestCollectedAgain(t *testing.T) {
	f := makeTrail(t, "web-01", 40, 10)
	keys := t.TempDir()
	f.writeKey(t, keys)
	o := oneHost{f: f, base: f.stream(3), n: 40}
	base, n, idx, edit := o.base, uint64(o.n), o.idx, o.edit
	resent := want{complete: true, records: n, first: 1, last: n, proven: n, counts: Counts{Resent: 1}}
	dup := want{records: n, first: 1, last: n, proven: 40, problems: []string{"duplicated 5"}, counts: Counts{Duplicated: 1}}
	other := rehashed(t, f, 5, base) // seq 5 rewritten, its hash recomputed
	for _, c := range []struct {
		name   string
		lines  []string
		want   want
		window int // Options.Window, when not the default
	}{
		{"the same record again, later", edit(func(l []string) []string { return slices.Insert(l, idx(l, 30), l[idx(l, 5)]) }), resent, 0},
		{"the same record again, next", edit(func(l []string) []string { return slices.Insert(l, idx(l, 5)+1, l[idx(l, 5)]) }), resent, 0},
		{"the same split record again", edit(func(l []string) []string {
			p := f.partMsgs(6, 3)
			l = slices.Insert(l, idx(l, 9), p...)
			return slices.Replace(l, idx(l, 6), idx(l, 6)+1, p...)
		}), resent, 0},
		{"another record of the seq, its hash recomputed", edit(func(l []string) []string { return slices.Insert(l, idx(l, 30), other[idx(other, 5)]) }), dup, 0},
		{"a copy altered, its hash left", edit(func(l []string) []string {
			return slices.Insert(l, idx(l, 30), strings.Replace(l[idx(l, 5)], "wrote ~/.config", "wrote ~/.cOnfig", 1))
		}), want{records: n, first: 1, last: n, proven: 40, problems: []string{"modified 5", "duplicated 5"}, counts: Counts{Modified: 1, Duplicated: 1}}, 0},
		{"a copy whose structured data names another hash", edit(func(l []string) []string {
			c := strings.Replace(l[idx(l, 5)], `hash="`+f.hashOf(5), `hash="`+f.hashOf(6), 1)
			return slices.Insert(l, idx(l, 30), c)
		}), want{records: n, first: 1, last: n, proven: 40, problems: []string{"modified 5", "duplicated 5"}, counts: Counts{Modified: 1, Duplicated: 1}}, 0},
		{"a copy whose seq is spelled 05", edit(func(l []string) []string {
			c := strings.Replace(l[idx(l, 5)], `"trail":{"seq":5,`, `"trail":{"seq":05,`, 1)
			return slices.Insert(l, idx(l, 30), c)
		}), dup, 0},
		{"the whole record after a cut-off copy not resent", edit(func(l []string) []string {
			i := idx(l, 22)
			l = slices.Insert(l, idx(l, 30), l[i])
			l[i] = l[i][:len(l[i])-40]
			return l
		}), want{records: n, first: 1, last: n, proven: 40, problems: []string{"modified 22", "duplicated 22"}, counts: Counts{Modified: 1, Duplicated: 1}}, 0},
		{"the same record again, beyond the window", edit(func(l []string) []string { return slices.Insert(l, idx(l, 30), l[idx(l, 5)]) }), dup, 8},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := verifyWith(t, New(Options{KeyDir: keys, Window: c.window}), c.lines)
			if len(rep.Hosts) != 1 {
				t.Fatalf("%d hosts", len(rep.Hosts))
			}
			c.want.check(t, rep.Hosts[0])
		})
	}
}

// messageCases are edits of the checkpoints, the start and end of the
// stream, and what else a collector's file holds.
func messageCases(t *testing.T, o oneHost) []oneHostCase {
	f, base, n, idx, edit := o.f, o.base, uint64(o.n), o.idx, o.edit
	whole := want{complete: true, records: n, first: 1, last: n, proven: n}
	return []oneHostCase{
		{"forged checkpoint", edit(func(l []string) []string {
			other := makeTrail(t, "web-01", 1, 1) // the same name, another key
			return append(l, other.checkpointMsg(1))
		}), want{records: n, first: 1, last: n, proven: 40, problems: []string{"forged 0"}, counts: Counts{Forged: 1}}},
		{"checkpoint altered", edit(func(l []string) []string {
			i := slices.IndexFunc(l, func(s string) bool { return strings.Contains(s, "trail.checkpoint") && strings.Contains(s, `seq="40"`) })
			l[i] = strings.Replace(l[i], `\n40\n`, `\n39\n`, 1)
			return l
		}), want{records: n, first: 1, last: n, proven: 30, problems: []string{"forged 0"}, counts: Counts{Forged: 1}}},
		{"end removed, its checkpoint kept", edit(func(l []string) []string {
			return slices.DeleteFunc(l, func(s string) bool {
				return idx([]string{s}, 38) == 0 || idx([]string{s}, 39) == 0 || idx([]string{s}, 40) == 0
			})
		}), want{records: 37, first: 1, last: 37, proven: 30, missing: []SeqRange{{38, 40}}, problems: []string{"missing 38"}}},
		{"start removed", edit(func(l []string) []string { return l[idx(l, 4):] }),
			want{records: 37, first: 4, last: n, proven: 40, missing: []SeqRange{{1, 3}}, problems: []string{"missing 1"}}},
		{"start after an anchor of retention", edit(func(l []string) []string {
			a := f.noteMsg(f.signNote(t, "gotrail trail anchor", 3, f.hashOf(3), time.Now()))
			return append(l[idx(l, 4):], a)
		}), want{complete: true, records: 37, first: 4, last: n, proven: 40, startsAfter: 3}},
		{"a record of another host", edit(func(l []string) []string {
			other := makeTrail(t, "web-02", 3, 10)
			i := idx(l, 3)
			l[i] = strings.Replace(other.recordMsg(3, ""), " web-02 gotrail ", " web-01 gotrail ", 1)
			return l
		}), want{records: n, first: 1, last: n, proven: 40, problems: []string{"wrong-host 3", "modified 3", "modified 4"}, counts: Counts{WrongHost: 1, Modified: 2}}},
		{"no checkpoint", slices.DeleteFunc(slices.Clone(base), func(s string) bool { return strings.Contains(s, "trail.checkpoint") }),
			want{records: n, first: 1, last: n, problems: []string{"unproven 0"}}},
		{"other programs, garbage, huge lines", edit(func(l []string) []string {
			junk := []string{"", "garbage", "<13>1 2026-11-25T20:16:49Z web-01 sshd 12 - - accepted", "<86>1 - web-01 gotrail",
				strings.Repeat("x", 3<<20), "<999999>1 a b c d e f", "\xff\xfe<86>1", "<86>1 2026-11-25T20:16:49Z web-01 gotrail - k - " + strings.Repeat("y", 2<<20)}
			return slices.Insert(l, 7, junk...)
		}), whole},
		{"a gotrail message truncated, never resent", edit(func(l []string) []string {
			return slices.Insert(l, 7, `<86>1 2026-11-25T20:16:49Z web-01 gotrail - k [gotrail@32473 payload="trail" seq="`)
		}), want{records: n, first: 1, last: n, proven: 40, problems: []string{"modified 0"}, counts: Counts{Modified: 1}}},
	}
}

// rehashed rewrites record from and every record after it, recomputing
// their hashes as root on the host could, but signs no checkpoint again.
func rehashed(t *testing.T, f *trailFixture, from int, base []string) []string {
	t.Helper()
	g := *f
	g.lines = slices.Clone(f.lines)
	prev := f.hashOf(from - 1)
	for i := from; i <= len(g.lines); i++ {
		r, _ := trail.SplitRecord([]byte(g.lines[i-1]))
		canon := string(r.Line[:r.Canon]) + "}"
		if i == from {
			canon = strings.Replace(canon, "wrote", "read", 1)
		}
		hash := sha256hex(prev + canon)
		g.lines[i-1] = fmt.Sprintf(`%s,"trail":{"seq":%d,"prev":"%s","hash":"%s"}}`, canon[:len(canon)-1], i, prev, hash)
		prev = hash
	}
	var out []string
	for _, l := range base {
		if r, ok := parseLine([]byte(l)); ok && r.kind == msgRecord {
			l = g.recordMsg(int(r.seq), "")
		}
		out = append(out, l)
	}
	return out
}

// TestCollectedTwoHostsAndFiles: two hosts interleaved in one file, one of
// them going on into a second (rotated, compressed) file, with a record
// cut off at the end of the first and resent at the start of the second.
func TestCollectedTwoHostsAndFiles(t *testing.T) {
	a, b := makeTrail(t, "web-01", 30, 10), makeTrail(t, "db-01", 20, 5)
	keys := t.TempDir()
	a.writeKey(t, keys)
	b.writeKey(t, keys)
	sa, sb := a.stream(2), b.stream(0)
	var file1 []string
	for i := 0; i < 20; i++ {
		file1 = append(file1, sa[i], sb[i])
	}
	file1 = append(file1, sb[20:]...)
	file1 = append(file1, sa[20][:len(sa[20])/2]) // cut off by rotation... and resent in the next file
	dir := t.TempDir()
	p1, p2 := filepath.Join(dir, "trail.log-1.gz"), filepath.Join(dir, "trail.log")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(strings.Join(file1, "\n") + "\n"))
	zw.Close()
	os.WriteFile(p1, gz.Bytes(), 0o644)
	os.WriteFile(p2, []byte(strings.Join(sa[20:], "\n")+"\n"), 0o644)
	rep, err := VerifyFiles([]string{p1, p2}, Options{KeyDir: keys})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Complete || len(rep.Hosts) != 2 || rep.Hosts[0].Host != "db-01" || rep.Hosts[1].Host != "web-01" {
		t.Fatalf("report: %+v", rep)
	}
	want{complete: true, records: 20, first: 1, last: 20, proven: 20}.check(t, rep.Hosts[0])
	want{complete: true, records: 30, first: 1, last: 30, proven: 30, counts: Counts{Resent: 1}}.check(t, rep.Hosts[1])
	if _, err := VerifyFiles([]string{filepath.Join(dir, "none")}, Options{KeyDir: keys}); err == nil {
		t.Error("a file that does not exist verified")
	}
}

// TestCollectedFormats: the same stream as rsyslog's
// RSYSLOG_SyslogProtocol23Format writes it, and as the raw message with
// and without the octet count rsyslog keeps when it fell back from
// octet-counted framing.
func TestCollectedFormats(t *testing.T) {
	f := makeTrail(t, "web-01", 12, 4)
	keys := t.TempDir()
	f.writeKey(t, keys)
	base := f.stream(1)
	forms := map[string]func(string) string{
		"protocol23":     func(l string) string { return l },
		"raw, LEN SP":    func(l string) string { return strconv.Itoa(len(l)) + " " + l },
		"raw, LEN glued": func(l string) string { return strconv.Itoa(len(l)) + l },
		"with a BOM":     func(l string) string { return strings.Replace(l, `"] {`, "\"] \ufeff{", 1) },
	}
	for name, form := range forms {
		t.Run(name, func(t *testing.T) {
			var lines []string
			for _, l := range base {
				lines = append(lines, form(l))
			}
			rep := verifyLines(t, keys, lines)
			want{complete: true, records: 12, first: 1, last: 12, proven: 12}.check(t, rep.Hosts[0])
		})
	}
}

// TestCollectedNoKey: a host without a key file proves nothing, and says so.
func TestCollectedNoKey(t *testing.T) {
	f := makeTrail(t, "web-01", 5, 5)
	rep := verifyLines(t, t.TempDir(), f.stream(0))
	h := rep.Hosts[0]
	if rep.Complete || h.Complete || len(h.Problems) != 1 || h.Problems[0].Kind != NoKey || !strings.Contains(h.Problems[0].Text, "web-01.pub") || h.Proven != nil {
		t.Errorf("no key: %+v\n%s", h, problemText(h))
	}
	// a name that would walk out of the key directory is not looked up
	g := makeTrail(t, "../etc", 1, 1)
	rep = verifyLines(t, t.TempDir(), g.stream(0))
	if h := rep.Hosts[0]; h.Complete || h.Problems[0].Kind != NoKey || h.KeyFile != "" {
		t.Errorf("host ../etc: %+v", h)
	}
}

// TestCollectedLateCheckpoint: a checkpoint that comes after more records
// than the window holds cannot be matched. The sink sends each checkpoint
// right after its record, so that is a problem of the host, naming the
// checkpoint; an anchor of retention covers an old record by nature, and
// is only counted late.
func TestCollectedLateCheckpoint(t *testing.T) {
	f := makeTrail(t, "web-01", 60, 20)
	keys := t.TempDir()
	f.writeKey(t, keys)
	anchor := f.noteMsg(f.signNote(t, "gotrail trail anchor", 5, f.hashOf(5), time.Now()))
	for _, c := range []struct {
		name  string
		lines []string
		want  want
		texts []string // in the problems' texts, in order
	}{
		{"checkpoints 15 records late, a window of 8", f.stream(15),
			want{records: 60, first: 1, last: 60, proven: 60, problems: []string{"unmatched-checkpoint 20", "unmatched-checkpoint 40"}, counts: Counts{Unmatched: 2}},
			[]string{"seq 20 signed at " + f.signedAt(t, 20) + " (f1.log:36)", "seq 40 signed at " + f.signedAt(t, 40) + " (f1.log:57)"}},
		{"checkpoints in time, an anchor late", append(f.stream(0), anchor),
			want{complete: true, records: 60, first: 1, last: 60, proven: 60, counts: Counts{Late: 1}}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := verifyWith(t, New(Options{KeyDir: keys, Window: 8}), c.lines).Hosts[0]
			c.want.check(t, h)
			for i, text := range c.texts {
				if i >= len(h.Problems) || !strings.Contains(h.Problems[i].Text, text) || h.Problems[i].Where == "" {
					t.Errorf("problem %d does not say %q:\n%s", i, text, problemText(h))
				}
			}
		})
	}
}

// TestCollectedBounded: a stream with a gap at every other record keeps
// only so many ranges and problems, counting the rest.
func TestCollectedBounded(t *testing.T) {
	f := makeTrail(t, "web-01", 2000, 1000)
	keys := t.TempDir()
	f.writeKey(t, keys)
	var lines []string
	for i, l := range f.stream(0) {
		if i%2 == 0 || strings.Contains(l, "trail.checkpoint") {
			lines = append(lines, l)
		}
	}
	h := verifyLines(t, keys, lines).Hosts[0]
	if len(h.Missing) != defaultMax || len(h.Problems) != defaultMax || h.MoreProblems == 0 || h.MissingCount < 990 || h.MissingMore == 0 {
		t.Errorf("missing %d ranges (%d records, %d not listed), %d problems + %d", len(h.Missing), h.MissingCount, h.MissingMore, len(h.Problems), h.MoreProblems)
	}
}

// BenchmarkCollect: one host's stream of 1000 real records with a
// checkpoint every 100, verified per op (bench/collected runs the fleet).
func BenchmarkCollect(b *testing.B) {
	f := makeTrail(b, "web-01", 1000, 100)
	keys := b.TempDir()
	f.writeKey(b, keys)
	var lines [][]byte
	var size int64
	for _, l := range f.stream(0) {
		lines = append(lines, []byte(l))
		size += int64(len(l)) + 1
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		c := New(Options{KeyDir: keys})
		for _, l := range lines {
			c.Line(l)
		}
		if !c.Finish().Complete {
			b.Fatal("not complete")
		}
	}
}

// --from-first: a collector whose rotation removed its oldest files is
// checked from the first record it still holds, and says so; what follows
// is checked as ever.
func TestCollectedFromFirst(t *testing.T) {
	f := makeTrail(t, "web-01", 40, 10)
	keys := t.TempDir()
	f.writeKey(t, keys)
	o := oneHost{f: f, base: f.stream(3), n: 40}
	rotated := o.edit(func(l []string) []string { return l[o.idx(l, 15):] })
	for _, c := range []struct {
		name      string
		lines     []string
		fromFirst bool
		want      want
		from      uint64
	}{
		{"rotated, without --from-first", rotated, false,
			want{records: 26, first: 15, last: 40, proven: 40, missing: []SeqRange{{1, 14}}, problems: []string{"missing 1"}}, 0},
		{"rotated, --from-first", rotated, true,
			want{complete: true, records: 26, first: 15, last: 40, proven: 40}, 15},
		{"rotated, --from-first, a record missing after", o.edit(func(l []string) []string {
			l = l[o.idx(l, 15):]
			return slices.Delete(l, o.idx(l, 22), o.idx(l, 22)+1)
		}), true, want{records: 25, first: 15, last: 40, proven: 40, missing: []SeqRange{{22, 22}}, problems: []string{"missing 22"}}, 15},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := verifyWith(t, New(Options{KeyDir: keys, FromFirst: c.fromFirst}), c.lines)
			c.want.check(t, rep.Hosts[0])
			if got := rep.Hosts[0].CheckedFrom; got != c.from {
				t.Errorf("checked from %d, want %d", got, c.from)
			}
		})
	}
}

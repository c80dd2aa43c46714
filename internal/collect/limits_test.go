package collect

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestCollectedManyHosts: a file of many host names with a record each,
// as anyone who can write to the collector may make, costs little memory
// per host: each host's window starts small.
func TestCollectedManyHosts(t *testing.T) {
	const hosts, budget = 20_000, 60 << 20
	f := makeTrail(t, "web-01", 1, 1)
	msg := f.recordMsg(1, "")
	head, tail, ok := strings.Cut(msg, " web-01 ")
	if !ok {
		t.Fatal(msg)
	}
	keys := t.TempDir() // no keys: each host a problem of its own as well
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	c := New(Options{KeyDir: keys})
	var line []byte
	for i := range hosts {
		line = fmt.Appendf(line[:0], "%s h-%05d %s", head, i, tail)
		c.Line(line)
	}
	took := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	runtime.KeepAlive(c)
	rep := c.Finish()
	if len(rep.Hosts) != hosts || rep.Hosts[0].Records != 1 {
		t.Fatalf("%d hosts, %d records in the first", len(rep.Hosts), rep.Hosts[0].Records)
	}
	t.Logf("%d one-record hosts: heap +%d KiB (%d B a host) in %v", hosts, grew>>10, grew/hosts, took)
	if grew > budget {
		t.Errorf("%d one-record hosts took %d MiB of heap, want under %d MiB", hosts, grew>>20, budget>>20)
	}
}

// TestCollectedHostLimits: a HOSTNAME longer than RFC 5424's 255 bytes
// makes the line unreadable, counted, never a host; hosts beyond the most
// a run takes are refused, counted, and make the run not complete.
func TestCollectedHostLimits(t *testing.T) {
	a, b, x := makeTrail(t, "web-01", 3, 3), makeTrail(t, "web-02", 3, 3), makeTrail(t, "web-03", 3, 3)
	keys := t.TempDir()
	for _, f := range []*trailFixture{a, b, x} {
		f.writeKey(t, keys)
	}
	named := func(n int) string {
		return strings.Replace(a.recordMsg(1, ""), " web-01 ", " "+strings.Repeat("h", n)+" ", 1)
	}
	for _, c := range []struct {
		name     string
		maxHosts int
		lines    []string
		hosts    []string
		long     uint64
		refused  *Refused
		text     string // in WriteText, and in Incomplete's last
	}{
		{"a host name of 255 bytes", 0, []string{named(255)}, []string{strings.Repeat("h", 255)}, 0, nil, ""},
		{"a host name of 256 bytes", 0, []string{named(256), named(1000)}, nil, 2, nil, ""},
		{"hosts up to the cap", 3, append(a.stream(0), append(b.stream(0), x.stream(0)...)...), []string{"web-01", "web-02", "web-03"}, 0, nil, ""},
		{"hosts beyond the cap", 2, append(a.stream(0), append(b.stream(0), append(x.stream(0), x.stream(0)...)...)...), []string{"web-01", "web-02"}, 0,
			&Refused{Lines: 8, Hosts: 1, MaxHosts: 2}, "8 lines of 1 more host names refused, beyond the 2 hosts a run takes"},
		{"more host names refused than counted", 1, append(a.stream(0), named(5), named(6), named(7)), []string{"web-01"}, 0,
			&Refused{Lines: 3, Hosts: 1, MaxHosts: 1}, "3 lines of at least 1 more host names refused"},
	} {
		t.Run(c.name, func(t *testing.T) {
			col := New(Options{KeyDir: keys})
			if c.maxHosts > 0 {
				col.maxHosts = c.maxHosts
			}
			rep := verifyWith(t, col, c.lines)
			var hosts []string
			allComplete := len(rep.Hosts) > 0
			for _, h := range rep.Hosts {
				hosts = append(hosts, h.Host)
				allComplete = allComplete && h.Complete
			}
			if fmt.Sprint(hosts) != fmt.Sprint(c.hosts) || rep.LongHostName != c.long || fmt.Sprint(rep.Refused) != fmt.Sprint(c.refused) {
				t.Fatalf("hosts %q, %d long host names, refused %v; want %q, %d, %v", hosts, rep.LongHostName, rep.Refused, c.hosts, c.long, c.refused)
			}
			var out strings.Builder
			rep.WriteText(&out)
			bad := rep.Incomplete()
			switch {
			case c.refused == nil:
				if c.long > 0 && !strings.Contains(out.String(), fmt.Sprintf("%d with a host name longer than 255 bytes", c.long)) {
					t.Errorf("the text does not count the long host names:\n%s", out.String())
				}
			case rep.Complete || !allComplete || len(bad) != 1 || !strings.Contains(bad[0], c.text) || !strings.Contains(out.String(), "NOT complete: "+c.text):
				t.Errorf("refused lines: complete %v (hosts %v), incomplete %q, text:\n%s", rep.Complete, allComplete, bad, out.String())
			}
		})
	}
}

// TestRingGrows: a host's window, started small and doubled, holds every
// record a ring of Window places would hold (a checkpoint of it must still
// match), never one that was not put, and no more than Window places.
func TestRingGrows(t *testing.T) {
	seqs := func(from, to, step uint64) []uint64 {
		var s []uint64
		for q := from; q <= to; q += step {
			s = append(s, q)
		}
		return s
	}
	r := rand.New(rand.NewPCG(1, 2))
	random := make([]uint64, 3000)
	for i := range random {
		random[i] = 1 + r.Uint64N(5000)
	}
	descending := seqs(1, 50, 1)
	for i, j := 0, len(descending)-1; i < j; i, j = i+1, j-1 {
		descending[i], descending[j] = descending[j], descending[i]
	}
	patterns := map[string][]uint64{
		"one record":                    {1},
		"one record, late in the chain": {1 << 40},
		"contiguous":                    seqs(1, 3000, 1),
		"every 7th":                     seqs(7, 20000, 7),
		"every 1024th":                  seqs(1024, 1024*40, 1024),
		"descending":                    descending,
		"random":                        random,
		"a gap, then on":                append(seqs(1, 10, 1), seqs(100000, 100100, 1)...),
	}
	hashOf := func(q uint64) (h [32]byte) { h[0], h[1], h[31] = byte(q), byte(q>>8), 1; return h }
	for _, window := range []int{1, 3, 8, 1000, 1024} {
		for name, put := range patterns {
			t.Run(fmt.Sprintf("%s, window %d", name, window), func(t *testing.T) {
				h := &host{c: New(Options{Window: window})}
				full := make(map[uint64]uint64) // seq % window -> seq: a ring of Window places
				for _, q := range put {
					h.put(q, hashOf(q), true)
					if full[q%uint64(window)] < q {
						full[q%uint64(window)] = q
					}
				}
				if len(h.ring) > window || len(put) == 1 && len(h.ring) > minRing {
					t.Errorf("a ring of %d places", len(h.ring))
				}
				for _, q := range full {
					if got, ok := h.get(q); !ok || got != hashOf(q) {
						t.Errorf("seq %d, in a ring of Window places, is not held (%v)", q, ok)
					}
				}
				was := map[uint64]bool{}
				for _, q := range put {
					was[q] = true
				}
				for _, e := range h.ring {
					if e.seq != 0 && (!was[e.seq] || e.hash != hashOf(e.seq)) {
						t.Errorf("seq %d held, never put so", e.seq)
					}
				}
			})
		}
	}
}

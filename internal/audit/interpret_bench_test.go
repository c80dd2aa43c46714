package audit

import (
	"os"
	"strings"
	"testing"

	"github.com/gotrail/gotrail/internal/event"
)

// typicalEvents are the shared corpus's events without long arguments
// (lines over 2000 bytes), assembled once.
func typicalEvents(b *testing.B) ([]*Event, int64) {
	data, err := os.ReadFile("testdata/host-activity.log")
	if err != nil {
		b.Fatal(err)
	}
	var evs []*Event
	var n int64
	a := NewAssembler()
	emit := func(ev *Event) {
		for _, r := range ev.Records {
			if len(r.Body) > 2000 {
				return
			}
		}
		for _, r := range ev.Records {
			n += int64(len(r.Body))
		}
		evs = append(evs, ev)
	}
	for l := range strings.SplitSeq(string(data), "\n") {
		if r, err := ParseRecord(l); err == nil {
			a.Add(r, emit)
		}
	}
	a.Flush(emit)
	return evs, n
}

// BenchmarkInterpretJSON is one worker's share of `gotrail events --all
// --format json`: interpret each event, records included, and render it.
func BenchmarkInterpretJSON(b *testing.B) { benchInterpret(b, true) }

// BenchmarkInterpretNoRecords is the same without auditd.records, as the
// other formats and the Go-only events have it.
func BenchmarkInterpretNoRecords(b *testing.B) { benchInterpret(b, false) }

func benchInterpret(b *testing.B, records bool) {
	evs, n := typicalEvents(b)
	in := NewInterpreter(nil, "bench", records)
	b.SetBytes(n)
	b.ReportAllocs()
	var out []byte
	for b.Loop() {
		for _, ev := range evs {
			out = event.AppendJSON(out[:0], in.InterpretTemp(ev))
		}
	}
}

package pipeline

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"

	"github.com/gotrail/gotrail/internal/audit"
	"github.com/gotrail/gotrail/internal/classify"
	"github.com/gotrail/gotrail/internal/enrich"
	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/source"
)

// benchInput is the shared corpus repeated to 20 MB, in memory.
func benchInput(b *testing.B) ([]byte, []source.Input) {
	seed, err := os.ReadFile(fixture)
	if err != nil {
		b.Fatalf("read corpus: %v", err)
	}
	return repeated(seed)
}

// typicalInput is the shared corpus without its events of long arguments
// (EXECVE records split into aN[i] parts), as most hosts log, repeated to
// 20 MB.
func typicalInput(b *testing.B) ([]byte, []source.Input) {
	seed, err := os.ReadFile(fixture)
	if err != nil {
		b.Fatalf("read corpus: %v", err)
	}
	long := map[string]bool{}
	lines := bytes.SplitAfter(seed, []byte("\n"))
	id := func(l []byte) string {
		i, j := bytes.Index(l, []byte("msg=audit(")), bytes.IndexByte(l, ')')
		if i < 0 || j < i {
			return ""
		}
		return string(l[i:j])
	}
	for _, l := range lines {
		if len(l) > 2000 {
			long[id(l)] = true
		}
	}
	var kept []byte
	for _, l := range lines {
		if !long[id(l)] {
			kept = append(kept, l...)
		}
	}
	return repeated(kept)
}

func repeated(seed []byte) ([]byte, []source.Input) {
	data := bytes.Repeat(seed, 20<<20/len(seed))
	return data, []source.Input{{Name: "corpus", Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}}
}

// BenchmarkEventsAllJSON is `gotrail events --all --format json` on the
// shared corpus, repeated to 20 MB, in memory.
func BenchmarkEventsAllJSON(b *testing.B) { benchEvents(b, benchInput, true, &event.Filter{}) }

// BenchmarkEventsAllJSONTypical is BenchmarkEventsAllJSON on the corpus
// without long arguments: what most hosts log.
func BenchmarkEventsAllJSONTypical(b *testing.B) { benchEvents(b, typicalInput, true, &event.Filter{}) }

// benchEvents runs gotrail events, rendering JSON (with auditd.records
// when records), on the input in memory.
func benchEvents(b *testing.B, input func(*testing.B) ([]byte, []source.Input), records bool, filter *event.Filter) {
	data, in := input(b)
	proc := Render(enrich.NewNames("/"), "bench", records, &classify.Classifier{}, filter, event.AppendJSON)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(context.Background(), in, proc, io.Discard, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Process(ev *audit.Event, out []byte) []byte { return out }

// BenchmarkReadAssemble is the part that runs on one goroutine: reading,
// splitting, header parsing and assembly.
func BenchmarkReadAssemble(b *testing.B) {
	data, in := benchInput(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(context.Background(), in, func() Processor { return discard{} }, io.Discard, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEventsGoOnlyTypical is `gotrail events --format json` (the Go
// environment's events only) on the corpus without long arguments.
func BenchmarkEventsGoOnlyTypical(b *testing.B) {
	benchEvents(b, typicalInput, false, &event.Filter{GoOnly: true})
}

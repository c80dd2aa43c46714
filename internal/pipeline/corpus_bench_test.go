package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"

	"github.com/gotrail/gotrail/internal/classify"
	"github.com/gotrail/gotrail/internal/enrich"
	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/sink"
	"github.com/gotrail/gotrail/internal/source"
)

// BenchmarkEventsCorpus is `gotrail events` on the audit log named by
// GOTRAIL_BENCH_CORPUS (skipped without it), cut to GOTRAIL_BENCH_MB MiB
// (default 10), in memory. GOTRAIL_BENCH_FORMAT picks what is rendered:
// json (--all --format json, the default), text (--all --format text) or
// goonly (--format json); GOTRAIL_BENCH_WORKERS the workers (default: one
// per CPU). bench/instructions.sh runs it under callgrind, whose counts do
// not depend on what else the machine does.
func BenchmarkEventsCorpus(b *testing.B) {
	name := os.Getenv("GOTRAIL_BENCH_CORPUS")
	if name == "" {
		b.Skip("GOTRAIL_BENCH_CORPUS names no audit log")
	}
	mb, workers := 10, 0
	var err error
	if s := os.Getenv("GOTRAIL_BENCH_MB"); s != "" {
		if mb, err = strconv.Atoi(s); err != nil || mb <= 0 {
			b.Fatalf("GOTRAIL_BENCH_MB=%q: want a number of MiB", s)
		}
	}
	if s := os.Getenv("GOTRAIL_BENCH_WORKERS"); s != "" {
		if workers, err = strconv.Atoi(s); err != nil || workers <= 0 {
			b.Fatalf("GOTRAIL_BENCH_WORKERS=%q: want a number", s)
		}
	}
	// only what is run is read: a whole corpus read and cut was a 100 MB
	// allocation, whose zeroing (or not) moved callgrind's counts by 4%
	data, err := readPrefix(name, mb<<20)
	if err != nil {
		b.Fatalf("read corpus: %v", err)
	}
	names, cl := enrich.NewNames("/"), &classify.Classifier{}
	var proc func() Processor
	switch f := os.Getenv("GOTRAIL_BENCH_FORMAT"); f {
	case "", "json":
		proc = Render(names, "bench", true, cl, &event.Filter{}, event.AppendJSON)
	case "text":
		proc = Render(names, "bench", false, cl, &event.Filter{}, sink.AppendText)
	case "goonly":
		proc = Render(names, "bench", false, cl, &event.Filter{GoOnly: true}, event.AppendJSON)
	default:
		b.Fatalf("GOTRAIL_BENCH_FORMAT=%q: want json, text or goonly", f)
	}
	in := []source.Input{bytesInput(name, data)}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Run(context.Background(), in, proc, io.Discard, Options{Workers: workers}); err != nil {
			b.Fatal(err)
		}
	}
}

// readPrefix reads the first n bytes of the file name, or all of a shorter
// one.
func readPrefix(name string, n int) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(n)))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return data, nil
}

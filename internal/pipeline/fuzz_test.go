package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/gotrail/gotrail/internal/classify"
	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/source"
)

// FuzzPipeline feeds whole inputs (several lines, truncated, binary,
// interleaved) through reading, assembly, interpretation and JSON rendering:
// no panic, every output line is valid JSON, and every record that was read
// is accounted for: kept in an event, dropped and counted, or an EOE, and
// every event is a line or folded into one.
func FuzzPipeline(f *testing.F) {
	data, err := os.ReadFile(fixture)
	if err != nil {
		f.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	for i := 0; i+12 < len(lines); i += 331 {
		f.Add([]byte(strings.Join(lines[i:i+12], "")))
	}
	f.Add([]byte("type=SYSCALL msg=audit(1.1:1): a=1\r\ntype=EOE msg=audit(1.1:1): \ngarbage\x00\xff\n"))
	// audit configuration changes, which the coalescer folds by process
	if cfg, err := os.ReadFile("../event/testdata/audit-config.log"); err == nil {
		f.Add(cfg)
	}
	// and auditd's own note written in the middle of such a load
	if cfg, err := os.ReadFile("../audit/testdata/reconfigure-in-load.log"); err == nil {
		f.Add(cfg)
	}
	f.Add([]byte("type=EXECVE msg=audit(1.1:1): argc=3 a0=\"x\" a2_len=4 a2[1]=4142 a2[0]=\"CD\" a9999999=\"y\""))
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		proc := Render(nil, "fuzz", true, &classify.Classifier{}, &event.Filter{}, event.AppendJSON)
		st, err := Run(context.Background(), []source.Input{bytesInput("fuzz", in)}, proc, &out, Options{Workers: 1, ChunkSize: 4096})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		n := 0
		for line := range strings.SplitSeq(strings.TrimSuffix(out.String(), "\n"), "\n") {
			if line == "" {
				continue
			}
			n++
			if !json.Valid([]byte(line)) {
				t.Fatalf("invalid JSON line: %q", line)
			}
		}
		if uint64(n)+st.Folded != st.Assembler.Events {
			t.Fatalf("%d lines and %d folded into them for %d events", n, st.Folded, st.Assembler.Events)
		}
	})
}

package pipeline

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/gotrail/gotrail/internal/classify"
	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/source"
)

// runSketch runs the Go-only events of in through the pipeline, with the
// kind decided on a sketch first or on every whole event.
func runSketch(t *testing.T, in []byte, sketch bool) string {
	t.Helper()
	cl := &classify.Classifier{GOROOTs: []string{"/opt/custom-go"}}
	filter := &event.Filter{GoOnly: true}
	render := Render(nil, "fuzz", false, cl, filter, event.AppendJSON)
	proc := func() Processor {
		r := render().(*renderer)
		r.sketch = sketch
		return r
	}
	var out bytes.Buffer
	if _, err := Run(context.Background(), []source.Input{bytesInput("fuzz", in)}, proc, &out, Options{Workers: 1, ChunkSize: 4096}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return out.String()
}

// FuzzSketchDiff: deciding the kind on a sketch first drops exactly the
// events the whole interpretation would have classified audit.other: the
// Go-only output is the same byte for byte.
func FuzzSketchDiff(f *testing.F) {
	for _, name := range []string{fixture, "../audit/testdata/script-exec.log", "../event/testdata/audit-config.log"} {
		data, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		lines := strings.SplitAfter(string(data), "\n")
		for i := 0; i < len(lines); i += 40 {
			f.Add([]byte(strings.Join(lines[i:min(len(lines), i+40)], "")))
		}
	}
	f.Add([]byte(`type=SYSCALL msg=audit(1.1:1): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 pid=3 exe="/usr/bin/dash" key="gotrail-exec"
type=EXECVE msg=audit(1.1:1): argc=3 a0="/bin/sh" a1="-e" a2="/usr/local/go/bin/go"
type=PATH msg=audit(1.1:1): item=0 name="/usr/local/go/bin/go" nametype=NORMAL
type=PATH msg=audit(1.1:1): item=1 name="/bin/sh" nametype=NORMAL
type=PROCTITLE msg=audit(1.1:1): proctitle=2F62696E2F7368
type=SYSCALL msg=audit(1.1:2): arch=c000003e syscall=59 success=yes exit=0 pid=3 exe="/usr/local/go/bin/go" key=(null)
type=EXECVE msg=audit(1.1:2): argc=2 a0="go" a1="** telemetry **"
`))
	f.Fuzz(func(t *testing.T, in []byte) {
		if got, want := runSketch(t, in, true), runSketch(t, in, false); got != want {
			t.Fatalf("with the sketch:\n%s\nwithout:\n%s", got, want)
		}
	})
}

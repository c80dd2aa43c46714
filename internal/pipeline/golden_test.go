package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gotrail/gotrail/internal/classify"
	"github.com/gotrail/gotrail/internal/enrich"
	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/sink"
	"github.com/gotrail/gotrail/internal/source"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const fixture = "../audit/testdata/host-activity.log"

func bytesInput(name string, data []byte) source.Input {
	return source.Input{Name: name, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
}

func run(t *testing.T, data []byte, all bool, filter *event.Filter, render func([]byte, *event.Event) []byte, opts Options) (string, Stats) {
	t.Helper()
	var out bytes.Buffer
	names := enrich.NewNames("testdata/root")
	st, err := Run(context.Background(), []source.Input{bytesInput("in", data)},
		Render(names, "vm", all, &classify.Classifier{}, filter, render), &out, opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return out.String(), st
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to make it): %v", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("%s differs at line %d:\n got %s\nwant %s", name, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s: got %d lines, want %d", name, len(gl), len(wl))
	}
}

// TestGolden runs the real corpus through the whole pipeline in each format.
func TestGolden(t *testing.T) {
	data, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	goOnly := &event.Filter{GoOnly: true}
	head := data[:bytes.Index(data, []byte("msg=audit(1795638102.286:9463)"))]
	head = head[:bytes.LastIndexByte(head, '\n')+1]
	var longArgs []byte // the events with a 40000-byte argument split into parts
	for _, l := range bytes.SplitAfter(data, []byte("\n")) {
		if bytes.Contains(l, []byte(":9463)")) || bytes.Contains(l, []byte(":9464)")) {
			longArgs = append(longArgs, l...)
		}
	}
	tests := []struct {
		golden string
		data   []byte
		all    bool
		filter *event.Filter
		render func([]byte, *event.Event) []byte
	}{
		{"corpus.json", data, false, goOnly, event.AppendJSON},
		{"corpus.txt", data, false, goOnly, sink.AppendText},
		{"corpus.rfc5424", data, false, goOnly, sink.RFC5424{}.Append},
		{"corpus-head-all.json", head, true, &event.Filter{}, event.AppendJSON},
		{"corpus-longargs.txt", longArgs, true, &event.Filter{}, sink.AppendText},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			got, st := run(t, tt.data, tt.all, tt.filter, tt.render, Options{})
			if st.Malformed != 0 {
				t.Errorf("%d malformed lines in a real log: %v", st.Malformed, st.BadLines)
			}
			golden(t, tt.golden, got)
		})
	}
}

// TestWorkersKeepOrder: the output is the same, in the same order, whatever
// the number of workers and the batch size.
func TestWorkersKeepOrder(t *testing.T) {
	data, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := run(t, data, true, &event.Filter{}, event.AppendJSON, Options{Workers: 1, BatchSize: 100000})
	for _, o := range []Options{{Workers: 4, BatchSize: 1}, {Workers: 3, BatchSize: 7, ChunkSize: 16384}, {Workers: 2, ChunkSize: 12000}} {
		got, _ := run(t, data, true, &event.Filter{}, event.AppendJSON, o)
		if got != want {
			t.Errorf("options %+v changed the output", o)
		}
	}
	// with node= prefixes, events straddling recycled chunks keep their node
	var noded []byte
	for _, l := range bytes.SplitAfter(data, []byte("\n")) {
		if len(l) > 0 {
			noded = append(append(noded, "node=web-01 "...), l...)
		}
	}
	want, _ = run(t, noded, true, &event.Filter{}, event.AppendJSON, Options{Workers: 1, BatchSize: 100000})
	for _, o := range []Options{{Workers: 2, BatchSize: 3, ChunkSize: 9000}, {Workers: 3, ChunkSize: 12000}} {
		got, _ := run(t, noded, true, &event.Filter{}, event.AppendJSON, o)
		if got != want {
			t.Errorf("node= log, options %+v changed the output", o)
		}
	}
	if strings.Count(want, `"host":{"name":"web-01"}`) != strings.Count(want, "\n") {
		t.Errorf("not every event of the node= log is on host web-01")
	}
}

// TestReadmeEventJSON: the event JSON the README shows is what the code
// prints for that event of the corpus.
func TestReadmeEventJSON(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "## Event JSON")
	_, block, ok2 := strings.Cut(rest, "```json\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README has no json block under ## Event JSON")
	}
	var shown bytes.Buffer
	if err := json.Compact(&shown, []byte(block)); err != nil {
		t.Fatalf("README's event JSON does not parse: %v", err)
	}
	var id struct {
		Event struct{ ID string } `json:"event"`
	}
	json.Unmarshal(shown.Bytes(), &id)
	corpus, err := os.ReadFile("testdata/corpus.json")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(corpus), "\n") {
		if strings.Contains(line, `"id":"`+id.Event.ID+`"`) {
			if line != shown.String() {
				t.Errorf("README's event JSON differs from what gotrail prints:\nREADME %s\n  code %s", shown.String(), line)
			}
			return
		}
	}
	t.Errorf("README shows event %q, which is not in the corpus output", id.Event.ID)
}

// TestSerialGaps: events missing from the input are counted by their
// serials and named, the first KeepGaps of them; a log filtered with a hole
// before every event stays within the count.
func TestSerialGaps(t *testing.T) {
	data, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	if _, st := run(t, data, true, &event.Filter{}, event.AppendJSON, Options{}); st.Missing != 0 {
		t.Fatalf("the whole corpus has %d events missing: %+v", st.Missing, st.Gaps)
	}
	var cut []byte // events 9210 and 9211 removed
	for _, l := range bytes.SplitAfter(data, []byte("\n")) {
		if !bytes.Contains(l, []byte(":9210)")) && !bytes.Contains(l, []byte(":9211)")) {
			cut = append(cut, l...)
		}
	}
	_, st := run(t, cut, true, &event.Filter{}, event.AppendJSON, Options{})
	if st.Missing != 2 || len(st.Gaps) != 1 || st.Gaps[0].From != 9210 || st.Gaps[0].To != 9211 {
		t.Errorf("two events cut: missing %d, gaps %+v", st.Missing, st.Gaps)
	}
	var odd []byte // every other event, as a filter leaves a log
	for _, l := range bytes.SplitAfter(data, []byte("\n")) {
		i := bytes.Index(l, []byte("msg=audit("))
		j := bytes.IndexByte(l, ')')
		if i < 0 || j < 0 {
			continue
		}
		if n := l[j-1]; (n-'0')%2 == 0 {
			odd = append(odd, l...)
		}
	}
	_, st = run(t, odd, true, &event.Filter{}, event.AppendJSON, Options{})
	if st.Missing < 100 || len(st.Gaps) != KeepGaps {
		t.Errorf("a filtered log: missing %d, %d gaps kept", st.Missing, len(st.Gaps))
	}
}

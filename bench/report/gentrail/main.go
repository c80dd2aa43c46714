// Command gentrail writes a trail of N events with the real trail.Writer,
// for timing gotrail report (bench/report/run.sh). The events are those of
// the recorded corpus (internal/audit/testdata/host-activity.log) read
// through the same pipeline as gotrail events, repeated with times spread
// over -days days and a policy verdict on each change, and a signed
// checkpoint every 10,000 records, as gotrail watch would leave it.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"github.com/gotrail/gotrail/internal/classify"
	"github.com/gotrail/gotrail/internal/enrich"
	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/pipeline"
	"github.com/gotrail/gotrail/internal/source"
	"github.com/gotrail/gotrail/internal/trail"
)

func main() {
	corpus := flag.String("corpus", "internal/audit/testdata/host-activity.log", "recorded audit log the events come from")
	state := flag.String("state", "", "state directory to write (required; its trail must not exist)")
	n := flag.Int("n", 1000000, "events to write")
	days := flag.Int("days", 90, "days the events are spread over")
	execShare := flag.Float64("exec", 0.9, "share of go.exec events (the rest are changes); 0 for changes only")
	flag.Parse()
	if *state == "" {
		fmt.Fprintln(os.Stderr, "gentrail: -state DIR is required")
		os.Exit(2)
	}
	if err := run(*corpus, *state, *n, *days, *execShare); err != nil {
		fmt.Fprintln(os.Stderr, "gentrail:", err)
		os.Exit(1)
	}
}

// corpusEvents are the recorded log's events, split into runs and changes.
func corpusEvents(path string) (execs, changes []*event.Event, err error) {
	ins, err := source.Expand([]string{path}, nil)
	if err != nil {
		return nil, nil, err
	}
	var out bytes.Buffer
	render := pipeline.Render(enrich.NewNames("/"), "web-01", false, &classify.Classifier{}, &event.Filter{GoOnly: true}, event.AppendJSON)
	if _, err := pipeline.Run(context.Background(), ins, render, &out, pipeline.Options{}); err != nil {
		return nil, nil, err
	}
	for _, line := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		e := new(event.Event)
		if err := event.Decode(line, e); err != nil {
			return nil, nil, err
		}
		if e.Gotrail.Kind == event.KindExec {
			execs = append(execs, e)
		} else {
			changes = append(changes, e)
		}
	}
	if len(execs) == 0 || len(changes) == 0 {
		return nil, nil, fmt.Errorf("%s: no go.exec or no change events", path)
	}
	return execs, changes, nil
}

func run(corpus, state string, n, days int, execShare float64) error {
	execs, changes, err := corpusEvents(corpus)
	if err != nil {
		return err
	}
	start := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	step := time.Duration(days) * 24 * time.Hour / time.Duration(n)
	now := start
	w, err := trail.Open(state, trail.Options{Now: func() time.Time { return now }})
	if err != nil {
		return err
	}
	signer, _, _, err := trail.Key(state, "web-01")
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(1, 2))
	yes, no := true, false
	for i := range n {
		now = start.Add(time.Duration(i) * step)
		var src *event.Event
		if r.Float64() < execShare {
			src = execs[i%len(execs)]
		} else {
			src = changes[i%len(changes)]
		}
		e := event.Clone(src)
		e.Time = event.Time{Time: now}
		e.Event.ID = fmt.Sprintf("%d.%03d:%d", now.Unix(), now.Nanosecond()/1e6, 1000+i)
		if e.Gotrail.Kind != event.KindExec {
			e.Gotrail.Authorized, e.Gotrail.Severity, e.Gotrail.Policy = &yes, "info", "profile.d by goadmins"
			if i%997 == 0 {
				e.Gotrail.Authorized, e.Gotrail.Severity, e.Gotrail.Policy = &no, "high", ""
			}
		}
		event.Categorize(e)
		if err := w.Append(e); err != nil {
			return err
		}
		if i%10000 == 9999 {
			if _, err := w.Checkpoint(signer, "web-01"); err != nil {
				return err
			}
		}
	}
	if _, err := w.Checkpoint(signer, "web-01"); err != nil {
		return err
	}
	slog.Info("trail written", "state", state, "events", n, "head", w.Head().Seq)
	return w.Close()
}

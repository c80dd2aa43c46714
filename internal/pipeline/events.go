package pipeline

import (
	"github.com/gotrail/gotrail/internal/audit"
	"github.com/gotrail/gotrail/internal/classify"
	"github.com/gotrail/gotrail/internal/event"
)

// Render returns a Processor for `gotrail events`: interpret, classify,
// filter, and render with render (which appends one line without newline).
// Events that the filter drops produce no output.
func Render(names audit.Names, host string, records bool, cl *classify.Classifier, filter *event.Filter, render func([]byte, *event.Event) []byte) func() Processor {
	return func() Processor {
		return &renderer{in: audit.NewInterpreter(names, host, records), cl: cl, filter: filter, render: render}
	}
}

type renderer struct {
	in     *audit.Interpreter
	cl     *classify.Classifier
	filter *event.Filter
	render func([]byte, *event.Event) []byte
}

func (r *renderer) Process(ev *audit.Event, out []byte) []byte {
	e := r.in.InterpretTemp(ev)
	e.Gotrail.Kind = r.cl.Kind(e)
	if !r.filter.Match(e) {
		return out
	}
	event.Categorize(e)
	out = r.render(out, e)
	return append(out, '\n')
}

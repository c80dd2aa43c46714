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
		return &renderer{in: audit.NewInterpreter(names, host, records), cl: cl, filter: filter, render: render, sketch: true}
	}
}

type renderer struct {
	in     *audit.Interpreter
	cl     *classify.Classifier
	filter *event.Filter
	render func([]byte, *event.Event) []byte
	// sketch: when only the Go environment's kinds pass, the kind is
	// decided on a sketch first (most events are of none of them)
	sketch bool
}

func (r *renderer) Process(ev *audit.Event, out []byte) []byte {
	if r.sketch && r.filter.GoOnly && surelyOther(r.cl, r.in.Sketch(ev)) {
		return out
	}
	e := r.in.InterpretTemp(ev)
	e.Gotrail.Kind = r.cl.Kind(e)
	if !r.filter.Match(e) {
		return out
	}
	event.Categorize(e)
	out = r.render(out, e)
	return append(out, '\n')
}

// surelyOther reports whether the event sketched by s (audit.Sketch) is of
// kind audit.other. The whole event may differ from its sketch in two ways
// the kind depends on: a script's exec names the script (s.File.Path) as its
// executable, so both are tried; and go's telemetry child, known by its
// arguments, is other although its sketch is go.exec, which only makes the
// answer "not sure".
func surelyOther(cl *classify.Classifier, s *event.Event) bool {
	if cl.Kind(s) != event.KindOther {
		return false
	}
	if s.Event.Action == "exec" && s.File != nil {
		s.Process.Executable = s.File.Path
		return cl.Kind(s) == event.KindOther
	}
	return true
}

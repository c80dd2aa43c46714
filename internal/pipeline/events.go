package pipeline

import (
	"github.com/gotrail/gotrail/internal/audit"
	"github.com/gotrail/gotrail/internal/chain"
	"github.com/gotrail/gotrail/internal/classify"
	"github.com/gotrail/gotrail/internal/event"
)

// Render returns a Processor for `gotrail events`: the chain of stages
// (interpret, classify, filter, categorize), then render (which appends
// one line without newline). Events that the filter drops produce no
// output.
func Render(names audit.Names, host string, records bool, cl *classify.Classifier, filter *event.Filter, render func([]byte, *event.Event) []byte) func() Processor {
	return func() Processor {
		classifier := func() *classify.Classifier { return cl }
		c := chain.New(audit.NewInterpreter(names, host, records),
			chain.Classify(classifier, true), chain.Filter(filter), chain.Categorize)
		return &renderer{chain: c, cl: cl, render: render, sketch: filter.GoOnly}
	}
}

type renderer struct {
	chain  *chain.Chain
	cl     *classify.Classifier
	render func([]byte, *event.Event) []byte
	// sketch: when only the Go environment's kinds pass, the kind is
	// decided on a sketch first (most events are of none of them)
	sketch bool
}

func (r *renderer) Process(ev *audit.Event, out []byte) []byte {
	if r.sketch && surelyOther(r.cl, r.chain.Interpreter().Sketch(ev)) {
		return out
	}
	e := r.chain.Run(ev)
	if e == nil {
		return out
	}
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

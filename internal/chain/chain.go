// Package chain is the one chain of stages an assembled audit event goes
// through on its way to the sinks, as gotrail events and gotrail watch both
// run it:
//
//	source -> parse -> assemble -> [interpret -> classify -> enrich -> policy -> categorize] -> trail, sinks
//
// The sources (files, the followed log, auditd's plugin feed, netlink) and
// the ends (standard output; the trail and its sinks) are each command's
// own; what happens to an event between them is here, stage by stage. A
// stage works on the event in place and may drop it.
package chain

import (
	"github.com/gotrail/gotrail/internal/audit"
	"github.com/gotrail/gotrail/internal/classify"
	"github.com/gotrail/gotrail/internal/event"
)

// Stage works on e, interpreted from raw; false drops the event.
type Stage func(raw *audit.Event, e *event.Event) bool

// Chain interprets assembled events and runs them through its stages. Not
// safe for concurrent use: a worker has its own (the interpreter's scratch
// is reused).
type Chain struct {
	in     *audit.Interpreter
	stages []Stage
}

// New is the chain of in's interpretation and then stages, in order.
func New(in *audit.Interpreter, stages ...Stage) *Chain {
	return &Chain{in: in, stages: stages}
}

// Run returns raw as an event through every stage, or nil when a stage
// dropped it. The event is valid until the next Run.
func (c *Chain) Run(raw *audit.Event) *event.Event {
	e := c.in.InterpretTemp(raw)
	for _, s := range c.stages {
		if !s(raw, e) {
			return nil
		}
	}
	return e
}

// Interpreter is the chain's first stage, for a look at an event before
// it is interpreted whole (audit.Interpreter.Sketch).
func (c *Chain) Interpreter() *audit.Interpreter { return c.in }

// Classify names the event's kind (gotrail.kind) with the classifier cl
// returns at the time (the daemon's changes on SIGHUP); events of no Go
// environment kind are dropped unless keepOther (gotrail events --all).
func Classify(cl func() *classify.Classifier, keepOther bool) Stage {
	return func(_ *audit.Event, e *event.Event) bool {
		e.Gotrail.Kind = cl().Kind(e)
		return keepOther || e.Gotrail.Kind != event.KindOther
	}
}

// Filter drops what f does not match: the filters of gotrail events.
func Filter(f *event.Filter) Stage {
	return func(_ *audit.Event, e *event.Event) bool { return f.Match(e) }
}

// Policy marks the event authorized or not, and its severity, by the
// policy p returns at the time.
func Policy(p func() *classify.Policy) Stage {
	return func(_ *audit.Event, e *event.Event) bool {
		p().Apply(e)
		return true
	}
}

// Categorize fills the ECS categorization of the event as it now is: the
// last stage.
func Categorize(_ *audit.Event, e *event.Event) bool {
	event.Categorize(e)
	return true
}

package audit

import "github.com/gotrail/gotrail/internal/event"

// begin readies the interpreter's scratch space for the next event and
// returns the facts to gather it into.
func (in *Interpreter) begin() facts {
	// the previous event's strings pointed into the arena and the scratch
	// buffer; they are reused (that event is rendered by now) unless one
	// huge argv grew them
	if cap(in.arena) > 1<<20 {
		in.arena = nil
	}
	in.arena = in.arena[:0]
	if cap(in.scratch) > 1<<16 {
		in.scratch = nil
	}
	in.scratch = in.scratch[:0]
	in.title = decodedTitle{} // it was in the arena
	in.ev = event.Event{}
	return facts{paths: in.paths[:0], args: in.args[:0], chunks: in.chunks[:0]}
}

// Sketch interprets only what an event's kind (internal/classify) depends
// on, for a reader that drops most events by kind: it skips the EXECVE and
// PROCTITLE records, the bulk of an exec, and builds no message. Next to
// InterpretTemp's event, the sketch has the same message type, tags, action,
// file and previous path; Process.Executable is the exe of the syscall and
// Process.Args are missing, so for a script's exec (whose Executable
// InterpretTemp makes the script's path, File.Path) and the telemetry child
// of go (known by its Args) the kind is to be decided on the whole event.
// The sketch is valid until the next call, like InterpretTemp's result.
func (in *Interpreter) Sketch(ev *Event) *event.Event {
	f := in.begin()
	e := &in.ev
	for i := range ev.Records {
		r := &ev.Records[i]
		if i == 0 {
			f.firstType = r.Type
		}
		if r.Type == "EXECVE" || r.Type == "PROCTITLE" || !gathers(r.Type) {
			continue
		}
		// auditd's names are all the ENRICHED part gives, and no kind
		// depends on a name; of a syscall and its files, only the fields
		// the action, the files and the program come from
		if w := sketchWants(r.Type); w != nil {
			in.fields = r.kernelFieldsOf(in.fields[:0], w)
		} else {
			in.fields = r.KernelFields(in.fields[:0])
		}
		in.gather(&f, r, in.fields)
	}
	e.Auditd.MessageType = in.messageType(ev)
	// the steps of build that lead to the action and the file, in its order
	buildSyscall(e, &f)
	absolutePaths(e, &f)
	e.Tags = in.splitKeys(f.key)
	buildOutcome(e, &f)
	buildAction(e, &f)
	if p, prev, ok := file(e.Event.Action, f.paths); ok {
		in.file = event.File{Path: p}
		e.File, e.Gotrail.PreviousPath = &in.file, prev
	}
	e.Process.Executable = f.exe
	in.paths, in.args, in.chunks = f.paths[:0], f.args[:0], f.chunks[:0]
	return e
}

// The fields Sketch takes of the records most events have: the syscall
// and its arguments that the action and the resolution of relative names
// read (buildAction, absolutePaths), the program (exe), the rule keys
// (tags), and each file's name and type (file). Outcome, exit, ids, modes
// and auditd's names go into no kind.
var (
	sketchSyscall = newKeyFilter("arch", "syscall", "a0", "a1", "a2", "exe", "key")
	sketchPath    = newKeyFilter("name", "nametype")
)

func sketchWants(typ string) *keyFilter {
	switch typ {
	case "SYSCALL":
		return sketchSyscall
	case "PATH":
		return sketchPath
	}
	return nil
}

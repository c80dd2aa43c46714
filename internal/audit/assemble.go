package audit

import (
	"strconv"
	"strings"
)

// Event is the records that share one msg=audit(TIME:SERIAL) header.
type Event struct {
	Node    string
	Time    Stamp
	Serial  uint64
	Records []Record
	// Truncated is set when records of this event were dropped because the
	// event grew past the assembler's per-event limit.
	Truncated bool
	// Evicted is set when the event was let go before it was seen complete,
	// because too many events were waiting.
	Evicted bool

	// Members are the events a Coalescer folded into this one, the first
	// (whose Time and Serial the event keeps) included; nil for an event of
	// its own.
	Members []Member

	// Owner is the caller's: a reader that lends its read buffer to the
	// records (see Record.Own) notes here what to give back once the event
	// is processed.
	Owner any

	done bool // emitted; still in the assembler's queue until it reaches the front
}

// ID is auditd's event id, SEC.MILLI:SERIAL, as ausearch -a and DESIGN.md's
// event.id use it.
func (e *Event) ID() string {
	b := make([]byte, 0, 32)
	b = AppendID(b, e.Time, e.Serial)
	return string(b)
}

// AppendID appends SEC.MILLI:SERIAL.
func AppendID(b []byte, t Stamp, serial uint64) []byte {
	b = strconv.AppendInt(b, t.Sec, 10)
	b = append(b, '.')
	m := t.Milli
	b = append(b, byte('0'+m/100), byte('0'+m/10%10), byte('0'+m%10))
	b = append(b, ':')
	return strconv.AppendUint(b, serial, 10)
}

// Record returns the first record of the given type, or nil.
func (e *Event) Record(typ string) *Record {
	for i := range e.Records {
		if e.Records[i].Type == typ {
			return &e.Records[i]
		}
	}
	return nil
}

// AssemblerStats counts what the assembler saw and what it had to give up.
type AssemblerStats struct {
	Records        uint64 // records added
	Events         uint64 // events emitted
	DroppedRecords uint64 // records dropped because their event was over MaxRecords
	Evicted        uint64 // events emitted early because MaxInFlight was reached
}

// Assembler groups records into events. Records of different events may
// interleave. An event is complete on EOE, on its PROCTITLE (the kernel writes
// it last), on a record type that always stands alone (user-space and daemon
// messages), once the stream has moved Window seconds past it, or at Flush.
//
// Memory is bounded: at most MaxInFlight events wait for completion (the
// oldest is emitted early when one more arrives) and an event keeps at most
// MaxRecords records (the rest are counted and dropped).
//
// The caller owns time: Add advances it by the records' own stamps, Expire
// lets a live reader complete events when the stream is quiet.
type Assembler struct {
	MaxInFlight int
	MaxRecords  int
	Window      int64 // seconds

	pending map[eventKey]*Event
	queue   []*Event // by first record; done events are skipped when popped
	head    int
	latest  Stamp
	stats   AssemblerStats
}

type eventKey struct {
	node   string
	sec    int64
	milli  uint16
	serial uint64
}

// Defaults used by NewAssembler. A SYSCALL event has a handful of records; a
// long command line is split into EXECVE records of ~8 KiB, so 2048 records
// hold every argv the kernel logs (it stops at MAX_ARG_STRLEN per argument).
const (
	DefaultMaxInFlight = 4096
	DefaultMaxRecords  = 2048
	DefaultWindow      = 2
)

// NewAssembler returns an assembler with the default bounds.
func NewAssembler() *Assembler {
	return &Assembler{MaxInFlight: DefaultMaxInFlight, MaxRecords: DefaultMaxRecords, Window: DefaultWindow}
}

// Pending calls fn for each event still waiting for completion, for a
// reader that must make their records Own their text before it reuses the
// buffer they point into.
func (a *Assembler) Pending(fn func(*Event)) {
	for _, ev := range a.pending {
		fn(ev)
	}
}

// Stats returns the counters so far.
func (a *Assembler) Stats() AssemblerStats { return a.stats }

// InFlight is the number of events waiting for completion.
func (a *Assembler) InFlight() int { return len(a.pending) }

// Add adds a record and calls emit for every event that is complete.
func (a *Assembler) Add(r Record, emit func(*Event)) {
	if a.pending == nil {
		a.pending = make(map[eventKey]*Event)
	}
	a.stats.Records++
	if a.latest.Before(r.Time) {
		a.latest = r.Time
	}
	k := eventKey{r.Node, r.Time.Sec, r.Time.Milli, r.Serial}
	ev := a.pending[k]
	if r.Type == "EOE" {
		if ev != nil {
			a.complete(k, ev, emit)
		}
		a.expire(emit)
		return
	}
	if ev == nil {
		if standalone(r.Type) {
			a.stats.Events++
			emit(&Event{Node: r.Node, Time: r.Time, Serial: r.Serial, Records: []Record{r}})
			a.expire(emit)
			return
		}
		max := a.MaxInFlight
		if max <= 0 {
			max = DefaultMaxInFlight
		}
		for len(a.pending) >= max {
			a.evictOldest(emit)
		}
		// the node name outlives the read buffer it came from: the reader
		// may reuse that buffer while the event waits here
		k.node = strings.Clone(k.node)
		ev = &Event{Node: k.node, Time: r.Time, Serial: r.Serial, Records: make([]Record, 0, 8)}
		a.pending[k] = ev
		a.queue = append(a.queue, ev)
	}
	maxRec := a.MaxRecords
	if maxRec <= 0 {
		maxRec = DefaultMaxRecords
	}
	if len(ev.Records) >= maxRec {
		a.stats.DroppedRecords++
		ev.Truncated = true
	} else {
		ev.Records = append(ev.Records, r)
	}
	if r.Type == "PROCTITLE" {
		a.complete(k, ev, emit)
	}
	a.expire(emit)
}

// Expire completes the events that are Window seconds older than now, for a
// live reader whose stream has gone quiet.
func (a *Assembler) Expire(now Stamp, emit func(*Event)) {
	if a.latest.Before(now) {
		a.latest = now
	}
	a.expire(emit)
}

// Flush emits every waiting event, oldest first: the end of the input.
func (a *Assembler) Flush(emit func(*Event)) {
	for a.head < len(a.queue) {
		ev := a.queue[a.head]
		a.queue[a.head] = nil
		a.head++
		if !ev.done {
			a.complete(keyOf(ev), ev, emit)
		}
	}
	a.queue = a.queue[:0]
	a.head = 0
}

func keyOf(ev *Event) eventKey { return eventKey{ev.Node, ev.Time.Sec, ev.Time.Milli, ev.Serial} }

func (a *Assembler) complete(k eventKey, ev *Event, emit func(*Event)) {
	delete(a.pending, k)
	ev.done = true
	a.stats.Events++
	emit(ev)
}

func (a *Assembler) expire(emit func(*Event)) {
	w := a.Window
	if w <= 0 {
		w = DefaultWindow
	}
	for a.head < len(a.queue) {
		ev := a.queue[a.head]
		if !ev.done && ev.Time.Sec+w > a.latest.Sec {
			break
		}
		a.queue[a.head] = nil
		a.head++
		if !ev.done {
			a.complete(keyOf(ev), ev, emit)
		}
	}
	a.compact()
}

func (a *Assembler) evictOldest(emit func(*Event)) {
	for a.head < len(a.queue) {
		ev := a.queue[a.head]
		a.queue[a.head] = nil
		a.head++
		if !ev.done {
			ev.Evicted = true
			a.stats.Evicted++
			a.complete(keyOf(ev), ev, emit)
			break
		}
	}
	a.compact()
}

// compact keeps the queue's backing array from growing with the stream.
func (a *Assembler) compact() {
	if a.head == len(a.queue) {
		a.queue = a.queue[:0]
		a.head = 0
		return
	}
	if a.head > 1024 && a.head > len(a.queue)/2 {
		n := copy(a.queue, a.queue[a.head:])
		clear(a.queue[n:])
		a.queue = a.queue[:n]
		a.head = 0
	}
}

// standalone reports whether a record type is always an event of its own:
// messages from user space (PAM, login, auditd itself) and the few kernel
// messages written outside a syscall.
func standalone(t string) bool {
	switch {
	case strings.HasPrefix(t, "USER"), strings.HasPrefix(t, "CRED_"),
		strings.HasPrefix(t, "DAEMON_"), strings.HasPrefix(t, "ANOM_LOGIN"),
		strings.HasPrefix(t, "ACCT_"), strings.HasPrefix(t, "GRP_"),
		strings.HasPrefix(t, "ROLE_"), strings.HasPrefix(t, "RESP_"),
		strings.HasPrefix(t, "VIRT_"), strings.HasPrefix(t, "CRYPTO_"),
		strings.HasPrefix(t, "SYSTEM_"), strings.HasPrefix(t, "SERVICE_"):
		return true
	}
	switch t {
	case "LOGIN_FAILURES", "ADD_USER", "DEL_USER", "ADD_GROUP", "DEL_GROUP",
		"CHGRP_ID", "CHUSER_ID", "TRUSTED_APP", "USYS_CONFIG", "SOFTWARE_UPDATE",
		"LABEL_LEVEL_CHANGE", "LABEL_OVERRIDE", "ANOM_ABEND", "KERNEL",
		"ANOM_MAX_DAC", "ANOM_MAX_MAC", "ANOM_AMTU_FAIL", "ANOM_RBAC_FAIL",
		"ANOM_RBAC_INTEGRITY_FAIL", "ANOM_CRYPTO_FAIL", "ANOM_ACCESS_FS",
		"ANOM_EXEC", "ANOM_MK_EXEC", "ANOM_ADD_ACCT", "ANOM_DEL_ACCT",
		"ANOM_MOD_ACCT", "ANOM_ROOT_TRANS", "ANOM_ORIGIN_FAILURES", "ANOM_SESSION":
		return true
	}
	return false
}

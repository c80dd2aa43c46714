package audit

import (
	"strconv"
	"strings"
	"time"
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

	// Collision is set on an event whose node, time and serial another
	// event had already (see AssemblerStats.Collisions).
	Collision bool

	// Replaced is set on a DAEMON_END by a reader that saw, by other means
	// than its DAEMON_START, a new auditd take over at once: a plugin ends
	// with its daemon and is not handed the next one's records. The event
	// is then a restart, as the coalesced pair is.
	Replaced bool

	// Owner is the caller's: a reader that lends its read buffer to the
	// records (see Record.Own) notes here what to give back once the event
	// is processed.
	Owner any

	st eventState
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
	DroppedRecords uint64 // records dropped because their event was over MaxRecords or MaxEventBytes
	Evicted        uint64 // events emitted early because MaxInFlight or MaxBytes was reached
	// Collisions are records that named an event already holding a record
	// of their kind (a second SYSCALL): two events with the same node, time
	// and serial, kept apart.
	Collisions uint64
	// ClockSteps are the times a node's stream went back in time by more
	// than Window: a clock stepped back, or a record stamped in the future
	// before it.
	ClockSteps uint64
}

// Assembler groups records into events. Records of different events may
// interleave. An event is complete on EOE, on its PROCTITLE (the kernel writes
// it last), on a record type that always stands alone (user-space and daemon
// messages), once its node's stream has moved Window seconds past it or
// Motion records beyond its last one, when the caller's clock says it has
// been quiet Window seconds (Expire), or at Flush.
//
// Each node (node= prefix) is a stream of its own, with its own time: two
// hosts' clocks apart in one file, a clock stepped back, or a record
// stamped in the future never complete another's events early. A node's
// time follows its records forward, and back when a record is more than
// Window behind it (a step); events from before a step back complete by
// motion instead.
//
// Memory is bounded: at most MaxInFlight events and MaxBytes of records
// wait for completion (the oldest is emitted early when one more arrives),
// and an event keeps at most MaxRecords records and MaxEventBytes (the rest
// are counted and dropped).
type Assembler struct {
	MaxInFlight   int
	MaxRecords    int
	MaxBytes      int64
	MaxEventBytes int64
	Window        int64 // seconds
	Motion        uint64

	pending map[eventKey]*Event
	// unmapped is the event opened last, while it is the last record's
	// and not complete: it goes into pending only when a record of
	// another event comes first (mapLast). Most events are whole before
	// the next begins, and so never touch the map.
	unmapped *Event
	// eager: every event into pending as it opens, as before unmapped
	// was: the reference FuzzAssemblerDiff holds the lazy way to
	eager   bool
	nodes   map[string]*nodeStream
	queue   []*Event // every node's, by first record, for eviction
	head    int
	bytes   int64 // of the records in flight
	pruneAt int   // node streams kept before pruneNodes looks again
	stats   AssemblerStats
	// the last record's event and node stream: the records of an event
	// come together, so most records need no map look-up
	last     *Event
	lastNode *nodeStream
	// slabs the next events and their records are carved from (newEvent)
	events  []Event
	records []Record
}

// nodeStream is one node's part of the input.
type nodeStream struct {
	name   string   // its node= name, "" for none
	latest Stamp    // the node's time: its records', stepping back with them
	seq    uint64   // records of this node so far
	queue  []*Event // its events, by first record
	head   int
}

type eventKey struct {
	node   string
	sec    int64
	milli  uint16
	serial uint64
}

// eventState is the assembler's bookkeeping of an event in flight.
type eventState struct {
	done    bool   // emitted; still in queues until it reaches their front
	lastSeq uint64 // its node's record count at its last record
	seenSeq uint64 // lastSeq as Expire last saw it
	touched time.Time
	bytes   int64
}

// Defaults used by NewAssembler. A SYSCALL event has a handful of records; a
// long command line is split into EXECVE records of ~8 KiB, so 2048 records
// hold every argv the kernel logs (it stops at MAX_ARG_STRLEN per argument).
// 64 MiB in flight and 16 MiB an event are far beyond any real event and
// far below what hurts; 1000 records of motion are more than the kernel
// interleaves between the records of one event (it writes them together,
// at the syscall's exit).
const (
	DefaultMaxInFlight   = 4096
	DefaultMaxRecords    = 2048
	DefaultMaxBytes      = 64 << 20
	DefaultMaxEventBytes = 16 << 20
	DefaultWindow        = 2
	DefaultMotion        = 1000
)

// NewAssembler returns an assembler with the default bounds.
func NewAssembler() *Assembler {
	return &Assembler{MaxInFlight: DefaultMaxInFlight, MaxRecords: DefaultMaxRecords, Window: DefaultWindow}
}

func orDefault[T int | int64 | uint64](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Pending calls fn for each event still waiting for completion, for a
// reader that must make their records Own their text before it reuses the
// buffer they point into.
func (a *Assembler) Pending(fn func(*Event)) {
	for _, ev := range a.pending {
		fn(ev)
	}
	if a.unmapped != nil {
		fn(a.unmapped)
	}
}

// Stats returns the counters so far.
func (a *Assembler) Stats() AssemblerStats { return a.stats }

// InFlight is the number of events waiting for completion.
func (a *Assembler) InFlight() int {
	if a.unmapped != nil {
		return len(a.pending) + 1
	}
	return len(a.pending)
}

// singleton record types: an event has one of each, so a second is another
// event's.
func singleton(t string) bool { return t == "SYSCALL" || t == "CWD" }

// Add adds a record and calls emit for every event that is complete.
func (a *Assembler) Add(r Record, emit func(*Event)) {
	if a.pending == nil {
		a.pending = make(map[eventKey]*Event)
		a.nodes = make(map[string]*nodeStream)
	}
	a.stats.Records++
	ns := a.node(r)
	ns.seq++
	k := eventKey{r.Node, r.Time.Sec, r.Time.Milli, r.Serial}
	// an event not yet complete is the last record's, or the one
	// pending under its key
	ev := a.last
	if ev == nil || ev.st.done || ev.Serial != r.Serial || ev.Time != r.Time || ev.Node != r.Node {
		ev = nil
		if len(a.pending) > 0 {
			ev = a.pending[k]
		}
	}
	if r.Type == "EOE" {
		if ev != nil {
			a.complete(k, ev, emit)
		}
		a.expire(ns, emit)
		return
	}
	collided := ev != nil && singleton(r.Type) && ev.Record(r.Type) != nil
	if collided {
		a.stats.Collisions++
		a.complete(k, ev, emit)
		ev = nil
	}
	if ev == nil {
		if standalone(r.Type) {
			a.stats.Events++
			ev := a.newEvent(r.Node, r, 1)
			ev.Records = append(ev.Records, r)
			emit(ev)
			a.expire(ns, emit)
			return
		}
		ev = a.open(k, r, ns, emit)
		ev.Collision = collided
	}
	if ev != a.unmapped {
		a.mapLast() // its records are no longer the last
	}
	a.last = ev
	a.keep(ev, r, ns, emit)
	if r.Type == "PROCTITLE" {
		a.complete(k, ev, emit)
	}
	a.expire(ns, emit)
}

// node is the stream of r's node, its time moved by r.
func (a *Assembler) node(r Record) *nodeStream {
	ns := a.lastNode
	if ns == nil || r.Node != ns.name {
		ns = a.nodes[r.Node]
	}
	if ns == nil {
		if len(a.nodes) >= max(maxNodes, a.pruneAt) {
			a.pruneNodes()
		}
		ns = &nodeStream{name: strings.Clone(r.Node), latest: r.Time}
		a.nodes[ns.name] = ns
	}
	a.lastNode = ns
	w := orDefault(a.Window, DefaultWindow)
	switch {
	case ns.latest.Before(r.Time):
		ns.latest = r.Time
	case r.Time.Sec+w < ns.latest.Sec:
		ns.latest = r.Time // stepped back: the node's time is this now
		a.stats.ClockSteps++
	}
	return ns
}

// maxNodes is how many node streams are kept before those with nothing in
// flight are let go: a file of a million node= names must not keep a
// million streams.
const maxNodes = 1024

// pruneNodes lets go of the node streams with no event in flight; what is
// lost is their clock, which their next record sets again.
func (a *Assembler) pruneNodes() {
	a.lastNode = nil
	for name, ns := range a.nodes {
		if ns.queue, ns.head = compact(ns.queue, ns.head); ns.head == len(ns.queue) {
			delete(a.nodes, name)
		}
	}
	// the next look when as many again are added: each record pays once
	a.pruneAt = 2 * len(a.nodes)
}

// open starts the event of key k, making room within the bounds first.
func (a *Assembler) open(k eventKey, r Record, ns *nodeStream, emit func(*Event)) *Event {
	for a.InFlight() >= orDefault(a.MaxInFlight, DefaultMaxInFlight) {
		a.evictOldest(emit)
	}
	a.mapLast()
	// the node name outlives the read buffer it came from: the reader
	// may reuse that buffer while the event waits here
	ev := a.newEvent(strings.Clone(k.node), r, 8)
	if a.eager {
		a.pending[keyOf(ev)] = ev
	} else {
		a.unmapped = ev
	}
	a.queue = append(a.queue, ev)
	ns.queue = append(ns.queue, ev)
	return ev
}

// slabEvents is how many events (and their first records) one allocation
// makes room for: a reader makes an event every few records, and
// allocating each with its records was a tenth of reading. A slab is freed
// when its last event is; a few dozen events' worth is what an event
// held long can keep alive.
const slabEvents = 32

// newEvent makes an event for r (a record of it, not yet added) with room
// for n records in place.
func (a *Assembler) newEvent(node string, r Record, n int) *Event {
	if len(a.events) == cap(a.events) {
		a.events = make([]Event, 0, slabEvents)
	}
	a.events = a.events[:len(a.events)+1]
	ev := &a.events[len(a.events)-1]
	if len(a.records)+n > cap(a.records) {
		a.records = make([]Record, 0, max(n, slabEvents*8))
	}
	i := len(a.records)
	a.records = a.records[:i+n]
	// capped: an event that outgrows its room moves, never into the next one's
	*ev = Event{Node: node, Time: r.Time, Serial: r.Serial, Records: a.records[i : i : i+n]}
	return ev
}

// keep adds r to ev within the per-event and in-flight bounds.
func (a *Assembler) keep(ev *Event, r Record, ns *nodeStream, emit func(*Event)) {
	size := int64(len(r.Body))
	if len(ev.Records) >= orDefault(a.MaxRecords, DefaultMaxRecords) || ev.st.bytes+size > orDefault(a.MaxEventBytes, DefaultMaxEventBytes) {
		a.stats.DroppedRecords++
		ev.Truncated = true
		return
	}
	for a.bytes+size > orDefault(a.MaxBytes, DefaultMaxBytes) && a.oldestOther(ev) {
		a.evictOldest(emit)
	}
	ev.Records = append(ev.Records, r)
	ev.st.bytes += size
	ev.st.lastSeq = ns.seq
	a.bytes += size
}

// oldestOther reports whether an event other than ev is in flight to be
// evicted before it.
func (a *Assembler) oldestOther(ev *Event) bool {
	for i := a.head; i < len(a.queue); i++ {
		if e := a.queue[i]; !e.st.done {
			return e != ev
		}
	}
	return false
}

// Expire completes the events the caller's clock has seen quiet for Window
// seconds: a live reader's stream that has gone quiet. now is the caller's
// monotonic clock (time.Now()), so a step of the wall clock changes
// nothing; an event is quiet from the first Expire that saw it as it is.
func (a *Assembler) Expire(now time.Time, emit func(*Event)) {
	w := time.Duration(orDefault(a.Window, DefaultWindow)) * time.Second
	for i := a.head; i < len(a.queue); i++ {
		ev := a.queue[i]
		switch {
		case ev.st.done:
		case ev.st.seenSeq != ev.st.lastSeq || ev.st.touched.IsZero():
			ev.st.seenSeq, ev.st.touched = ev.st.lastSeq, now
		case now.Sub(ev.st.touched) >= w:
			a.complete(keyOf(ev), ev, emit)
		}
	}
	for _, ns := range a.nodes {
		a.expire(ns, emit)
	}
}

// Flush emits every waiting event, oldest first: the end of the input.
func (a *Assembler) Flush(emit func(*Event)) {
	for a.head < len(a.queue) {
		ev := a.queue[a.head]
		a.queue[a.head] = nil
		a.head++
		if !ev.st.done {
			a.complete(keyOf(ev), ev, emit)
		}
	}
	a.queue = a.queue[:0]
	a.head = 0
	for _, ns := range a.nodes {
		clear(ns.queue)
		ns.queue, ns.head = ns.queue[:0], 0
	}
}

func keyOf(ev *Event) eventKey { return eventKey{ev.Node, ev.Time.Sec, ev.Time.Milli, ev.Serial} }

// mapLast puts the unmapped event into pending, where a record of it that
// comes after another event's finds it.
func (a *Assembler) mapLast() {
	if ev := a.unmapped; ev != nil {
		a.pending[keyOf(ev)] = ev
		a.unmapped = nil
	}
}

func (a *Assembler) complete(k eventKey, ev *Event, emit func(*Event)) {
	if ev == a.unmapped {
		a.unmapped = nil
	} else if a.pending[k] == ev {
		delete(a.pending, k)
	}
	ev.st.done = true
	a.bytes -= ev.st.bytes
	a.stats.Events++
	emit(ev)
}

// expire completes the events of a node's stream that it has moved past:
// Window seconds of its time, or Motion records.
func (a *Assembler) expire(ns *nodeStream, emit func(*Event)) {
	w := orDefault(a.Window, DefaultWindow)
	motion := orDefault(a.Motion, DefaultMotion)
	for ns.head < len(ns.queue) {
		ev := ns.queue[ns.head]
		if !ev.st.done && ev.Time.Sec+w > ns.latest.Sec && ns.seq-ev.st.lastSeq <= motion {
			break
		}
		ns.queue[ns.head] = nil
		ns.head++
		if !ev.st.done {
			a.complete(keyOf(ev), ev, emit)
		}
	}
	ns.queue, ns.head = compact(ns.queue, ns.head)
	a.queue, a.head = compact(a.queue, a.head)
}

func (a *Assembler) evictOldest(emit func(*Event)) {
	for a.head < len(a.queue) {
		ev := a.queue[a.head]
		a.queue[a.head] = nil
		a.head++
		if !ev.st.done {
			ev.Evicted = true
			a.stats.Evicted++
			a.complete(keyOf(ev), ev, emit)
			break
		}
	}
	a.queue, a.head = compact(a.queue, a.head)
}

// compact keeps a queue's backing array from growing with the stream: the
// done events at its front go.
func compact(q []*Event, head int) ([]*Event, int) {
	for head < len(q) && q[head].st.done {
		q[head] = nil
		head++
	}
	if head == len(q) {
		return q[:0], 0
	}
	if head > 1024 && head > len(q)/2 {
		n := copy(q, q[head:])
		clear(q[n:])
		return q[:n], 0
	}
	return q, head
}

// standalone reports whether a record type is always an event of its own:
// messages from user space (PAM, login, auditd itself) and the few kernel
// messages written outside a syscall. It is asked of every record: the
// first byte picks the few names to compare (a syscall's records start
// with none of U, D, G, R, V, T, K and are done at once, or after the
// two or three names of their letter).
func standalone(t string) bool {
	if len(t) == 0 {
		return false
	}
	switch t[0] {
	case 'U':
		return strings.HasPrefix(t, "USER") || t == "USYS_CONFIG"
	case 'C':
		return strings.HasPrefix(t, "CRED_") || strings.HasPrefix(t, "CRYPTO_") || t == "CHGRP_ID" || t == "CHUSER_ID"
	case 'D':
		return strings.HasPrefix(t, "DAEMON_") || t == "DEL_USER" || t == "DEL_GROUP"
	case 'A':
		return strings.HasPrefix(t, "ANOM_LOGIN") || strings.HasPrefix(t, "ACCT_") || t == "ADD_USER" || t == "ADD_GROUP" ||
			anomalyStandalone(t)
	case 'G':
		return strings.HasPrefix(t, "GRP_")
	case 'R':
		return strings.HasPrefix(t, "ROLE_") || strings.HasPrefix(t, "RESP_")
	case 'V':
		return strings.HasPrefix(t, "VIRT_")
	case 'S':
		return strings.HasPrefix(t, "SYSTEM_") || strings.HasPrefix(t, "SERVICE_") || t == "SOFTWARE_UPDATE"
	case 'L':
		return t == "LOGIN_FAILURES" || t == "LABEL_LEVEL_CHANGE" || t == "LABEL_OVERRIDE"
	case 'T':
		return t == "TRUSTED_APP"
	case 'K':
		return t == "KERNEL"
	}
	return false
}

// anomalyStandalone reports whether t is one of the ANOM_ types that stand
// alone (ANOM_LOGIN_* are by prefix).
func anomalyStandalone(t string) bool {
	switch t {
	case "ANOM_ABEND", "ANOM_MAX_DAC", "ANOM_MAX_MAC", "ANOM_AMTU_FAIL", "ANOM_RBAC_FAIL",
		"ANOM_RBAC_INTEGRITY_FAIL", "ANOM_CRYPTO_FAIL", "ANOM_ACCESS_FS",
		"ANOM_EXEC", "ANOM_MK_EXEC", "ANOM_ADD_ACCT", "ANOM_DEL_ACCT",
		"ANOM_MOD_ACCT", "ANOM_ROOT_TRANS", "ANOM_ORIGIN_FAILURES", "ANOM_SESSION":
		return true
	}
	return false
}

package collect

import (
	"bytes"
	"fmt"

	"github.com/gotrail/gotrail/internal/trail"
)

// pending is a message that did not read whole: a copy cut off when the
// connection broke, if the next message of the host is the whole of it
// (the sender resends from the first message the collector's TCP did not
// acknowledge), else cut or altered at the collector.
type pending struct {
	active  bool
	kind    msgKind // what it claimed to be
	text    []byte  // from its structured data on: what the resend repeats
	seq     uint64
	hasSeq  bool
	hash    []byte
	where   string
	why     string
	scratch []byte // kept between holds: a host's buffer, not one per line
}

// hold keeps m until the host's next message says whether it was resent.
func (h *host) hold(m *message, kind msgKind, why string) {
	p := &h.pend
	p.text = append(p.scratch[:0], m.sd...)
	p.scratch = p.text
	p.hash = bytes.Clone(m.hash)
	p.active, p.kind, p.seq, p.hasSeq, p.where, p.why = true, kind, m.seq, m.hasSeq, h.c.where(), why
}

// settle decides the held message by the one that follows it.
func (h *host) settle(m *message) {
	p := &h.pend
	if m.kind != msgBroken && len(m.sd) > len(p.text) && bytes.HasPrefix(m.sd, p.text) &&
		(!p.hasSeq || m.hasSeq && m.seq == p.seq) {
		p.active = false
		h.resent(p.seq, p.where)
		return
	}
	h.fail()
}

// fail names the held message for what it is: not resent, so cut or
// altered where it is stored.
func (h *host) fail() {
	p := &h.pend
	p.active = false
	switch {
	case p.kind == msgRecord && p.hasSeq:
		h.unreadable(p.seq, p.hash, p.where, "is not a whole trail record: cut off or altered, and not sent again whole")
	case p.kind == msgCheckpoint:
		h.forged(p.where, p.why)
	default:
		h.rep.Counts.Modified++
		h.problem(Modified, 0, p.where, "a gotrail message whose structured data does not read: cut off or altered")
	}
	if cap(p.scratch) > 64<<10 {
		p.scratch = nil
	}
}

func (h *host) resent(seq uint64, where string) {
	h.rep.Counts.Resent++
	h.note(fmt.Sprintf("seq %d (%s): a cut-off copy, then the whole message: resent after a dropped connection", seq, where))
}

// resentWhole is a whole record that arrived again, the same byte for
// byte: resent on a new connection after one dropped in its probation.
func (h *host) resentWhole(seq uint64, where string) {
	h.rep.Counts.Resent++
	h.note(fmt.Sprintf("seq %d (%s): the same record again, byte for byte: resent after a dropped connection", seq, h.at(where)))
}

// assembly puts a split record together: part="I/K" in the structured
// data, the parts consecutive and in order.
type assembly struct {
	active    bool
	done      bool // all parts came, and they are not a record: waiting for a resend
	seq       uint64
	hash      []byte
	parts     int
	next      int // the part expected
	lastStart int // where the last part starts in buf
	buf       []byte
	where     string // of part 1
}

// part takes one part of a split record.
func (h *host) part(m *message) {
	a := &h.asm
	if a.active && (a.seq != m.seq || !bytes.Equal(a.hash, m.hash) || a.parts != m.parts) {
		h.endAssembly()
	}
	switch {
	case !a.active && m.part == 1:
		a.begin(m, h.c.where())
	case !a.active:
		h.orphanPart(m)
		return
	case m.part == a.next && !a.done:
		a.lastStart, a.buf, a.next = len(a.buf), append(a.buf, m.msg...), a.next+1
	case m.part == a.next-1 && bytes.HasPrefix(m.msg, a.buf[a.lastStart:]):
		// the last part again, longer: it was cut off and resent
		a.buf, a.done = append(a.buf[:a.lastStart], m.msg...), false
		h.resent(m.seq, h.c.where())
	case m.part == 1:
		// the record again from its first part: resent after a cut-off
		h.resent(m.seq, a.where)
		a.begin(m, h.c.where())
	default:
		h.endAssembly()
		h.orphanPart(m)
		return
	}
	switch {
	case len(a.buf) > maxAssembled:
		h.endAssembly()
	case a.next > a.parts:
		h.assembled()
	}
}

func (a *assembly) begin(m *message, where string) {
	a.active, a.done, a.seq, a.parts, a.next, a.where = true, false, m.seq, m.parts, 2, where
	a.hash = append(a.hash[:0], m.hash...)
	a.buf, a.lastStart = append(a.buf[:0], m.msg...), 0
}

// assembled is all the parts of a record: a record, or one whose last
// part was cut off, if the next message resends it.
func (h *host) assembled() {
	a := &h.asm
	r, ok := trail.SplitRecord(a.buf)
	if !ok {
		a.done = true
		return
	}
	a.active = false
	h.record(r, a.seq, a.hash, a.where)
	a.release()
}

// endAssembly names a record whose parts did not all arrive, or do not
// make a record.
func (h *host) endAssembly() {
	a := &h.asm
	if !a.active {
		return
	}
	a.active = false
	why := fmt.Sprintf("is unreadable: parts 1-%d of %d arrived, then no more (a part is missing or altered)", a.next-1, a.parts)
	switch {
	case a.done:
		why = fmt.Sprintf("is unreadable: its %d parts put together are not a trail record (a part was cut off or altered)", a.parts)
	case len(a.buf) > maxAssembled:
		why = fmt.Sprintf("is unreadable: its parts are longer than %d MiB together", maxAssembled>>20)
	}
	h.orphan.seq, h.orphan.hash = a.seq, string(a.hash)
	h.unreadable(a.seq, a.hash, a.where, why)
	a.release()
}

func (a *assembly) release() {
	if cap(a.buf) > 1<<20 {
		a.buf = nil // a huge record is rare: its buffer is not kept per host
	}
	a.buf = a.buf[:0]
}

// orphanPart is a part whose record did not begin with part 1: named
// once, its other parts skipped.
func (h *host) orphanPart(m *message) {
	if h.orphan.seq == m.seq && h.orphan.hash == string(m.hash) {
		return
	}
	h.orphan.seq, h.orphan.hash = m.seq, string(m.hash)
	h.unreadable(m.seq, m.hash, "", fmt.Sprintf("is unreadable: part %d of %d arrived without the parts before it (a part is missing or altered)", m.part, m.parts))
}

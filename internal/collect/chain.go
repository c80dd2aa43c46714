package collect

import (
	"fmt"

	"github.com/gotrail/gotrail/internal/trail"
)

// place puts a record in its host's seq order: the next one, after a gap,
// late (reordered), or again (duplicated). prev is nil when the record
// could not be read; whole says it read and checked entirely (see
// record), so that the same record again is known as a resend.
func (h *host) place(seq uint64, prev, hash []byte, whole bool, where string) {
	hv, hvOK := decodeHash(hash)
	whole = whole && hvOK
	switch {
	case !h.started:
		h.started, h.rep.First = true, seq
		h.first(seq, prev, where)
		h.advance(seq, hv, hvOK, whole)
	case seq == h.last+1:
		h.link(seq, prev, h.lastHash, h.lastOK, where)
		h.advance(seq, hv, hvOK, whole)
	case seq > h.last+1:
		h.missing.add(h.last+1, seq-1) // named at the end: a late record may fill it
		h.advance(seq, hv, hvOK, whole)
	case seq < h.rep.First:
		h.reordered(seq, where)
		h.missing.add(seq+1, h.rep.First-1)
		h.rep.First = seq
		h.first(seq, prev, where)
		h.late(seq, hv, hvOK, whole)
	case h.missing.remove(seq):
		h.reordered(seq, where)
		if before, ok := h.get(seq - 1); ok {
			h.link(seq, prev, before, true, where)
		}
		h.late(seq, hv, hvOK, whole)
	default:
		h.rep.Counts.Duplicated++
		same := "a second copy"
		if had, ok := h.get(seq); ok && hvOK && had != hv {
			same = "a second, different record"
		}
		h.problem(Duplicated, seq, h.at(where), fmt.Sprintf("record seq %d arrived again (%s): duplicated", seq, same))
	}
}

// first checks where the chain starts: seq 1 follows the genesis; a later
// first record must follow an anchor of retention (checked at the end,
// when every anchor has arrived).
func (h *host) first(seq uint64, prev []byte, where string) {
	if prev == nil {
		return
	}
	if seq == 1 {
		if string(prev) != trail.Genesis {
			h.modified(seq, where, "does not start the chain: its prev is not the genesis")
		}
		return
	}
	h.firstPrev, h.firstPrevOK = decodeHash(prev)
}

// link checks that a record follows the one before it.
func (h *host) link(seq uint64, prev []byte, before [32]byte, known bool, where string) {
	if prev == nil || !known {
		return
	}
	if pv, ok := decodeHash(prev); !ok || pv != before {
		h.modified(seq, where, fmt.Sprintf("does not follow record seq %d: its prev is not that record's hash (a record was removed, replaced or reordered)", seq-1))
	}
}

func (h *host) reordered(seq uint64, where string) {
	h.rep.Counts.Reordered++
	h.problem(Reordered, seq, h.at(where), fmt.Sprintf("record seq %d arrived after seq %d: reordered", seq, h.last))
}

// advance makes seq the end of the chain.
func (h *host) advance(seq uint64, hv [32]byte, ok, whole bool) {
	h.last, h.lastHash, h.lastOK = seq, hv, ok
	h.late(seq, hv, ok, whole)
}

// late counts a record in, remembers its hash and matches the
// checkpoints that came before it.
func (h *host) late(seq uint64, hv [32]byte, ok, whole bool) {
	h.rep.Records++
	if ok {
		h.put(seq, hv, whole)
	}
	for i := 0; i < len(h.future); i++ {
		if f := h.future[i]; f.cp.Head.Seq == seq {
			h.future = append(h.future[:i], h.future[i+1:]...)
			i--
			h.match(f, hv, ok)
		}
	}
}

// minRing is where a host's window starts: most hosts of a fleet may
// send a few records only, and a full window each would make the memory
// of the run grow with the host names a file holds.
const minRing = 4

// put remembers seq's hash. The ring doubles, up to Options.Window, when
// seq would take the place of another record: so it never forgets a
// record a ring of Window places would still hold (a checkpoint of it
// must still match), and stays small for a host of few records.
func (h *host) put(seq uint64, hv [32]byte, whole bool) {
	for {
		if h.ring == nil {
			h.ring = make([]ringEntry, min(minRing, h.c.opt.Window))
		}
		e := &h.ring[seq%uint64(len(h.ring))]
		switch {
		case e.seq == 0 || e.seq == seq: // a free place, or seq's own
		case len(h.ring) < h.c.opt.Window:
			h.grow()
			continue
		case e.seq > seq:
			return // never a newer record's place for an older one's
		}
		*e = ringEntry{seq, hv, whole}
		return
	}
}

// grow doubles the ring, up to Options.Window, each record kept in its
// new place (where two meet, the newer one, as put keeps it).
func (h *host) grow() {
	old := h.ring
	h.ring = make([]ringEntry, min(2*len(old), h.c.opt.Window))
	for _, e := range old {
		if d := &h.ring[e.seq%uint64(len(h.ring))]; e.seq != 0 && d.seq < e.seq {
			*d = e
		}
	}
}

func (h *host) get(seq uint64) ([32]byte, bool) {
	e, ok := h.entry(seq)
	return e.hash, ok
}

// entry is what the window holds of seq, if it still does.
func (h *host) entry(seq uint64) (ringEntry, bool) {
	if h.ring == nil || seq == 0 {
		return ringEntry{}, false
	}
	e := h.ring[seq%uint64(len(h.ring))]
	return e, e.seq == seq
}

// again reports whether a whole record of seq with hash hv was counted
// already, and is still in the window: then a whole record of the same
// seq and hash is the same line again. The sink resends, on a new
// connection, what the collector's TCP acknowledged before a connection
// dropped in its probation, so the collector holds it twice: not
// tampering. Beyond the window the hash is not known: duplicated.
func (h *host) again(seq uint64, hv [32]byte) bool {
	e, ok := h.entry(seq)
	return ok && e.whole && e.hash == hv
}

// decodeHash reads 64 lowercase hex digits, as the trail writes them:
// any other spelling is not the hash the chain computed.
func decodeHash(b []byte) ([32]byte, bool) {
	var h [32]byte
	if len(b) != 64 {
		return h, false
	}
	for i := range h {
		hi, lo := nibble(b[2*i]), nibble(b[2*i+1])
		if hi > 15 || lo > 15 {
			return h, false
		}
		h[i] = hi<<4 | lo
	}
	return h, true
}

func nibble(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return 255
}

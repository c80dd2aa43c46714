package collect

import (
	"fmt"
	"slices"
	"time"

	"github.com/gotrail/gotrail/internal/trail"
)

// checkpointMsg is a message of MSGID trail.checkpoint: a signed note of
// the host's key, escaped on one line.
func (h *host) checkpointMsg(m *message) {
	if h.key == nil {
		h.unchecked++ // the missing key is the problem, named once
		return
	}
	text, ok := trail.UnescapeNote(string(m.msg))
	if !ok || !trail.IsNote(text) {
		h.hold(m, msgCheckpoint, "is not a signed gotrail note")
		return
	}
	cp, err := trail.ParseCheckpoint([]byte(text), h.key)
	if err != nil {
		h.hold(m, msgCheckpoint, fmt.Sprintf("does not verify with %s (%v)", h.rep.KeyFile, err))
		return
	}
	hv, ok := decodeHash([]byte(cp.Head.Hash))
	where := h.c.where()
	switch {
	case cp.Host != h.name:
		h.rep.Counts.WrongHost++
		h.problem(WrongHost, cp.Head.Seq, where, fmt.Sprintf("a checkpoint of host %q (seq %d) sent as host %q", cp.Host, cp.Head.Seq, h.name))
	case !ok || cp.Head.Seq == 0:
		h.forged(where, "names no record")
	default:
		h.checkpoint(seenCheckpoint{cp: cp, hash: hv, where: where})
	}
}

func (h *host) forged(where, why string) {
	h.rep.Counts.Forged++
	h.problem(Forged, 0, where, "a checkpoint that "+why+": forged or altered")
}

// checkpoint matches a verified checkpoint against the record it covers:
// now, if that record was seen recently, or when it arrives.
func (h *host) checkpoint(s seenCheckpoint) {
	if s.cp.IsAnchor() {
		h.addAnchor(s)
	}
	seq := s.cp.Head.Seq
	if !h.started || seq > h.last {
		if len(h.future) >= maxFuture { // the highest seqs say the most about the end
			i := slices.IndexFunc(h.future, func(f seenCheckpoint) bool { return f.cp.Head.Seq < seq })
			if i < 0 {
				return
			}
			h.future = slices.Delete(h.future, i, i+1)
		}
		h.future = append(h.future, s)
		return
	}
	got, ok := h.get(seq)
	switch {
	case ok:
		h.match(s, got, true)
	case h.missing.contains(seq) || seq < h.rep.First:
		// its record is missing (named already), or before the files
	default:
		h.unmatched(s)
	}
}

// unmatched is a checkpoint whose record left the window before it came.
// An anchor of retention covers an old record by nature: counted late.
// A checkpoint does not: the sink writes and sends each right after its
// record, so one this late was held back or moved, and what it covers
// cannot be matched here: a problem of the host, not a note.
func (h *host) unmatched(s seenCheckpoint) {
	if s.cp.IsAnchor() {
		h.rep.Counts.Late++
		return
	}
	h.rep.Counts.Unmatched++
	h.problem(UnmatchedCheckpoint, s.cp.Head.Seq, s.where, fmt.Sprintf(
		"the checkpoint of seq %d signed at %s (%s) arrived after seq %d, its record no longer among the last %d: it matches no record, and the sink sends each checkpoint right after its record",
		s.cp.Head.Seq, s.cp.Time.Format(time.RFC3339), s.where, h.last, h.c.opt.Window))
}

// match compares a checkpoint with the hash of the record at its seq.
func (h *host) match(s seenCheckpoint, got [32]byte, ok bool) {
	if !ok {
		return // the record's own hash does not read: named already
	}
	if got != s.hash {
		what := "checkpoint"
		if s.cp.IsAnchor() {
			what = "anchor"
		}
		h.modified(s.cp.Head.Seq, s.where, fmt.Sprintf("differs from the %s signed at %s (%s): the records up to it were rewritten after it was signed",
			what, s.cp.Time.Format(time.RFC3339), s.where))
		return
	}
	h.rep.Checkpoints++
	if p := h.rep.Proven; p == nil || s.cp.Head.Seq > p.Seq {
		h.rep.Proven = &Proven{Seq: s.cp.Head.Seq, Time: s.cp.Time, Anchor: s.cp.IsAnchor(), Where: s.where}
	}
}

func (h *host) addAnchor(s seenCheckpoint) {
	if slices.ContainsFunc(h.anchors, func(a seenCheckpoint) bool { return a.cp.Head == s.cp.Head }) {
		return
	}
	if len(h.anchors) >= maxAnchors {
		h.anchors = h.anchors[1:] // the oldest: the chain's start moves forward
	}
	h.anchors = append(h.anchors, s)
}

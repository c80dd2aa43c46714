package collect

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// finish decides what was left open at the end of the stream and makes
// the host's report.
func (h *host) finish() *HostReport {
	if h.pend.active {
		h.fail()
	}
	h.endAssembly()
	tail, head := h.end(), h.start()
	r := &h.rep
	for _, m := range h.missing.list {
		why := "records " + m.String() + " never arrived, or were removed where they are stored"
		switch {
		case m.First == h.last+1 && tail != "":
			why = tail
		case m.Last+1 == r.First && head != "":
			why = head
		}
		h.problem(Missing, m.First, "", why)
	}
	if h.missing.more > 0 {
		h.problem(Missing, 0, "", fmt.Sprintf("and %d more records missing in ranges not listed", h.missing.more))
	}
	slices.SortStableFunc(r.Problems, func(a, b Problem) int { return cmp.Compare(a.Seq, b.Seq) })
	r.Last = h.last
	if h.unchecked > 0 {
		h.note(fmt.Sprintf("%d checkpoints not checked: no public key", h.unchecked))
	}
	if r.Counts.Late > 0 {
		h.note(fmt.Sprintf("%d anchors arrived more than %d records after theirs, too late to match; later ones prove as much", r.Counts.Late, h.c.opt.Window))
	}
	switch {
	case !h.started:
		h.problem(Unproven, 0, "", `no trail record arrived, only other messages of gotrail (is payload = "trail" set on the host's syslog sink?)`)
	case r.Proven == nil && h.key != nil:
		h.problem(Unproven, 0, "", fmt.Sprintf("no checkpoint matches records %d to %d: their hashes alone anyone can recompute", r.First, r.Last))
	}
	if r.Proven != nil && r.Proven.Seq < r.Last {
		r.HashOnly = r.Last - r.Proven.Seq
	}
	r.Missing, r.MissingCount, r.MissingMore = h.missing.list, h.missing.total, h.missing.more
	r.Complete = len(r.Problems) == 0 && r.MoreProblems == 0 && r.MissingCount == 0 && r.Proven != nil
	return r
}

// end: a checkpoint of a seq beyond the last record says the records up to
// it were sent, and none arrived.
func (h *host) end() string {
	var newest *seenCheckpoint
	for i, f := range h.future {
		if f.cp.Head.Seq > h.last && (newest == nil || f.cp.Head.Seq > newest.cp.Head.Seq) {
			newest = &h.future[i]
		}
	}
	if newest == nil || !h.started {
		return ""
	}
	seq := newest.cp.Head.Seq
	h.missing.add(h.last+1, seq)
	return fmt.Sprintf("records %s are missing: the checkpoint signed at %s (%s) covers seq %d, the last record that arrived is seq %d (the end was removed, or never arrived)",
		SeqRange{h.last + 1, seq}, newest.cp.Time.Format(time.RFC3339), newest.where, seq, h.last)
}

// start: records before the first that arrived are missing, unless an
// anchor of the host's retention says the chain starts after them (and
// the first record follows it).
func (h *host) start() string {
	first := h.rep.First
	if !h.started || first <= 1 {
		return ""
	}
	var a *seenCheckpoint
	for i, s := range h.anchors {
		if s.cp.Head.Seq < first && (a == nil || s.cp.Head.Seq > a.cp.Head.Seq) {
			a = &h.anchors[i]
		}
	}
	switch {
	case a == nil && h.c.opt.FromFirst:
		h.rep.CheckedFrom = first // what came before was rotated away, by the operator's word
		return ""
	case a == nil:
		h.missing.add(1, first-1)
		return fmt.Sprintf("records %s are missing: the first that arrived is seq %d, and no anchor of the host's retention says the trail starts after them (older files not given?)",
			SeqRange{1, first - 1}, first)
	case a.cp.Head.Seq+1 < first:
		h.rep.StartsAfter = a.cp.Head.Seq
		h.missing.add(a.cp.Head.Seq+1, first-1)
		return fmt.Sprintf("records %s are missing: the trail starts after seq %d (the anchor at %s), the first that arrived is seq %d",
			SeqRange{a.cp.Head.Seq + 1, first - 1}, a.cp.Head.Seq, a.where, first)
	default:
		h.rep.StartsAfter = a.cp.Head.Seq
		if h.firstPrevOK && h.firstPrev != a.hash {
			h.modified(first, a.where, fmt.Sprintf("does not follow the anchor the trail starts after (seq %d, %s): its prev is not the anchor's hash", a.cp.Head.Seq, a.where))
		}
	}
	return ""
}

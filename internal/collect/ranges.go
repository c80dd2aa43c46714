package collect

import (
	"slices"
	"strconv"
)

// SeqRange is the records First..Last (inclusive).
type SeqRange struct {
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
}

func (r SeqRange) String() string {
	if r.First == r.Last {
		return strconv.FormatUint(r.First, 10)
	}
	return strconv.FormatUint(r.First, 10) + "-" + strconv.FormatUint(r.Last, 10)
}

// ranges are the missing records of one host: at most max ranges, in
// order; the records of the ranges beyond are only counted, so that a
// stream with a gap every other record costs no more than one without.
type ranges struct {
	list  []SeqRange
	max   int
	more  uint64 // records in ranges not kept
	total uint64
}

// add records lo..hi missing.
func (r *ranges) add(lo, hi uint64) {
	if lo > hi {
		return
	}
	r.total += hi - lo + 1
	i, _ := slices.BinarySearchFunc(r.list, lo, func(x SeqRange, lo uint64) int {
		switch {
		case x.First < lo:
			return -1
		case x.First > lo:
			return 1
		}
		return 0
	})
	if i > 0 && r.list[i-1].Last+1 == lo {
		r.list[i-1].Last = hi
		if i < len(r.list) && hi+1 == r.list[i].First { // it closes the gap between two
			r.list[i-1].Last = r.list[i].Last
			r.list = slices.Delete(r.list, i, i+1)
		}
		return
	}
	if i < len(r.list) && hi+1 == r.list[i].First {
		r.list[i].First = lo
		return
	}
	if len(r.list) >= r.max {
		r.more += hi - lo + 1
		return
	}
	r.list = slices.Insert(r.list, i, SeqRange{lo, hi})
}

// remove takes seq out of the missing records, reporting whether it was
// among the ranges kept: a record that arrived late.
func (r *ranges) remove(seq uint64) bool {
	i, ok := r.find(seq)
	if !ok {
		return false
	}
	r.total--
	x := r.list[i]
	switch {
	case x.First == x.Last:
		r.list = slices.Delete(r.list, i, i+1)
	case seq == x.First:
		r.list[i].First++
	case seq == x.Last:
		r.list[i].Last--
	case len(r.list) < r.max:
		r.list[i].Last = seq - 1
		r.list = slices.Insert(r.list, i+1, SeqRange{seq + 1, x.Last})
	default:
		// no room to split: keep the lower half, count the upper
		r.list[i].Last = seq - 1
		r.more += x.Last - seq
	}
	return true
}

func (r *ranges) contains(seq uint64) bool {
	_, ok := r.find(seq)
	return ok
}

func (r *ranges) find(seq uint64) (int, bool) {
	i, _ := slices.BinarySearchFunc(r.list, seq, func(x SeqRange, seq uint64) int {
		switch {
		case x.Last < seq:
			return -1
		case x.First > seq:
			return 1
		}
		return 0
	})
	return i, i < len(r.list) && r.list[i].First <= seq && seq <= r.list[i].Last
}

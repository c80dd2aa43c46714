package watch

import "slices"

// serialWindow is how long (seconds of audit time) a missing serial may be
// overtaken by later ones before it counts as lost: records of concurrent
// events interleave, but not by seconds.
const serialWindow = 5

// serials finds holes in the kernel's event serials of one node: every
// event the kernel emits takes the next serial, so a serial that never
// shows up is an event auditd did not write (lost in the kernel, or sent
// while no auditd was there to log it). auditd's own DAEMON_* records carry
// serials of their own and are not given to it.
type serials struct {
	next   uint64           // the lowest serial not yet seen; 0 before the first
	ahead  map[uint64]int64 // serials seen above next, with their audit seconds
	latest int64
}

// missing is a run of serials that never appeared.
type missing struct {
	from, to uint64
	sec      int64 // when the first serial after the hole was seen
}

func (s *serials) see(serial uint64, sec int64) {
	prevLatest := s.latest
	if sec > s.latest {
		s.latest = sec
	}
	switch {
	case s.next == 0 || serial < s.next && sec > prevLatest+serialWindow:
		// the first serial; or a lower serial later than anything seen:
		// the kernel counting again after a reboot
		s.next, s.ahead = serial+1, nil
	case serial < s.next:
		// an earlier record of an event already counted
	case serial == s.next:
		s.next++
		for {
			if _, ok := s.ahead[s.next]; !ok {
				break
			}
			delete(s.ahead, s.next)
			s.next++
		}
	default:
		if s.ahead == nil {
			s.ahead = map[uint64]int64{}
		}
		if _, ok := s.ahead[serial]; !ok {
			s.ahead[serial] = sec
		}
	}
}

// expire reports the holes that later serials have overtaken by more than
// serialWindow seconds, and moves past them.
func (s *serials) expire() []missing {
	var out []missing
	for len(s.ahead) > 0 {
		keys := make([]uint64, 0, len(s.ahead))
		for k := range s.ahead {
			keys = append(keys, k)
		}
		first := slices.Min(keys)
		sec := s.ahead[first]
		if s.latest-sec < serialWindow {
			break
		}
		out = append(out, missing{from: s.next, to: first - 1, sec: sec})
		delete(s.ahead, first)
		s.next = first
		s.see(first, sec) // consume it and whatever follows
	}
	return out
}

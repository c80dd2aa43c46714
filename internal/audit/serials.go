package audit

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"strings"
)

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
	node   string           // its node= name (a copy), "" for none
	next   uint64           // the lowest serial not yet seen; 0 before the first
	ahead  map[uint64]int64 // serials seen above next, with their audit seconds
	latest int64
	high   uint64 // the highest serial seen
	live   bool   // a record of this run was seen (not only a Resume)
	// stops are the highest serials seen at auditd's DAEMON_ENDs, in
	// order: a hole right above one holds auditd's own records of its
	// restart (afterStop). high is kept as records come, not derived from
	// next and ahead at each DAEMON_END: ahead may be large, and a log of
	// DAEMON_ENDs would make that quadratic.
	stops []uint64
}

// maxStops bounds the DAEMON_ENDs waiting for their hole: a log of nothing
// else must not grow them without end.
const maxStops = 64

// missing is a run of serials that never appeared.
type missing struct {
	from, to uint64
	sec      int64 // when the first serial after the hole was seen
	restart  bool  // it begins right after auditd stopped (afterStop)
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
		s.next, s.ahead, s.high, s.stops = serial+1, nil, serial, s.stops[:0]
		return
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
	s.high = max(s.high, serial)
}

// stop notes auditd's DAEMON_END: the serial after the last one seen is
// about to be its unregistration, which no auditd logs.
func (s *serials) stop() {
	if s.next == 0 {
		return
	}
	if len(s.stops) == maxStops {
		s.stops = append(s.stops[:0], s.stops[1:]...)
	}
	s.stops = append(s.stops, s.high)
}

// afterStop reports whether the hole m begins right after a DAEMON_END.
// The kernel then emits records while no auditd reads them: the old
// daemon unregistering (the hole's first serial) and often a second: the
// new daemon turning auditing on before it registers, or, in plugin mode,
// the old plugin leaving the kernel's multicast group, as the kernel's
// log showed (watch reads it there). Five restarts on Linux 6.18 with
// auditd 3.0.9 left one or two such serials; whether a second one is the
// restart's or another event while auditd was down, the serials alone do
// not tell.
func (s *serials) afterStop(m missing) bool {
	restart := false
	for len(s.stops) > 0 && s.stops[0] < m.from {
		restart = restart || s.stops[0] == m.from-1
		s.stops = s.stops[1:]
	}
	return restart
}

// expire reports the holes that later serials have overtaken by more than
// serialWindow seconds, and moves past them. The serials ahead are sorted
// once: a filtered log (ausearch -k) has a hole before nearly every event.
func (s *serials) expire() []missing {
	if len(s.ahead) == 0 {
		return nil
	}
	var out []missing
	for _, first := range slices.Sorted(maps.Keys(s.ahead)) {
		sec, ok := s.ahead[first]
		if !ok {
			continue // consumed with the run before it
		}
		if s.latest-sec < serialWindow {
			break
		}
		m := missing{from: s.next, to: first - 1, sec: sec}
		m.restart = s.afterStop(m)
		out = append(out, m)
		delete(s.ahead, first)
		s.next = first
		s.see(first, sec) // consume it and whatever follows
	}
	return out
}

// rest reports every hole left at the end of the input: whatever was
// missing before the last serials seen never came.
func (s *serials) rest() []missing {
	latest := s.latest
	s.latest = math.MaxInt64 // beyond any window
	out := s.expire()
	s.latest = latest
	return out
}

// Gap is a run of serials of one node that no record carried: events the
// kernel emitted that the log does not have.
type Gap struct {
	Node     string
	From, To uint64
	Sec      int64 // audit time of the first serial after the hole
	// Restart: the hole begins right after auditd stopped (DAEMON_END).
	// Its first serial is the old daemon unregistering, and often its
	// second the new one turning auditing on or the old plugin leaving the
	// multicast group: records the kernel emits while no auditd reads
	// them, on every restart.
	Restart bool
}

// Events is how many events the gap stands for.
func (g Gap) Events() uint64 { return g.To - g.From + 1 }

// RestartSerials is how many serials of its own a restart of auditd is
// seen to leave unlogged, at most: a Restart gap of no more is what every
// restart leaves, not evidence that anything else was missed.
const RestartSerials = 2

// OnlyRestart reports whether the gap is no more than a restart of auditd
// leaves of its own.
func (g Gap) OnlyRestart() bool { return g.Restart && g.Events() <= RestartSerials }

// Gaps finds holes in the event serials of each node of a stream of
// records: evidence of records lost in the kernel or while auditd was not
// logging (or left out by a filter such as ausearch -k). auditd's own
// DAEMON_* records carry serials of their own and are not counted; a hole
// right after auditd stopped is marked (Gap.Restart).
type Gaps struct {
	nodes   map[string]*serials
	pruneAt int
	// the last record's node and its serials: most logs have one node, and
	// the map look-up was a tenth of reading a record
	last     *serials
	lastNode string
}

// See takes the serial of one record.
func (g *Gaps) See(r Record) {
	if strings.HasPrefix(r.Type, "DAEMON_") {
		if r.Type == "DAEMON_END" {
			if s := g.nodes[r.Node]; s != nil {
				s.stop()
			}
		}
		return
	}
	if s := g.last; s != nil && r.Node == g.lastNode {
		s.see(r.Serial, r.Time.Sec) // live: set when it became g.last
		return
	}
	if g.nodes == nil {
		g.nodes = map[string]*serials{}
	}
	s := g.nodes[r.Node]
	if s == nil {
		if len(g.nodes) >= max(maxNodes, g.pruneAt) {
			// a file of a million node= names: let go of those with no
			// hole waiting (their next serial starts them again), and look
			// again when as many again are added
			for name, o := range g.nodes {
				if len(o.ahead) == 0 {
					delete(g.nodes, name)
				}
			}
			g.pruneAt = 2 * len(g.nodes)
		}
		s = &serials{node: strings.Clone(r.Node)}
		g.nodes[s.node] = s
	}
	g.last, g.lastNode = s, s.node // after any prune, so never one let go
	s.live = true
	s.see(r.Serial, r.Time.Sec)
}

// Expire reports the holes later serials have overtaken by more than a few
// seconds of audit time, for a live reader.
func (g *Gaps) Expire() []Gap { return g.collect((*serials).expire) }

// Flush reports every hole left, at the end of the input.
func (g *Gaps) Flush() []Gap { return g.collect((*serials).rest) }

func (g *Gaps) collect(take func(*serials) []missing) []Gap {
	var out []Gap
	for node, s := range g.nodes {
		for _, m := range take(s) {
			out = append(out, Gap{Node: node, From: m.from, To: m.to, Sec: m.sec, Restart: m.restart})
		}
	}
	slices.SortFunc(out, func(a, b Gap) int { return cmp.Or(strings.Compare(a.Node, b.Node), cmp.Compare(a.From, b.From)) })
	return out
}

// SerialMark is where one node's serials stood when a reader stopped: the
// highest seen, and the DAEMON_ENDs not yet followed by their hole. A plugin that auditd restarts with itself resumes from it,
// so that the hole the restart leaves is seen (Gaps.Resume).
type SerialMark struct {
	Node  string   `json:"node,omitempty"`
	High  uint64   `json:"high"`
	Stops []uint64 `json:"stops,omitempty"`
}

// Marks are the marks of the nodes this run saw records of, for Resume;
// call Flush first, since the holes still open are not in them. A node
// only resumed is left out: one that sends no more must not keep an old
// mark through every restart.
func (g *Gaps) Marks() []SerialMark {
	var out []SerialMark
	for node, s := range g.nodes {
		if s.next > 0 && s.live {
			out = append(out, SerialMark{Node: node, High: s.high, Stops: slices.Clone(s.stops)})
		}
	}
	slices.SortFunc(out, func(a, b SerialMark) int { return strings.Compare(a.Node, b.Node) })
	return out
}

// Resume starts each node's serials from its mark, as if the serials up to
// the mark's had been seen. A mark of a node Gaps knows already, or past
// the nodes it keeps, is ignored.
func (g *Gaps) Resume(marks []SerialMark) {
	if g.nodes == nil {
		g.nodes = map[string]*serials{}
	}
	for _, m := range marks {
		if m.High == 0 || g.nodes[m.Node] != nil || len(g.nodes) >= maxNodes {
			continue
		}
		// this run's records judge the holes by their own audit time: a
		// clock stepped back across the restart must not age them at once
		s := &serials{node: strings.Clone(m.Node)}
		s.see(m.High, 0)
		for _, st := range m.Stops {
			if st <= m.High && len(s.stops) < maxStops {
				s.stops = append(s.stops, st)
			}
		}
		g.nodes[s.node] = s
	}
}

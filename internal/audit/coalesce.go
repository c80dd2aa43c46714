package audit

import (
	"strings"
	"time"
)

// Member names one event folded into a coalesced one.
type Member struct {
	Time   Stamp
	Serial uint64
}

// Coalescer folds the audit configuration changes that one process makes in
// one run (auditctl -R, augenrules --load, auditd loading its rules, a
// hand-typed auditctl) into one event: the kernel logs a CONFIG_CHANGE
// event for every rule, and a load of a hundred rules is one act, not a
// hundred. A group ends with an event of any other process (or anything
// but a configuration change), or when the caller says the stream went
// quiet (Expire). Events pass through in order, but for auditd's own notes
// (DAEMON_CONFIG, DAEMON_ROTATE…) within a group, which pass before it.
type Coalescer struct {
	// RestartQuiet, when set, replaces the default wait for a DAEMON_START
	// after a DAEMON_END (tests shorten it).
	RestartQuiet time.Duration

	pending *Event
	pid     string    // of a configuration change; "" for a stopped auditd
	seen    time.Time // when the pending group last grew
}

// How long a group waits for more: a process's changes come in one burst;
// auditd restarting writes its DAEMON_START within moments of DAEMON_END.
const (
	ConfigQuiet  = time.Second
	RestartQuiet = 5 * time.Second
	goneQuiet    = 200 * time.Millisecond
)

// Add takes the next complete event and calls emit for every event that is
// done: a closed group, then ev itself unless it opens or joins a group.
func (c *Coalescer) Add(ev *Event, now time.Time, emit func(*Event)) {
	// auditd stopping and starting again at once is a restart: one event
	if c.pending != nil && c.pid == "" && ev.Node == c.pending.Node && hasType(ev, "DAEMON_START") {
		ownRecords(ev)
		c.pending.Records = append(c.pending.Records, ev.Records...)
		c.pending.Members = append(c.pending.Members, Member{Time: ev.Time, Serial: ev.Serial})
		c.Flush(emit)
		return
	}
	// auditd writes its own messages (a reconfigure, a rotation) when it
	// gets to them, between the kernel's records of that moment: no other
	// process acted, the group goes on
	if c.pending != nil && c.pid != "" && isDaemonNote(ev) {
		emit(ev)
		return
	}
	pid, ok := configChangePID(ev)
	if c.pending != nil && ok && pid == c.pid && ev.Node == c.pending.Node {
		ownRecords(ev)
		c.pending.Records = append(c.pending.Records, ev.Records...)
		c.pending.Members = append(c.pending.Members, Member{Time: ev.Time, Serial: ev.Serial})
		c.pending.Truncated = c.pending.Truncated || ev.Truncated
		c.seen = now
		return
	}
	c.Flush(emit)
	if hasType(ev, "DAEMON_END") {
		ownRecords(ev)
		ev.Members = []Member{{Time: ev.Time, Serial: ev.Serial}}
		c.pending, c.pid, c.seen = ev, "", now
		return
	}
	if !ok {
		emit(ev)
		return
	}
	// held across the reader's buffers: the records own their text
	ownRecords(ev)
	ev.Members = []Member{{Time: ev.Time, Serial: ev.Serial}}
	c.pending, c.pid, c.seen = ev, pid, now
}

// Expire closes the pending group when nothing joined it for its quiet
// time, or, for a configuration change, when its process is gone (gone may
// be nil: files have no processes to ask).
func (c *Coalescer) Expire(now time.Time, gone func(pid string) bool, emit func(*Event)) {
	if c.pending == nil {
		return
	}
	quiet := ConfigQuiet
	if c.pid == "" {
		quiet = RestartQuiet
		if c.RestartQuiet > 0 {
			quiet = c.RestartQuiet
		}
	}
	// the records of a process come after it is gone (the kernel queues
	// them): gone only closes a group that has had a moment's quiet too
	if now.Sub(c.seen) >= quiet || (c.pid != "" && gone != nil && now.Sub(c.seen) >= goneQuiet && gone(c.pid)) {
		c.Flush(emit)
	}
}

// isDaemonNote reports whether ev is one of auditd's own messages other
// than its start, end and abort, which stand for what happened to the
// daemon and keep their place.
func isDaemonNote(ev *Event) bool {
	for i := range ev.Records {
		switch t := ev.Records[i].Type; t {
		case "DAEMON_START", "DAEMON_END", "DAEMON_ABORT":
			return false
		default:
			if !strings.HasPrefix(t, "DAEMON_") {
				return false
			}
		}
	}
	return len(ev.Records) > 0
}

func hasType(ev *Event, typ string) bool {
	for i := range ev.Records {
		if ev.Records[i].Type == typ {
			return true
		}
	}
	return false
}

// Flush closes the pending group: the end of the input.
func (c *Coalescer) Flush(emit func(*Event)) {
	if ev := c.pending; ev != nil {
		c.pending = nil
		emit(ev)
	}
}

// Stopped is the DAEMON_END waiting for its DAEMON_START, nil when none
// waits. (Its pid= is whoever signalled auditd, not auditd.)
func (c *Coalescer) Stopped() *Event {
	if c.pending == nil || c.pid != "" || !hasType(c.pending, "DAEMON_END") {
		return nil
	}
	return c.pending
}

// Pending is the group being gathered, nil for none.
func (c *Coalescer) Pending() *Event { return c.pending }

func ownRecords(ev *Event) {
	for i := range ev.Records {
		ev.Records[i].Own()
	}
}

// configChangePID reports whether ev is a change of the audit rules or
// settings, and the pid that made it (from its SYSCALL record, else the
// CONFIG_CHANGE record's own pid field).
func configChangePID(ev *Event) (string, bool) {
	if !hasType(ev, "CONFIG_CHANGE") {
		return "", false // nearly every event: no need to look for its pid
	}
	change := false
	pid := ""
	for i := range ev.Records {
		r := &ev.Records[i]
		switch r.Type {
		case "CONFIG_CHANGE":
			change = true
			if pid == "" {
				pid = fieldOf(r.Body, "pid")
			}
		case "SYSCALL":
			if p := fieldOf(r.Body, "pid"); p != "" {
				pid = p
			}
		}
	}
	return pid, change && pid != ""
}

// fieldOf is the raw value of key in a record body, "" when absent.
func fieldOf(body, key string) string {
	for i := 0; i < len(body); {
		j := strings.Index(body[i:], key+"=")
		if j < 0 {
			return ""
		}
		j += i
		if j == 0 || body[j-1] == ' ' {
			v := body[j+len(key)+1:]
			if k := strings.IndexAny(v, " \x1d"); k >= 0 {
				v = v[:k]
			}
			return v
		}
		i = j + len(key) + 1
	}
	return ""
}

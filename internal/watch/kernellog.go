package watch

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gotrail/gotrail/internal/audit"
	"github.com/gotrail/gotrail/internal/kmsg"
)

// holeEvidence is what the kernel's own log (kmsg) says of the serials of
// a hole in audit.log: the kernel prints the records no auditd took, as
// its rate limit allows.
type holeEvidence struct {
	looked bool     // the kernel's log was read
	found  int      // serials of the hole it holds
	own    []string // those that are auditd's own restart, described
	other  []string // those that are not: events while no auditd logged
}

// maxDescribed bounds the serials a gap's message names, of each sort.
const maxDescribed = 4

// kernelEvidence reads the kernel's log for the serials of g, on this
// host's node only (another node's serials are another kernel's).
func (w *Watcher) kernelEvidence(g audit.Gap) holeEvidence {
	if w.opt.KernelLog == nil || (g.Node != "" && g.Node != w.opt.Host) {
		return holeEvidence{}
	}
	// the hole's records came before the first one after it; a second's
	// slack for the milliseconds Sec leaves out
	found, err := w.opt.KernelLog(g.From, g.To, g.Sec+1)
	if err != nil {
		// once: a container without /dev/kmsg would say it at every hole
		if !w.kernelLogWarned {
			w.kernelLogWarned = true
			w.opt.Log.Warn("the kernel's log could not be read for a hole in the serials; holes are judged by their size", "from", g.From, "to", g.To, "err", err)
		}
		if found == nil {
			return holeEvidence{}
		}
	}
	return weighEvidence(found)
}

// weighEvidence sorts the serials found into auditd's own and the rest.
func weighEvidence(found map[uint64][]kmsg.Record) holeEvidence {
	ev := holeEvidence{looked: true, found: len(found)}
	serials := make([]uint64, 0, len(found))
	for s := range found {
		serials = append(serials, s)
	}
	slices.Sort(serials)
	for _, s := range serials {
		recs := found[s]
		desc := fmt.Sprintf("serial %d: %s", s, describe(recs))
		if restartOwn(recs) {
			ev.own = append(ev.own, desc)
		} else {
			ev.other = append(ev.other, desc)
		}
	}
	return ev
}

// restartOwn reports whether the records of one serial are what a restart
// of auditd makes the kernel emit while no daemon reads: the old daemon
// unregistering (op=set audit_pid=0), the new one setting the kernel up
// before it registers (a CONFIG_CHANGE by auditd itself), an audit reader
// leaving or joining the kernel's multicast group (EVENT_LISTENER: the old
// plugin's exec catcher as it exits with auditd), or systemd's
// SERVICE_STOP and SERVICE_START of auditd.
func restartOwn(recs []kmsg.Record) bool {
	byAuditd := slices.ContainsFunc(recs, func(r kmsg.Record) bool {
		return r.Type == 1300 && strings.Contains(r.Body, ` comm="auditd" `)
	})
	for _, r := range recs {
		switch {
		case r.Type == 1305 && strings.HasPrefix(r.Body, "op=set audit_pid="):
			return true
		case r.Type == 1305 && strings.HasPrefix(r.Body, "op=set ") && byAuditd:
			return true
		case (r.Type == 1130 || r.Type == 1131) && strings.Contains(r.Body, "'unit=auditd "):
			return true
		case r.Type == 1335 && (strings.HasSuffix(r.Body, " op=disconnect res=1") || strings.HasSuffix(r.Body, " op=connect res=1")):
			return true
		}
	}
	return false
}

// describe is a serial's first record, its type named and its fields cut
// short: enough for a reader of the trail to know what it was.
func describe(recs []kmsg.Record) string {
	if len(recs) == 0 {
		return ""
	}
	body := recs[0].Body
	if len(body) > 160 {
		body = strings.ToValidUTF8(body[:160], "") + "…"
	}
	return kmsg.TypeName(recs[0].Type) + " " + body
}

// judgeGap is the severity of a hole and what its message adds, from its
// place (right after a DAEMON_END or not), its size and the kernel's log.
// A serial the kernel printed that is not auditd's own is an event that
// happened while no auditd logged: high, whatever the hole's size. A hole
// after a DAEMON_END is info when it is no bigger than a restart leaves,
// or when the kernel's log holds every serial and each is auditd's own (a
// restart under systemd leaves its SERVICE_STOP too).
func judgeGap(g audit.Gap, ev holeEvidence) (severity, why string) {
	n := g.Events()
	all := ev.looked && uint64(ev.found) == n
	switch {
	case len(ev.other) > 0:
		return "high", fmt.Sprintf(": the kernel's log shows %d of them %s while no auditd was logging: %s",
			len(ev.other), wereWas(len(ev.other)), list(ev.other)) + ownSentence(ev)
	case g.Restart && all:
		return "info", " across a restart of auditd: the kernel's log holds every one of them, each the restart's own: " + list(ev.own)
	case g.OnlyRestart():
		return "info", " across a restart of auditd: as on every restart, the kernel's records of the old daemon unregistering and often of the new one registering, which no auditd reads" + ownSentence(ev)
	case g.Restart:
		return "high", fmt.Sprintf(" across a restart of auditd: up to %d are its own unregistering and registering, the rest were sent while auditd was not logging", audit.RestartSerials) + ownSentence(ev)
	default:
		return "high", ": lost in the kernel or sent while auditd was not logging" + ownSentence(ev)
	}
}

func wereWas(n int) string {
	if n == 1 {
		return "was an event"
	}
	return "were events"
}

// ownSentence says which serials the kernel's log shows to be auditd's own.
func ownSentence(ev holeEvidence) string {
	if len(ev.own) == 0 {
		return ""
	}
	return fmt.Sprintf("; the kernel's log shows %d of them to be the restart's own: %s", len(ev.own), list(ev.own))
}

// list joins up to maxDescribed descriptions, saying how many more.
func list(descs []string) string {
	if len(descs) <= maxDescribed {
		return strings.Join(descs, "; ")
	}
	return strings.Join(descs[:maxDescribed], "; ") + fmt.Sprintf("; and %d more", len(descs)-maxDescribed)
}

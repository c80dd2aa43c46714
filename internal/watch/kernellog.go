package watch

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gotrail/gotrail/internal/audit"
	"github.com/gotrail/gotrail/internal/kmsg"
)

// holeEvidence is what the kernel's own log (kmsg) says of the serials of
// a hole in audit.log: the kernel prints the records no auditd took, as
// its rate limit allows.
type holeEvidence struct {
	found int      // serials of the hole it holds and tells (own or other)
	own   []string // those that are auditd's own restart, described
	other []string // those that are not: events while no auditd logged
}

// maxDescribed bounds the serials a gap's message names, of each sort.
const maxDescribed = 4

// restartLookBack bounds how long before the first record after a hole
// its records are looked for: a restart's are seconds old, and a serial
// the kernel counted before its counter wrapped, far older, is not one of
// them. Records of a longer stop are not looked for, and leave the hole to
// its size.
const restartLookBack = 60

// kernelEvidence reads the kernel's log for the serials of g: a hole
// right after a DAEMON_END, on this host's node (another node's serials
// are another kernel's). Other holes are high whatever the log says, and
// reading the whole log at each of a storm of them would stall the
// watcher when it is furthest behind.
func (w *Watcher) kernelEvidence(g audit.Gap) holeEvidence {
	if w.opt.KernelLog == nil || !g.Restart || (g.Node != "" && g.Node != w.opt.Host) {
		return holeEvidence{}
	}
	// the hole's records came before the first one after it; a second's
	// slack for the milliseconds Sec leaves out
	found, err := w.opt.KernelLog(g.From, g.To, g.Sec-restartLookBack, g.Sec+1)
	if err != nil {
		// once: a container without /dev/kmsg would say it at every hole
		if !w.kernelLogWarned {
			w.kernelLogWarned = true
			w.opt.Log.Warn("the kernel's log could not be read for a hole in the serials; holes are judged by their size", "from", g.From, "to", g.To, "err", err)
		}
		// what was read before the error still counts: a hole is info by
		// it only if every serial was found
		if found == nil {
			return holeEvidence{}
		}
	}
	return weighEvidence(found, w.opt.SelfExe)
}

// weighEvidence sorts the serials found into auditd's own and the rest.
func weighEvidence(found map[uint64][]kmsg.Record, selfExe string) holeEvidence {
	var ev holeEvidence
	for _, s := range slices.Sorted(maps.Keys(found)) {
		recs := found[s]
		desc := fmt.Sprintf("serial %d: %s", s, describe(recs))
		switch judgeSerial(recs, selfExe) {
		case restartRecord:
			ev.own = append(ev.own, desc)
			ev.found++
		case otherEvent:
			ev.other = append(ev.other, desc)
			ev.found++
		}
	}
	return ev
}

// The records a restart of auditd makes the kernel emit while no daemon
// reads them, each matched whole (a prefix could be text that another
// kernel log line, such as an nftables log prefix, lets anyone choose):
var (
	// the old daemon unregistering
	ownUnregister = regexp.MustCompile(`^op=set audit_pid=0 old=[0-9]+ auid=[0-9]+ ses=[0-9]+(?: subj=[^ ]+)? res=1$`)
	// the new daemon turning auditing on before it registers, with its
	// syscall, whose program must be auditd's (a comm is anyone's to set)
	ownEnable = regexp.MustCompile(`^op=set audit_enabled=1 old=[01] auid=[0-9]+ ses=[0-9]+(?: subj=[^ ]+)? res=1$`)
	// a syscall of root's that no rule's key picked out, and its program
	ownSyscall   = regexp.MustCompile(`^arch=[0-9a-f]+ syscall=[0-9]+ success=yes exit=[0-9]+ (?:a[0-3]=[0-9a-f]+ ){4}items=0 ppid=[0-9]+ pid=[0-9]+ auid=[0-9]+ uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=[^ ]+ ses=[0-9]+ comm="[^"]*" exe="([^"]*)"(?: subj=[^ ]+)? key=\(null\)$`)
	ownSockaddr  = regexp.MustCompile(`^saddr=[0-9A-F]+$`)
	ownProctitle = regexp.MustCompile(`^proctitle=[^ ]+$`)
	// the old plugin leaving the kernel's multicast group as it exits
	// (EVENT_LISTENER), or the new one joining it: this program's
	ownListener = regexp.MustCompile(`^pid=[0-9]+ uid=0 auid=[0-9]+ tty=[^ ]+ ses=[0-9]+(?: subj=[^ ]+)? comm="[^"]*" exe="([^"]*)" nl-mcgrp=1 op=(?:dis)?connect res=1$`)
	// systemd stopping or starting auditd.service
	ownService = regexp.MustCompile(`^pid=1 uid=0 auid=[0-9]+ ses=[0-9]+(?: subj=[^ ]+)? msg='unit=auditd comm="systemd" exe="(?:/usr)?/lib/systemd/systemd" hostname=\? addr=\? terminal=\? res=success'$`)
)

// serialVerdict is what the kernel's records of one serial show it to be.
type serialVerdict int

const (
	restartRecord serialVerdict = iota // the restart's own
	otherEvent                         // an event while no auditd logged
	unknownRecord                      // the restart's, but not all of it printed
)

// judgeSerial tells the records of one serial apart: the restart's own if
// they are all of what a restart of auditd makes the kernel emit while no
// daemon reads (the old daemon unregistering; the new one turning auditing
// on, with its syscall; the old plugin, this program at selfExe, leaving
// the multicast group; systemd's SERVICE_STOP or SERVICE_START of auditd),
// another event if one record is anything else (a go run's EXECVE, a
// syscall of another program). The new daemon's change without its
// syscall, or the other way round, is unknown: the rate limit of the
// kernel's printing drops lines, and its program cannot be checked.
func judgeSerial(recs []kmsg.Record, selfExe string) serialVerdict {
	if len(recs) == 0 {
		return unknownRecord
	}
	var enable, listener bool
	sysExe := "" // the program of the serial's syscall, if any
	for _, r := range recs {
		switch {
		case len(recs) == 1 && r.Type == 1305 && ownUnregister.MatchString(r.Body):
		case len(recs) == 1 && (r.Type == 1130 || r.Type == 1131) && ownService.MatchString(r.Body):
		case r.Type == 1305 && ownEnable.MatchString(r.Body):
			enable = true
		case r.Type == 1335 && selfExe != "" && isProgram(listenerExe(r.Body), selfExe):
			listener = true
		case r.Type == 1300 && sysExe == "":
			m := ownSyscall.FindStringSubmatch(r.Body)
			if m == nil {
				return otherEvent
			}
			sysExe = m[1]
		case r.Type == 1306 && ownSockaddr.MatchString(r.Body), r.Type == 1327 && ownProctitle.MatchString(r.Body):
		default:
			return otherEvent
		}
	}
	byAuditd := isProgram(sysExe, "/usr/sbin/auditd") || isProgram(sysExe, "/sbin/auditd")
	switch {
	case enable && listener:
		return otherEvent
	case enable && sysExe == "", !enable && !listener && sysExe != "":
		return unknownRecord // a part of the pair printed, the rest dropped
	case enable && !byAuditd, listener && sysExe != "" && !isProgram(sysExe, selfExe):
		return otherEvent
	}
	return restartRecord
}

// isProgram reports whether exe, as a record gives it, is the program at
// path, or its file replaced since (which the kernel marks).
func isProgram(exe, path string) bool {
	return exe != "" && (exe == path || exe == path+" (deleted)")
}

// listenerExe is the program of an EVENT_LISTENER record, "" if it is
// not one of leaving or joining the multicast group.
func listenerExe(body string) string {
	if m := ownListener.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// describe is what a serial's records say: the first, and the gist of
// its syscall (who ran what) where the first is not that, each with its
// type named, cut short and quoted (a user-space record's text is
// anyone's, and must not read as part of the message).
func describe(recs []kmsg.Record) string {
	if len(recs) == 0 {
		return ""
	}
	if recs[0].Type == 1300 {
		return kmsg.TypeName(1300) + " " + quoteShort(syscallGist(recs[0].Body))
	}
	out := kmsg.TypeName(recs[0].Type) + " " + quoteShort(recs[0].Body)
	if i := slices.IndexFunc(recs, func(r kmsg.Record) bool { return r.Type == 1300 }); i >= 0 {
		out += " by SYSCALL " + quoteShort(syscallGist(recs[i].Body))
	}
	return out
}

// quoteShort is s cut to 160 bytes (on a UTF-8 boundary) and quoted.
func quoteShort(s string) string {
	if len(s) > 160 {
		s = strings.ToValidUTF8(s[:160], "") + "…"
	}
	return strconv.Quote(s)
}

// gistKeys are the fields of a SYSCALL record that say who ran what.
var gistKeys = []string{"syscall", "success", "auid", "uid", "euid", "pid", "comm", "exe", "key"}

// syscallGist is the gistKeys fields of a SYSCALL record's body.
func syscallGist(body string) string {
	fields := strings.Fields(body)
	var out []string
	for _, k := range gistKeys {
		for _, f := range fields {
			if strings.HasPrefix(f, k+"=") {
				out = append(out, f)
				break
			}
		}
	}
	return strings.Join(out, " ")
}

// judgeGap is the severity of a hole and what its message adds, from its
// place (right after a DAEMON_END or not), its size and the kernel's log.
// A serial the kernel printed that is not auditd's own is an event that
// happened while no auditd logged: high, whatever the hole's size. A hole
// after a DAEMON_END is info when it is no bigger than a restart leaves,
// or when the kernel's log holds every serial and each is auditd's own (a
// restart under systemd leaves its SERVICE_STOP too).
func judgeGap(g audit.Gap, ev holeEvidence) (severity, why string) {
	all := uint64(ev.found) == g.Events() // a hole has one serial at least
	switch {
	case len(ev.other) > 0:
		return "high", fmt.Sprintf(": the kernel's log shows %d of them %s while no auditd was logging: %s",
			len(ev.other), wereWas(len(ev.other)), list(ev.other)) + ownSentence(ev)
	case g.Restart && all:
		return "info", " across a restart of auditd: the kernel's log holds every one of them, each the restart's own: " + list(ev.own)
	case g.OnlyRestart():
		return "info", " across a restart of auditd: as on every restart, the kernel's records of the old daemon unregistering and often of the new one setting the kernel up or the old plugin leaving its multicast group, which no auditd reads" + ownSentence(ev)
	case g.Restart:
		return "high", fmt.Sprintf(" across a restart of auditd: up to %d are the restart's own, the rest were sent while auditd was not logging", audit.RestartSerials) + ownSentence(ev)
	default: // the kernel's log is read only for a hole after a DAEMON_END
		return "high", ": lost in the kernel or sent while auditd was not logging"
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

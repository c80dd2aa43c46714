package classify

import (
	"strconv"

	"github.com/gotrail/gotrail/internal/event"
)

// TamperSeverity grades a change of the audit configuration by its effect:
// critical when it blinds auditing (a gotrail rule removed and not added
// again, auditing disabled, the failure mode, backlog or rate limit
// lowered, auditd stopped, auditd's files or programs changed), info when
// it keeps or strengthens it (a load that leaves gotrail's rules in place,
// rules added, the backlog raised, auditd starting).
func TamperSeverity(e *event.Event) string {
	switch e.Auditd.MessageType {
	case "daemon_start", "daemon_resume":
		return "info"
	case "daemon_end", "daemon_abort":
		if e.Event.Action == "restart" {
			return "info" // stopped and started again at once: nothing missed
		}
		return "critical"
	case "daemon_config", "daemon_err":
		return "medium"
	case "config_change":
	default:
		return "critical" // a file under /etc/audit, auditctl or auditd itself
	}
	c := e.Gotrail.AuditChange
	if c == nil {
		return "critical"
	}
	sev := "info"
	raise := func(s string) {
		if rank(s) > rank(sev) {
			sev = s
		}
	}
	if len(c.GotrailRemoved) > 0 || len(c.Missing) > 0 {
		raise("critical")
	}
	added, removed := 0, 0
	for _, r := range c.Added {
		added += r.Rules
	}
	for _, r := range c.Removed {
		removed += r.Rules
	}
	if removed > added {
		raise("medium") // the host's own rules, fewer than before
	}
	for _, s := range c.Settings {
		raise(settingSeverity(s))
	}
	if c.Refused > 0 {
		raise("low")
	}
	return sev
}

// settingSeverity grades one setting changed, old -> new.
func settingSeverity(s event.Setting) string {
	o, errO := strconv.ParseInt(s.Old, 10, 64)
	n, errN := strconv.ParseInt(s.New, 10, 64)
	if errO != nil || errN != nil {
		return "medium"
	}
	switch s.Name {
	case "enabled":
		if n == 0 {
			return "critical"
		}
	case "failure", "backlog_limit":
		if n < o {
			return "critical"
		}
	case "rate_limit": // 0 is no limit
		if n != 0 && (o == 0 || n < o) {
			return "critical"
		}
	case "backlog_wait_time":
		if n < o {
			return "medium"
		}
	case "loginuid_immutable":
		if n < o {
			return "high" // a login's auid can be changed again
		}
	}
	return "info"
}

func rank(s string) int { return event.SeverityRank(s) }

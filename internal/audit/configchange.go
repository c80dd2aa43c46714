package audit

import (
	"fmt"
	"strings"

	"github.com/gotrail/gotrail/internal/event"
)

// configChange is one CONFIG_CHANGE record: a rule added or removed
// (op=add_rule/remove_rule key=… list=… res=…), or a setting changed
// (op=set audit_backlog_limit=8192 old=64; op=set feature=loginuid_immutable
// old=0 new=1).
type configChange struct {
	op, key, dir string
	setting      string
	old, new     string
	refused      bool
}

// take reads one raw field of the record.
func (c *configChange) take(k, v string) {
	switch {
	case k == "op":
		c.op = v
	case k == "res":
		c.refused = v == "0" || v == "failed" || v == "no"
	case k == "old":
		c.old = v
	case k == "new":
		c.new = v
	case k == "feature":
		c.setting = v
	case strings.HasPrefix(k, "audit_") && c.setting == "":
		// audit_enabled, audit_failure, audit_backlog_limit,
		// audit_backlog_wait_time, audit_rate_limit
		c.setting, c.new = strings.TrimPrefix(k, "audit_"), v
	}
}

// summarize is what the changes of one process's run did, with the action
// and the words of the message.
func summarize(changes []configChange) (*event.AuditChange, string, string) {
	ac := &event.AuditChange{}
	// by key: the kernel names a rule it adds by its directory, but one it
	// deletes with all the others (-D) by nothing
	net := map[string]int{}
	dirs := map[string]string{} // of the removals of a key, when they agree
	var order []string
	count := func(list *[]event.RuleCount, key string) {
		for i := range *list {
			if (*list)[i].Key == key {
				(*list)[i].Rules++
				return
			}
		}
		*list = append(*list, event.RuleCount{Key: key, Rules: 1})
	}
	for _, c := range changes {
		if c.refused {
			ac.Refused++
			continue
		}
		key := c.key
		if key == "" || key == "(null)" {
			key = "-"
		}
		switch c.op {
		case "add_rule":
			count(&ac.Added, key)
			net[key]--
		case "remove_rule":
			count(&ac.Removed, key)
			if d, seen := dirs[key]; !seen {
				order = append(order, key)
				dirs[key] = c.dir
			} else if d != c.dir {
				dirs[key] = ""
			}
			net[key]++
		default:
			if c.setting != "" && c.old != c.new {
				ac.Settings = append(ac.Settings, event.Setting{Name: c.setting, Old: c.old, New: c.new})
			}
		}
	}
	for _, key := range order {
		if n := net[key]; n > 0 && strings.HasPrefix(key, "gotrail-") {
			ac.GotrailRemoved = append(ac.GotrailRemoved, event.RuleCount{Key: key, Dir: dirs[key], Rules: n})
		}
	}
	return ac, changeAction(ac), changeWords(ac)
}

// changeAction names what the run did: add_rule, remove_rule, set, or load
// for a mix (augenrules --load removes every rule, adds them again and sets
// the backlog).
func changeAction(ac *event.AuditChange) string {
	kinds := 0
	act := "audit-config"
	if len(ac.Added) > 0 {
		kinds, act = kinds+1, "add_rule"
	}
	if len(ac.Removed) > 0 {
		kinds, act = kinds+1, "remove_rule"
	}
	if len(ac.Settings) > 0 {
		kinds, act = kinds+1, "set"
	}
	if kinds > 1 {
		act = "load"
	}
	return act
}

func total(rs []event.RuleCount) int {
	n := 0
	for _, r := range rs {
		n += r.Rules
	}
	return n
}

func countsText(rs []event.RuleCount) string {
	var parts []string
	for _, r := range rs {
		s := fmt.Sprintf("%s %d", r.Key, r.Rules)
		if r.Dir != "" {
			s = fmt.Sprintf("%s in %s", r.Key, r.Dir)
			if r.Rules > 1 {
				s += fmt.Sprintf(" (%d)", r.Rules)
			}
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// changeWords says what the run did, for the message.
func changeWords(ac *event.AuditChange) string {
	var parts []string
	if n := total(ac.Removed); n > 0 {
		parts = append(parts, fmt.Sprintf("removed %d rule%s (%s)", n, plural(n), countsText(ac.Removed)))
	}
	if n := total(ac.Added); n > 0 {
		parts = append(parts, fmt.Sprintf("added %d rule%s (%s)", n, plural(n), countsText(ac.Added)))
	}
	for _, s := range ac.Settings {
		parts = append(parts, fmt.Sprintf("set %s %s → %s", s.Name, s.Old, s.New))
	}
	if ac.Refused > 0 {
		parts = append(parts, fmt.Sprintf("%d change%s refused", ac.Refused, plural(ac.Refused)))
	}
	if len(parts) == 0 {
		parts = append(parts, "changed the audit configuration")
	}
	s := strings.Join(parts, ", ")
	if len(ac.GotrailRemoved) > 0 {
		s += "; gotrail's rules removed and not added again: " + countsText(ac.GotrailRemoved)
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

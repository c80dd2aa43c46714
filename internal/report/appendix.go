package report

import (
	"strings"
	"time"

	"github.com/gotrail/gotrail/internal/event"
)

// appendix says how to get each figure again, with gotrail and with
// auditd's own tools, for the same period: an auditor trusts what they
// can reproduce.
func appendix(o *Options, rep *Report) []Reproduce {
	s := &rep.Scope
	src := " --trail"
	if s.Source != "trail" {
		src = ""
		for _, in := range s.Inputs {
			src += " " + shellQuote(in)
		}
	}
	period, ts := "", ""
	if s.Since != nil {
		period += " --since " + s.Since.UTC().Format(time.RFC3339)
		ts += " -ts " + s.Since.Local().Format("01/02/2006 15:04:05")
	}
	if s.Until != nil {
		period += " --until " + s.Until.UTC().Format(time.RFC3339)
		ts += " -te " + s.Until.Local().Format("01/02/2006 15:04:05")
	}
	// ausearch reads dates in the locale's form: C's is MM/DD/YYYY
	aus := "LC_ALL=C ausearch -i" + ts
	kinds := ""
	for _, k := range changeKinds {
		kinds += " --kind " + k
	}
	id := "SERIAL"
	if rs := rep.Proof.AuditChanges; len(rs) > 0 {
		id = serialOf(rs[0].ID)
	}
	pub := ""
	if o.PubKey != "" {
		pub = " --pubkey " + shellQuote(o.PubKey)
	}
	held := " --checkpoints COLLECTOR.log"
	if o.Held != "" {
		held = " --checkpoints " + shellQuote(o.Held)
	}
	out := []Reproduce{
		{"r_summary", "gotrail events" + src + period + kinds + " --format json | jq -r '[.gotrail.kind, .gotrail.severity, .user.audit.name, .gotrail.authorized] | @tsv' | sort | uniq -c",
			[]string{"LC_ALL=C aureport -k --summary" + ts, "LC_ALL=C aureport -f -i" + ts}},
		{"r_changes", "gotrail events" + src + period + kinds,
			[]string{aus + " -k gotrail-goroot -k gotrail-goenv -k gotrail-profile -k gotrail-path"}},
		{"r_exec", "gotrail events" + src + period + " --kind " + event.KindExec,
			[]string{aus + " -k gotrail-exec", "LC_ALL=C aureport -x --summary -i" + ts}},
		{"r_event", "gotrail events" + src + " --format json | jq 'select(.event.id == \"ID\")'",
			[]string{"ausearch -i -a " + id}},
		{"r_audit", "gotrail events" + src + period + " --kind audit.tamper --kind audit.rules",
			[]string{aus + " -m CONFIG_CHANGE,DAEMON_START,DAEMON_END,DAEMON_ABORT", aus + " -k gotrail-audit"}},
		{"r_gaps", "gotrail events" + src + period + " --kind audit.gap",
			[]string{"auditctl -s", "LC_ALL=C aureport --summary" + ts}},
		{"r_proof", "gotrail verify" + pub + held, nil},
		{"r_toolchain", "gotrail verify --toolchain GOROOT", nil},
		{"r_findings", "gotrail check --format json --fail-on none", nil},
		{"r_rules", "gotrail rules --check", []string{"auditctl -l", "auditctl -s"}},
	}
	return out
}

// serialOf is the serial of an event id SEC.MILLI:SERIAL, what
// ausearch -a takes.
func serialOf(id string) string {
	if _, serial, ok := strings.Cut(id, ":"); ok && serial != "" && strings.Trim(serial, "0123456789") == "" {
		return serial
	}
	return "SERIAL"
}

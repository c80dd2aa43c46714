package sink

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gotrail/gotrail/internal/event"
)

// alertText is the words of an alert in one language.
type alertText struct {
	title, host, who, as, what, program, when, why, id string
	unauthorized, weakened, tamper, gap, test          string
	more                                               string
}

var texts = map[string]alertText{
	"en": {
		title: "gotrail: Go environment alert", host: "Host", who: "Login user", as: "as", what: "What",
		program: "Program", when: "When", why: "Why", id: "Event",
		unauthorized: "no [[policy]] allows %s to make a %s change",
		weakened:     "the go process runs with supply-chain checks weakened: %s",
		tamper:       "auditing was weakened: the audit rules or settings changed, or auditd stopped",
		gap:          "audit records were lost: changes in that time may be missing",
		test:         "a test message from gotrail test-alert",
		more:         "and %d more:",
	},
	"zh": {
		title: "gotrail: Go 环境告警", host: "主机", who: "登录用户", as: "身份", what: "操作",
		program: "程序", when: "时间", why: "原因", id: "事件",
		unauthorized: "没有任何 [[policy]] 允许 %s 进行 %s 变更",
		weakened:     "go 进程在削弱了供应链校验的环境下运行: %s",
		tamper:       "审计被削弱: 审计规则或设置被修改, 或 auditd 已停止",
		gap:          "审计记录丢失: 期间的变更可能未被记录",
		test:         "来自 gotrail test-alert 的测试消息",
		more:         "另有 %d 条:",
	},
}

// reason says why an event alerts: the policy it broke.
func reason(t alertText, e *event.Event) string {
	switch {
	case e.Gotrail.Kind == "test":
		return t.test
	case e.Gotrail.Kind == event.KindTamper:
		return t.tamper
	case e.Gotrail.Kind == event.KindGap:
		return t.gap
	case e.Gotrail.Kind == event.KindExec:
		var weak []string
		for _, k := range []string{"GOSUMDB", "GOINSECURE", "GONOSUMDB", "GONOSUMCHECK", "GOPROXY", "GOFLAGS"} {
			if v, ok := e.Process.Getenv(k); ok {
				weak = append(weak, k+"="+v)
			}
		}
		sort.Strings(weak)
		return fmt.Sprintf(t.weakened, strings.Join(weak, " "))
	case e.Gotrail.Authorized != nil && !*e.Gotrail.Authorized:
		return fmt.Sprintf(t.unauthorized, e.LoginName(), e.Gotrail.Kind)
	}
	return e.Gotrail.Severity
}

// lines are the facts of an alert, already made safe for a chat message:
// control characters escaped, markdown's own characters left as text.
func lines(t alertText, e *event.Event) [][2]string {
	safe := func(s string) string { return string(AppendSafe(nil, s)) }
	who := e.LoginName()
	if eff := e.EffectiveName(); eff != "" && eff != who {
		who += " (" + t.as + " " + eff + ")"
	}
	what := e.Gotrail.Kind + " " + e.Event.Action
	if e.Gotrail.AuditChange != nil {
		what = e.Gotrail.Kind + ": " + e.Message // the rules and settings it changed
	} else if e.File != nil && e.File.Path != "" {
		what += " " + e.File.Path
		if e.Gotrail.PreviousPath != "" {
			what += " ← " + e.Gotrail.PreviousPath
		}
	} else if len(e.Process.Args) > 0 {
		what += " " + strings.Join(e.Process.Args, " ")
	}
	out := [][2]string{
		{t.host, safe(e.Host.Name)},
		{t.who, safe(who)},
		{t.what, safe(what)},
	}
	if e.Process.Executable != "" {
		out = append(out, [2]string{t.program, safe(e.Process.Executable)})
	}
	out = append(out,
		[2]string{t.when, e.Time.UTC().Format("2006-01-02 15:04:05.000 MST")},
		[2]string{t.why, safe(reason(t, e))},
		[2]string{t.id, safe(e.Event.ID)},
	)
	return out
}

// maxListed is how many alerts of a burst are listed one by one.
const maxListed = 10

// summarize counts alerts by kind, severity and login user, the largest
// groups first: "audit.tamper critical alice ×3, profile.modify high bob ×1".
func summarize(events []*event.Event) string {
	type group struct {
		what string
		n    int
	}
	var groups []group
	for _, e := range events {
		what := e.Gotrail.Kind + " " + e.Gotrail.Severity + " " + string(AppendSafe(nil, e.LoginName()))
		i := slices.IndexFunc(groups, func(g group) bool { return g.what == what })
		if i < 0 {
			groups = append(groups, group{what: what})
			i = len(groups) - 1
		}
		groups[i].n++
	}
	slices.SortStableFunc(groups, func(a, b group) int { return b.n - a.n })
	var parts []string
	for i, g := range groups {
		if i == maxListed {
			parts = append(parts, fmt.Sprintf("… (%d more groups)", len(groups)-i))
			break
		}
		parts = append(parts, fmt.Sprintf("%s ×%d", g.what, g.n))
	}
	return strings.Join(parts, ", ")
}

// RenderBurst builds one message for the alerts of a burst: the alert
// itself when there is one, else a summary line for each.
func (w *Webhook) RenderBurst(events []*event.Event) ([]byte, error) {
	if len(events) == 1 || w.format == "generic" {
		if w.format == "generic" && len(events) > 1 {
			var b []byte
			b = append(b, '[')
			for i, e := range events {
				if i > 0 {
					b = append(b, ',')
				}
				b = event.AppendJSON(b, e)
			}
			return append(b, ']'), nil
		}
		return w.Render(events[0])
	}
	t, ok := texts[w.lang]
	if !ok {
		t = texts["en"]
	}
	worst := ""
	for _, e := range events {
		if event.SeverityRank(e.Gotrail.Severity) > event.SeverityRank(worst) {
			worst = e.Gotrail.Severity
		}
	}
	title := fmt.Sprintf("%s [%s] ×%d (%s)", t.title, strings.ToUpper(worst), len(events), string(AppendSafe(nil, events[0].Host.Name)))
	var md, plain strings.Builder
	md.WriteString("**" + title + "**\n")
	plain.WriteString(title + "\n")
	// the worst first, in full; the rest summed up by kind and login user,
	// so that a storm never hides the alert that matters nor cuts the count
	sorted := slices.Clone(events)
	slices.SortStableFunc(sorted, func(a, b *event.Event) int {
		return event.SeverityRank(b.Gotrail.Severity) - event.SeverityRank(a.Gotrail.Severity)
	})
	listed := min(len(sorted), maxListed)
	for _, e := range sorted[:listed] {
		f := lines(t, e)
		// who, what, when, why
		line := f[1][1] + " · " + f[2][1] + " · " + e.Time.UTC().Format("15:04:05") + " · " + reason(t, e)
		line = string(AppendSafe(nil, line))
		md.WriteString("> " + line + "\n")
		plain.WriteString("- " + line + "\n")
	}
	if rest := sorted[listed:]; len(rest) > 0 {
		sum := fmt.Sprintf(t.more, len(rest)) + " " + summarize(rest)
		md.WriteString(sum + "\n")
		plain.WriteString(sum + "\n")
	}
	return w.body(title, md.String(), plain.String())
}

// Render builds the request body of the webhook's format.
func (w *Webhook) Render(e *event.Event) ([]byte, error) {
	t, ok := texts[w.lang]
	if !ok {
		t = texts["en"]
	}
	sev := strings.ToUpper(e.Gotrail.Severity)
	title := fmt.Sprintf("%s [%s]", t.title, sev)
	facts := lines(t, e)
	var md, plain strings.Builder
	md.WriteString("**" + title + "**\n")
	plain.WriteString(title + "\n")
	for _, f := range facts {
		md.WriteString("> " + f[0] + ": " + f[1] + "\n")
		plain.WriteString(f[0] + ": " + f[1] + "\n")
	}
	if w.format == "generic" {
		return event.AppendJSON(nil, e), nil
	}
	return w.body(title, md.String(), plain.String())
}

// body wraps a message in the format's request body.
func (w *Webhook) body(title, md, plain string) ([]byte, error) {
	var body any
	switch w.format {
	case "wecom":
		body = map[string]any{"msgtype": "markdown", "markdown": map[string]string{"content": md}}
	case "dingtalk":
		body = map[string]any{"msgtype": "markdown", "markdown": map[string]string{"title": title, "text": md}}
	case "feishu":
		body = map[string]any{"msg_type": "text", "content": map[string]string{"text": plain}}
	case "slack":
		body = map[string]any{"text": plain}
	default:
		return nil, fmt.Errorf("webhook format %q: want wecom, dingtalk, feishu, slack or generic", w.format)
	}
	// chat markdown quotes with '>': keep it readable, not \u003e
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

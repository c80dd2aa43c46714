package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/sink"
)

//go:embed report.html.tmpl
var pageTemplate string

//go:embed report.css
var pageCSS string

// Limits of the HTML page. A page of a million rows is no evidence anyone
// reads or prints (some 20,000 A4 pages) and a browser barely opens it;
// the JSON carries every row, and the page says how many it leaves out
// and how to list them.
const (
	MaxHTMLRows = 5000
	maxHTMLExec = 500
	maxObject   = 2048 // bytes of a path or command line shown in a cell
	maxListed   = 10   // rules missing or extra listed in the scope
)

// page is what the template reads.
type page struct {
	*Report
	Chart     *svgChart
	Rows      []Row
	MoreRows  int64
	TotalRows int64
	Execs     []ExecGroup
	MoreExec  int
	ListRows  string // the gotrail events command that lists every row
	Tamper    bool
	CSS       template.CSS // the stylesheet, ours: no value from a log
}

// WriteHTML renders the report as one self-contained page: inline CSS and
// SVG, no script, nothing fetched. Every string from a log is shown with
// its control characters escaped (sink.AppendSafe), then HTML-escaped by
// html/template.
func WriteHTML(w io.Writer, rep *Report) error {
	p := &page{Report: rep, Chart: chart(&rep.Chart), Tamper: rep.Tampered(), ListRows: listCommand(rep),
		CSS: template.CSS(pageCSS)}
	if err := p.pickRows(); err != nil {
		return err
	}
	p.Execs = rep.Execs.Groups
	if len(p.Execs) > maxHTMLExec {
		p.Execs, p.MoreExec = p.Execs[:maxHTMLExec], len(p.Execs)-maxHTMLExec
	}
	t, err := template.New("page").Funcs(funcs(rep.Lang)).Parse(pageTemplate)
	if err != nil {
		return fmt.Errorf("report: template: %w", err)
	}
	if err := t.Execute(w, p); err != nil {
		return fmt.Errorf("report: write: %w", err)
	}
	return nil
}

// pickRows takes the rows the page shows, in time order: every
// unauthorized change first within the limit, the others in what room is
// left, so a flood of routine changes cannot push an alert off the page.
func (p *page) pickRows() error {
	rs := p.Report.Changes
	p.TotalRows = rs.Len()
	alertQuota := min(rs.Alerts(), MaxHTMLRows)
	otherQuota := MaxHTMLRows - alertQuota
	var alerts, others int64
	err := rs.Each(func(r *Row) error {
		switch {
		case r.Alert() && alerts < alertQuota:
			alerts++
		case !r.Alert() && others < otherQuota:
			others++
		default:
			if alerts == alertQuota && others == otherQuota {
				return errStop
			}
			return nil
		}
		p.Rows = append(p.Rows, *r)
		return nil
	})
	p.MoreRows = p.TotalRows - int64(len(p.Rows))
	return err
}

func funcs(lang string) template.FuncMap {
	return template.FuncMap{
		"t": func(key string, args ...any) string { return tr(lang, key, args...) },
		"s": safe,
		"clip": func(s string) string {
			return safe(clip(s, maxObject))
		},
		"tm": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05.000")
		},
		"tp": func(t *time.Time) string {
			if t == nil {
				return tr(lang, "open")
			}
			return t.UTC().Format(time.RFC3339)
		},
		"verdict": func(v string) string { return tr(lang, "v_"+v) },
		"sev": func(s string) string {
			if event.SeverityRank(s) == 0 && s != "info" {
				return "info" // a class name only ever from the list
			}
			return s
		},
		"enabled": func(n int) string { return tr(lang, fmt.Sprintf("enabled%d", min(max(n, 0), 2))) },
		"short":   func(h string) string { return safe(clip(h, 16)) },
		"add":     func(a, b int) int { return a + b },
		"head":    func(l []string) []string { return l[:min(len(l), maxListed)] },
		"more":    func(l []string) int { return max(len(l)-maxListed, 0) },
	}
}

// safe is a string from a log as text: terminal escapes, other control
// characters, bidi controls (U+202E turns what follows around) and invalid
// UTF-8 shown as \x1b, \u202e, \xff.
func safe(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '\\' {
			return string(sink.AppendSafe(nil, s))
		}
	}
	return s
}

// listCommand is how to list every row of section 4 with gotrail events.
func listCommand(rep *Report) string {
	var b strings.Builder
	b.WriteString("gotrail events")
	if rep.Scope.Source == "trail" {
		b.WriteString(" --trail")
	}
	if rep.Scope.Since != nil {
		b.WriteString(" --since " + rep.Scope.Since.UTC().Format(time.RFC3339))
	}
	if rep.Scope.Until != nil {
		b.WriteString(" --until " + rep.Scope.Until.UTC().Format(time.RFC3339))
	}
	for _, k := range changeKinds {
		b.WriteString(" --kind " + k)
	}
	if rep.Execs.Listed {
		b.WriteString(" --kind " + event.KindExec)
	}
	if rep.Scope.Source != "trail" {
		for _, in := range rep.Scope.Inputs {
			b.WriteString(" " + shellQuote(in))
		}
	}
	return b.String()
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

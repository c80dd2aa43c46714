package collect

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gotrail/gotrail/internal/sink"
)

// safe makes what came from a collected file (host names, texts quoting
// it) fit for a terminal.
func safe(s string) string { return string(sink.AppendSafe(nil, s)) }

// WriteText writes the report for people: a paragraph per host, then a
// summary line.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, h := range r.Hosts {
		h.writeText(&b)
	}
	ok := 0
	for _, h := range r.Hosts {
		if h.Complete {
			ok++
		}
	}
	if r.Refused != nil {
		fmt.Fprintf(&b, "NOT complete: %s\n", r.Refused)
	}
	fmt.Fprintf(&b, "%d hosts, %d complete; %d lines read from %d files", len(r.Hosts), ok, r.Lines, len(r.Files))
	if r.Skipped > 0 || r.TooLong > 0 || r.LongHostName > 0 {
		fmt.Fprintf(&b, " (%d not gotrail's, %d too long", r.Skipped, r.TooLong)
		if r.LongHostName > 0 {
			fmt.Fprintf(&b, ", %d with a host name longer than %d bytes", r.LongHostName, maxHostName)
		}
		b.WriteString(": skipped)")
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func (h *HostReport) writeText(b *strings.Builder) {
	state := "complete"
	if !h.Complete {
		state = fmt.Sprintf("NOT complete (%d problems)", len(h.Problems)+int(h.MoreProblems))
	}
	fmt.Fprintf(b, "%s: %s: %d records, seq %d to %d", safe(h.Host), state, h.Records, h.First, h.Last)
	if h.CheckedFrom > 0 {
		fmt.Fprintf(b, " (checked from seq %d, the first the files hold: --from-first)", h.CheckedFrom)
	}
	if h.StartsAfter > 0 {
		fmt.Fprintf(b, " (the trail starts after seq %d, by the host's retention)", h.StartsAfter)
	}
	b.WriteString("\n")
	if p := h.Proven; p != nil {
		what := "checkpoint"
		if p.Anchor {
			what = "anchor"
		}
		fmt.Fprintf(b, "  proven up to seq %d by the %s signed at %s (%s); %d checkpoints matched\n",
			p.Seq, what, p.Time.Format(time.RFC3339), safe(p.Where), h.Checkpoints)
		if h.HashOnly > 0 {
			fmt.Fprintf(b, "  %d records after seq %d are covered by their hashes only, until the next checkpoint\n", h.HashOnly, p.Seq)
		}
	} else {
		b.WriteString("  proven by no checkpoint\n")
	}
	if h.MissingCount > 0 {
		fmt.Fprintf(b, "  missing: %d records: seq %s", h.MissingCount, joinRanges(h.Missing))
		if h.MissingMore > 0 {
			fmt.Fprintf(b, " and %d more", h.MissingMore)
		}
		b.WriteString("\n")
	}
	for _, p := range h.Problems {
		where := ""
		if p.Where != "" {
			where = " (" + safe(p.Where) + ")"
		}
		fmt.Fprintf(b, "  %s%s: %s\n", p.Kind, where, safe(p.Text))
	}
	if h.MoreProblems > 0 {
		fmt.Fprintf(b, "  … and %d more problems\n", h.MoreProblems)
	}
	for _, n := range h.Notes {
		fmt.Fprintf(b, "  note: %s\n", safe(n))
	}
}

func joinRanges(rs []SeqRange) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}

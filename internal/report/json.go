package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"unicode"
	"unicode/utf8"
)

// WriteJSON writes the report as one JSON object: the sections as the
// Report's fields, and "changes" with every row, streamed from the spill
// file so that a million rows need no memory.
func WriteJSON(w io.Writer, rep *Report) error {
	head, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("report: json: %w", err)
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	bw.Write(escapeBidi(head[:len(head)-1])) // without its closing brace
	fmt.Fprintf(bw, `,"changes_listed":%d,"changes":[`, rep.Changes.Len())
	first := true
	err = rep.Changes.Each(func(r *Row) error {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if !first {
			bw.WriteByte(',')
		}
		first = false
		bw.WriteString("\n")
		_, err = bw.Write(escapeBidi(b))
		return err
	})
	if err != nil {
		return fmt.Errorf("report: json: %w", err)
	}
	bw.WriteString("]}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("report: write: %w", err)
	}
	return nil
}

// escapeBidi writes bidi controls (U+202E and its kin) and C1 controls as
// \u escapes: the same string to a JSON parser, but one that cannot turn
// a terminal's or an editor's text around. encoding/json already escapes
// the C0 controls, <, > and &, U+2028 and U+2029.
func escapeBidi(b []byte) []byte {
	var out []byte
	start := 0
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if unicode.Is(unicode.Bidi_Control, r) || r >= 0x80 && r < 0xa0 {
			out = append(out, b[start:i]...)
			out = fmt.Appendf(out, `\u%04x`, r)
			start = i + n
		}
		i += n
	}
	if out == nil {
		return b
	}
	return append(out, b[start:]...)
}

package report

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gotrail/gotrail/internal/event"
)

// FuzzDecodeView: on any line as gotrail writes it the field scanner reads
// what encoding/json reads, and no line makes it fail the report.
func FuzzDecodeView(f *testing.F) {
	for i, h := range hostile {
		c := change(i, h.in, h.in, false)
		c.Process.Args = []string{"v\"i\\m", h.in}
		f.Add(event.AppendJSON(nil, c))
	}
	f.Add([]byte(`{"gotrail":{"kind":"go.exec"},"process":{"args":["a"],"executable":"/x"}}`))
	f.Add([]byte(`{"@timestamp":"2026-11-25T20:21:42.210Z","gotrail":{"kind":"profile.modify"},"file":null}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var fast view
		var arena []byte
		decodeView(line, &fast, &arena)
		var e event.Event
		decode := json.Unmarshal // today's shape; before ECS, event.Decode's
		if !bytes.Contains(line, []byte(`"gotrail":{`)) {
			decode = func(b []byte, _ any) error { return event.Decode(b, &e) }
		}
		if decode(line, &e) != nil {
			return
		}
		// only lines as gotrail writes them: encoding/json also takes keys
		// in any case, which no trail holds
		if !bytes.Equal(bytes.TrimSpace(event.AppendJSON(nil, &e)), bytes.TrimSpace(line)) {
			return
		}
		var slow view
		fromEvent(&e, &slow)
		rf, rs := toRow(&fast, kindOf(fast.Kind)), toRow(&slow, kindOf(slow.Kind))
		if rf != rs || string(command(&fast)) != string(command(&slow)) || !fast.Time.Equal(slow.Time) {
			t.Errorf("%q:\nscanner       %+v %q\nencoding/json %+v %q", line, rf, command(&fast), rs, command(&slow))
		}
	})
}

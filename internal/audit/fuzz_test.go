package audit

import (
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gotrail/gotrail/internal/event"
)

func addCorpusSeeds(f *testing.F) {
	data, err := os.ReadFile("testdata/host-activity.log")
	if err != nil {
		f.Fatalf("read seed corpus: %v", err)
	}
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i += 97 {
		f.Add(lines[i])
	}
	f.Add("node=x type=USER_CMD msg=audit(1.2:3): pid=1 msg='cwd=\"/\" cmd=6C73 res=success'")
	f.Add("type=AVC msg=audit(1.2:3): avc:  denied  { read } for pid=1")
	f.Add("type=PROCTITLE msg=audit(1.2:3): proctitle=1B5B33316D")
	f.Add("type=EXECVE msg=audit(1.2:3): argc=2 a0=\"x\" a1_len=4 a1[0]=4142 a1[1]=\"CD\"")
}

// FuzzParseRecord: no line makes the parser panic; a parsed record's strings
// lie inside the line, and every field interprets without panic.
func FuzzParseRecord(f *testing.F) {
	addCorpusSeeds(f)
	in := NewInterpreter(nil, "fuzz", true)
	f.Fuzz(func(t *testing.T, line string) {
		r, err := ParseRecord(line)
		if err != nil {
			return
		}
		if !strings.Contains(line, r.Body) || !strings.Contains(line, r.Type) {
			t.Fatalf("record %+v not taken from %q", r, line)
		}
		for _, fl := range r.Fields(nil) {
			if !strings.Contains(line, fl.Value) {
				t.Fatalf("field %+v not taken from %q", fl, line)
			}
			Value(r.Type, fl)
		}
		e := in.Interpret(&Event{Records: []Record{r}, Time: r.Time, Serial: r.Serial})
		b := event.AppendJSON(nil, e)
		if !utf8.Valid(b) {
			t.Fatalf("JSON for %q is not UTF-8: %q", line, b)
		}
	})
}

// FuzzFields: splitting any body terminates and yields only keys and values
// taken from it.
func FuzzFields(f *testing.F) {
	f.Add(`a=1 b="x y" msg='c=2 d="3"'` + "\x1d" + `E=x`)
	f.Add(`msg='unterminated`)
	f.Add(`="" == =' '`)
	f.Fuzz(func(t *testing.T, body string) {
		r := Record{Type: "EXECVE", Body: body}
		for _, fl := range r.Fields(nil) {
			if fl.Key == "" {
				t.Fatalf("empty key from %q", body)
			}
			if !strings.Contains(body, fl.Key) || !strings.Contains(body, fl.Value) {
				t.Fatalf("field %+v not taken from %q", fl, body)
			}
		}
	})
}

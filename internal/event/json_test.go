package event

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"
	"unsafe"
)

// sample fills an Event by reflection: every field, at any depth, gets a
// random value or stays empty, so a field added to Event and forgotten by
// AppendJSON or Clone fails the tests below.
func sample(r *rand.Rand) *Event {
	e := &Event{}
	fill(r, reflect.ValueOf(e).Elem())
	return e
}

func randString(r *rand.Rand) string {
	const alphabet = "ab/é\"\\\n\t\x00\x1b\x7f<>&\u2028\u2029\xff\xc3"
	n := r.IntN(12)
	b := make([]byte, 0, n)
	for range n {
		b = append(b, alphabet[r.IntN(len(alphabet))])
	}
	return string(b)
}

var rawType = reflect.TypeOf(json.RawMessage(nil))

func fill(r *rand.Rand, v reflect.Value) {
	switch {
	case v.Type() == reflect.TypeOf(Time{}):
		v.Set(reflect.ValueOf(Time{time.UnixMilli(r.Int64N(4e12)).UTC()}))
		return
	case v.Type() == rawType:
		if r.IntN(2) == 0 {
			v.Set(reflect.ValueOf(json.RawMessage(`[{"type":"SYSCALL","a":"b"}]`)))
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(randString(r))
	case reflect.Int, reflect.Int64:
		v.SetInt(r.Int64N(3) * r.Int64N(1e12))
	case reflect.Uint64:
		v.SetUint(r.Uint64())
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Pointer:
		if r.IntN(3) > 0 {
			v.Set(reflect.New(v.Type().Elem()))
			fill(r, v.Elem())
		}
	case reflect.Slice:
		n := r.IntN(4)
		if n == 0 {
			return
		}
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fill(r, s.Index(i))
		}
		v.Set(s)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(r, v.Field(i))
		}
	default:
		panic("sample: no filler for " + v.Type().String())
	}
}

// TestCloneSharesNothing: a clone equals its original and shares no string,
// slice or pointer with it.
func TestCloneSharesNothing(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		e := sample(r)
		c := Clone(e)
		if !reflect.DeepEqual(e, c) {
			t.Fatalf("case %d: the clone differs:\n%+v\n%+v", i, e, c)
		}
		if path := shared(reflect.ValueOf(e).Elem(), reflect.ValueOf(c).Elem(), "Event"); path != "" {
			t.Fatalf("case %d: the clone shares %s with the original", i, path)
		}
	}
}

// shared names the first memory a and b share, "" for none.
func shared(a, b reflect.Value, path string) string {
	switch a.Kind() {
	case reflect.String:
		if a.Len() > 0 && unsafe.StringData(a.String()) == unsafe.StringData(b.String()) {
			return path
		}
	case reflect.Pointer:
		if a.IsNil() {
			return ""
		}
		if a.Pointer() == b.Pointer() {
			return path
		}
		return shared(a.Elem(), b.Elem(), path)
	case reflect.Slice:
		if a.Len() > 0 && a.Pointer() == b.Pointer() {
			return path
		}
		for i := range a.Len() {
			if p := shared(a.Index(i), b.Index(i), path+"["+strconv.Itoa(i)+"]"); p != "" {
				return p
			}
		}
	case reflect.Struct:
		if a.Type() == reflect.TypeOf(Time{}) {
			return ""
		}
		for i := range a.NumField() {
			if p := shared(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); p != "" {
				return p
			}
		}
	}
	return ""
}

// TestAppendJSONMatchesEncodingJSON: the hand-written encoder must write
// what encoding/json writes, byte for byte, for any content.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		e := sample(r)
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
		got := AppendJSON(nil, e)
		if !bytes.Equal(got, bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got, want.Bytes())
		}
		var back Event
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("case %d: output does not parse back: %v", i, err)
		}
		if !back.Time.Equal(e.Time.Time) {
			t.Fatalf("case %d: time %v came back as %v", i, e.Time, back.Time)
		}
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2026-11-25T20:16:49Z", time.Date(2026, 11, 25, 20, 16, 49, 0, time.UTC)},
		{"2026-11-24", time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)},
		{"2h", now.Add(-2 * time.Hour)},
		{"7d", now.AddDate(0, 0, -7)},
		{"today", time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)},
		{"yesterday", time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in, now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "soon", "-2h", "2x", "d"} {
		if _, err := ParseTime(bad, now); err == nil {
			t.Errorf("ParseTime(%q) accepted", bad)
		}
	}
}

// FuzzDecode: any line, old shape or new, decodes without a panic; what
// AppendJSON writes decodes back to the same event.
func FuzzDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 20 {
		f.Add(AppendJSON(nil, sample(r)))
	}
	legacy, _ := os.ReadFile("../../cmd/gotrail/testdata/legacy-state/trail/trail-20261201-000000000001.jsonl")
	for l := range bytes.SplitSeq(legacy, []byte("\n")) {
		f.Add(l)
	}
	f.Add([]byte(`{"event":{"kind":"x","severity":"high"},"process":{"ppid":"x","env":{"A":1}}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var e Event
		if err := Decode(line, &e); err != nil {
			return
		}
		if !bytes.Contains(line, []byte(`"gotrail":{`)) {
			return // the old shape: read as meant, not byte for byte
		}
		out := AppendJSON(nil, &e)
		var back Event
		if err := Decode(out, &back); err != nil {
			t.Fatalf("AppendJSON's output does not decode: %v\n%s", err, out)
		}
		if again := AppendJSON(nil, &back); !bytes.Equal(again, out) {
			t.Fatalf("decode(encode(e)) differs:\n%s\n%s", out, again)
		}
	})
}

// TestAppendStringEscapesBidi: a bidi control in a process title reaches
// jq -r or a terminal escaped, and reads back as itself.
func TestAppendStringEscapesBidi(t *testing.T) {
	in := "/etc/\u202eelifor\u061c\u2066x\u2069\u200e"
	got := string(AppendString(nil, in))
	if want := `"/etc/\u202eelifor\u061c\u2066x\u2069\u200e"`; got != want {
		t.Errorf("AppendString = %s, want %s", got, want)
	}
	var back string
	if err := json.Unmarshal([]byte(got), &back); err != nil || back != in {
		t.Errorf("read back %q, %v", back, err)
	}
}

func TestSeverityRank(t *testing.T) {
	for s, want := range map[string]int{"": 0, "info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4, "bogus": 0} {
		if got := SeverityRank(s); got != want {
			t.Errorf("SeverityRank(%q) = %d, want %d", s, got, want)
		}
	}
	if !AtLeast("critical", "high") || AtLeast("low", "medium") || !AtLeast("info", "") {
		t.Error("AtLeast orders severities wrongly")
	}
}

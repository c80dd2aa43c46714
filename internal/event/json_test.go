package event

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

func sample(r *rand.Rand) *Event {
	s := func() string {
		const alphabet = "ab/é\"\\\n\t\x00\x1b\x7f<>&\u2028\u2029\xff\xc3"
		n := r.IntN(12)
		b := make([]byte, 0, n)
		for range n {
			i := r.IntN(len(alphabet))
			b = append(b, alphabet[i])
		}
		return string(b)
	}
	yes := r.IntN(2) == 0
	e := &Event{
		Time:    Time{time.UnixMilli(r.Int64N(4e12)).UTC()},
		Event:   Meta{ID: s(), Kind: s(), Action: s(), Outcome: s(), Severity: s(), RuleKey: s()},
		Host:    Host{Name: s()},
		User:    User{ID: s(), Name: s(), Session: s(), TTY: s()},
		Process: Process{PID: r.IntN(100000), PPID: r.IntN(3), Executable: s(), Name: s(), Title: s(), WorkingDirectory: s()},
		Auditd:  Auditd{MessageType: s(), Syscall: s(), Arch: s(), Exit: s(), Incomplete: s()},
		Message: s(),
	}
	if r.IntN(2) == 0 {
		e.Event.Authorized = &yes
		e.User.Audit = &Ident{ID: s(), Name: s()}
		e.User.Effective = &Ident{ID: s()}
		e.File = &File{Path: s(), PreviousPath: s(), Mode: s()}
		e.Process.Args = []string{s(), s(), ""}
		e.Process.Env = map[string]string{"GOPROXY": s(), "GOFLAGS": s(), s(): s()}
		e.Auditd.Paths = []Path{{Name: s(), Nametype: s()}, {Name: "", Inode: s(), Mode: s(), OUID: s(), OGID: s()}}
		e.Auditd.Records = json.RawMessage(`[{"type":"SYSCALL","a":"b"}]`)
		e.Trail = &Trail{Seq: r.Uint64(), Prev: s(), Hash: s()}
		e.Process.EnvError = s()
		e.Process.Parent = &ProcessRef{Name: s()}
		e.Container = &Container{ID: s()}
		e.Host.OS = &HostOS{Kernel: s()}
		e.User.Sudo = &Ident{ID: s(), Name: s()}
	}
	if r.IntN(3) == 0 {
		e.Toolchain = &Toolchain{Version: s(), Source: s(), URL: s(), ArchiveSHA256: s(), ModuleHash: s(),
			Dir: s(), Link: s(), Previous: s(), Manifest: s(), Error: s()}
		if r.IntN(2) == 0 {
			e.Toolchain.SumDB = &SumDB{Name: s(), URL: s(), Record: r.Int64N(3) * r.Int64N(1e12), TreeHead: s()}
			for range r.IntN(3) {
				e.Toolchain.SumDB.Lines = append(e.Toolchain.SumDB.Lines, s())
			}
		}
	}
	return e
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

package audit

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func interpretLines(t *testing.T, in *Interpreter, lines ...string) []string {
	t.Helper()
	var args [][]string
	asm := NewAssembler()
	emit := func(ev *Event) { args = append(args, in.Interpret(ev).Process.Args) }
	for _, l := range lines {
		asm.Add(rec(t, l), emit)
	}
	asm.Flush(emit)
	if len(args) != 1 {
		t.Fatalf("%d events, want 1", len(args))
	}
	return args[0]
}

func TestExecveArguments(t *testing.T) {
	const sys = `type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59 success=yes exit=0`
	tests := []struct {
		name  string
		lines []string
		want  []string
	}{
		{"plain and hex", []string{sys,
			`type=EXECVE msg=audit(1.000:1): argc=3 a0="go" a1=68C3A96C6C6F a2=1B5B33316D`},
			[]string{"go", "héllo", "\x1b[31m"}},
		{"quoted parts over two records", []string{sys,
			`type=EXECVE msg=audit(1.000:1): argc=3 a0="echo" a1_len=10 a1[0]="abcde"`,
			`type=EXECVE msg=audit(1.000:1): a1[1]="fghij" a2="x"`},
			[]string{"echo", "abcdefghij", "x"}},
		{"hex parts", []string{sys,
			`type=EXECVE msg=audit(1.000:1): argc=2 a0=6120 a1_len=6 a1[0]=7879`,
			`type=EXECVE msg=audit(1.000:1): a1[1]=7A20 a1[2]=0A21`},
			[]string{"a ", "xyz \n!"}},
		{"parts apart from each other", []string{sys,
			`type=EXECVE msg=audit(1.000:1): argc=3 a0="x" a1[0]="ab" a2[0]="12" a1[1]="cd" a2[1]="34"`},
			[]string{"x", "abcd", "1234"}},
		{"index beyond argc ignored", []string{sys,
			`type=EXECVE msg=audit(1.000:1): argc=1 a0="x" a5="y" a99999999="z"`},
			[]string{"x"}},
	}
	in := NewInterpreter(nil, "", false)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := interpretLines(t, in, tt.lines...)
			if !slices.Equal(got, tt.want) {
				t.Errorf("args = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestInterpretKeepsEvents: Interpret's events stay intact while the same
// interpreter goes on (InterpretTemp reuses its scratch space).
func TestInterpretKeepsEvents(t *testing.T) {
	in := NewInterpreter(nil, "", true)
	first := interpretLines(t, in, `type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59`,
		`type=EXECVE msg=audit(1.000:1): argc=2 a0=6F6E65 a1=`+strings.Repeat("41", 100))
	interpretLines(t, in, `type=SYSCALL msg=audit(2.000:2): arch=c000003e syscall=59`,
		`type=EXECVE msg=audit(2.000:2): argc=2 a0=74776F a1=`+strings.Repeat("42", 100))
	if first[0] != "one" || first[1] != strings.Repeat("A", 100) {
		t.Errorf("first event changed to %q", first)
	}
}

// TestScriptExec: a #! script is what ran, its interpreter is named apart
// and its arguments are the caller's; a binary stays itself whatever its
// argv[0] says.
func TestScriptExec(t *testing.T) {
	data, err := os.ReadFile("testdata/script-exec.log")
	if err != nil {
		t.Fatal(err)
	}
	in := NewInterpreter(nil, "", false)
	type got struct{ exe, interp, args, msg string }
	var evs []got
	asm := NewAssembler()
	emit := func(ev *Event) {
		e := in.Interpret(ev)
		evs = append(evs, got{e.Process.Executable, e.Gotrail.Interpreter, strings.Join(e.Process.Args, " "), e.Message})
	}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		asm.Add(rec(t, l), emit)
	}
	asm.Flush(emit)
	want := []got{
		{"/usr/local/go/bin/go", "/usr/bin/dash", "/usr/local/go/bin/go version x",
			"4242 (as root) ran /usr/local/go/bin/go version x (a script: /usr/local/go/bin/go run by /usr/bin/dash)"},
		{"/usr/local/go/bin/go", "/usr/bin/dash", "./go rel",
			"4242 (as root) ran ./go rel (a script: /usr/local/go/bin/go run by /usr/bin/dash)"},
		{"/usr/local/go/bin/go", "", "go build", "4242 (as 1001) ran go build"},
		{"/usr/local/go/bin/go", "", "/lib64/ld-linux-x86-64.so.2 /usr/local/go/bin/go env",
			"4242 (as 1001) ran /lib64/ld-linux-x86-64.so.2 /usr/local/go/bin/go env"},
	}
	if !slices.Equal(evs, want) {
		t.Errorf("events:\n%q\nwant\n%q", evs, want)
	}
}

// TestLowerType: the switch says what lower would.
func TestLowerType(t *testing.T) {
	in := NewInterpreter(nil, "test", false)
	for _, typ := range []string{"SYSCALL", "USER_START", "USER_END", "CRED_ACQ", "CRED_DISP", "CRED_REFR", "USER_ACCT",
		"USER_AUTH", "USER_LOGIN", "USER_CMD", "LOGIN", "CONFIG_CHANGE", "SERVICE_START", "SERVICE_STOP", "PATH", "UNKNOWN[1334]"} {
		got, ok := lowerType(typ)
		if want := in.lower(typ); ok && got != want {
			t.Errorf("lowerType(%q) = %q, lower says %q", typ, got, want)
		}
		if !ok && (typ == "SYSCALL" || typ == "CONFIG_CHANGE") {
			t.Errorf("lowerType(%q) not known", typ)
		}
	}
}

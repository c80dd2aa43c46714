package audit

import (
	"strings"
	"testing"
)

func TestParseRecord(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    Record
		wantErr string
	}{
		{
			name: "syscall",
			line: `type=SYSCALL msg=audit(1795638101.690:9204): arch=c000003e syscall=59`,
			want: Record{Type: "SYSCALL", Time: Stamp{1795638101, 690}, Serial: 9204, Body: "arch=c000003e syscall=59"},
		},
		{
			name: "node prefix",
			line: `node=web-01 type=PATH msg=audit(1.005:7): item=0`,
			want: Record{Node: "web-01", Type: "PATH", Time: Stamp{1, 5}, Serial: 7, Body: "item=0"},
		},
		{
			name: "unknown type",
			line: `type=UNKNOWN[1334] msg=audit(1795638101.690:1): x=1`,
			want: Record{Type: "UNKNOWN[1334]", Time: Stamp{1795638101, 690}, Serial: 1, Body: "x=1"},
		},
		{
			name: "empty body",
			line: `type=EOE msg=audit(1795638101.690:9204): `,
			want: Record{Type: "EOE", Time: Stamp{1795638101, 690}, Serial: 9204},
		},
		{name: "no type", line: `msg=audit(1.1:1): a=b`, wantErr: "header"},
		{name: "garbage", line: "\x00\x01\xff binary", wantErr: "header"},
		{name: "truncated header", line: `type=SYSCALL msg=audit(1795638101.690:92`, wantErr: "serial"},
		{name: "bad time", line: `type=SYSCALL msg=audit(abc.690:92): x`, wantErr: "time"},
		{name: "bad milli", line: `type=SYSCALL msg=audit(1.6900:92): x`, wantErr: "milli"},
		{name: "huge serial", line: `type=SYSCALL msg=audit(1.600:123456789012345678901): x`, wantErr: "serial"},
		{name: "node only", line: `node=x`, wantErr: "header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRecord(tt.line)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRecord(%q) error = %v, want one about %q", tt.line, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRecord(%q): %v", tt.line, err)
			}
			if got != tt.want {
				t.Errorf("ParseRecord(%q)\n got %+v\nwant %+v", tt.line, got, tt.want)
			}
		})
	}
}

func TestFields(t *testing.T) {
	tests := []struct {
		name string
		typ  string
		body string
		want []Field
	}{
		{
			name: "bare quoted and enriched",
			typ:  "SYSCALL",
			body: `arch=c000003e comm="echo" key="exec"` + "\x1d" + `ARCH=x86_64 AUID="root"`,
			want: []Field{
				{Key: "arch", Value: "c000003e"},
				{Key: "comm", Value: "echo", Quoting: Quoted},
				{Key: "key", Value: "exec", Quoting: Quoted},
				{Key: "ARCH", Value: "x86_64", Enriched: true},
				{Key: "AUID", Value: "root", Quoting: Quoted, Enriched: true},
			},
		},
		{
			name: "user message flattened",
			typ:  "USER_ACCT",
			body: `pid=15716 uid=0 auid=1001 ses=8 msg='op=PAM:accounting acct="gotester" exe="/usr/bin/su" hostname=? res=success'` + "\x1d" + `UID="root"`,
			want: []Field{
				{Key: "pid", Value: "15716"}, {Key: "uid", Value: "0"}, {Key: "auid", Value: "1001"}, {Key: "ses", Value: "8"},
				{Key: "op", Value: "PAM:accounting"},
				{Key: "acct", Value: "gotester", Quoting: Quoted},
				{Key: "exe", Value: "/usr/bin/su", Quoting: Quoted},
				{Key: "hostname", Value: "?"},
				{Key: "res", Value: "success"},
				{Key: "UID", Value: "root", Quoting: Quoted, Enriched: true},
			},
		},
		{
			name: "avc prose skipped",
			typ:  "AVC",
			body: `avc:  denied  { read } for  pid=1 comm="cat"`,
			want: []Field{{Key: "pid", Value: "1"}, {Key: "comm", Value: "cat", Quoting: Quoted}},
		},
		{
			name: "double space and chunk key",
			typ:  "EXECVE",
			body: ` a1[1]=7878`,
			want: []Field{{Key: "a1[1]", Value: "7878"}},
		},
		{
			name: "unterminated quote keeps the rest",
			typ:  "CWD",
			body: `cwd="/tmp/x`,
			want: []Field{{Key: "cwd", Value: "/tmp/x", Quoting: Quoted, Open: true}},
		},
		{
			name: "empty values and stray equals",
			typ:  "X",
			body: `a= =b c=""`,
			want: []Field{{Key: "a"}, {Key: "c", Quoting: Quoted}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Record{Type: tt.typ, Body: tt.body}
			got := r.Fields(nil)
			if len(got) != len(tt.want) {
				t.Fatalf("Fields(%q) = %+v, want %+v", tt.body, got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("field %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestValue(t *testing.T) {
	tests := []struct {
		typ      string
		f        Field
		want     string
		wantNull bool
	}{
		{"SYSCALL", Field{Key: "comm", Value: "echo", Quoting: Quoted}, "echo", false},
		{"SYSCALL", Field{Key: "comm", Value: "6D7920636F6D6D"}, "my comm", false},
		{"SYSCALL", Field{Key: "exe", Value: "(null)"}, "", true},
		{"SYSCALL", Field{Key: "a0", Value: "7f9f53ddc010"}, "7f9f53ddc010", false}, // a register, not argv
		{"EXECVE", Field{Key: "a1", Value: "2D2D666C6167"}, "--flag", false},
		{"EXECVE", Field{Key: "a1[0]", Value: "7878"}, "xx", false},
		{"EXECVE", Field{Key: "a1_len", Value: "40000"}, "40000", false},
		{"PATH", Field{Key: "name", Value: "ABC"}, "ABC", false},            // odd length: not hex
		{"PATH", Field{Key: "name", Value: "GG"}, "GG", false},              // not hex digits
		{"PATH", Field{Key: "inode", Value: "1234"}, "1234", false},         // not an encoded field
		{"SYSCALL", Field{Key: "key", Value: "61016262"}, "a\x01bb", false}, // several keys
		{"PROCTITLE", Field{Key: "proctitle", Value: "6C73002D6C"}, "ls\x00-l", false},
	}
	for _, tt := range tests {
		got, null := Value(tt.typ, tt.f)
		if got != tt.want || null != tt.wantNull {
			t.Errorf("Value(%s, %+v) = %q, %v; want %q, %v", tt.typ, tt.f, got, null, tt.want, tt.wantNull)
		}
	}
}

func TestProcTitle(t *testing.T) {
	for in, want := range map[string]string{
		"ls\x00-l\x00":       "ls -l",
		"vim /etc/profile":   "vim /etc/profile",
		"a\x00\x00b":         "a  b",
		"":                   "",
		"go\x00build\x00./…": "go build ./…",
	} {
		if got := ProcTitle(in); got != want {
			t.Errorf("ProcTitle(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTables(t *testing.T) {
	syscallOnce.Do(loadSyscalls)
	if syscallErr != nil {
		t.Fatalf("embedded syscall tables: %v", syscallErr)
	}
	for _, tt := range []struct {
		arch Arch
		n    uint64
		want string
	}{
		{ArchX86_64, 59, "execve"}, {ArchX86_64, 257, "openat"}, {ArchX86_64, 82, "rename"},
		{ArchI386, 11, "execve"}, {ArchI386, 5, "open"},
		{ArchAarch64, 221, "execve"}, {ArchAarch64, 56, "openat"},
		{ArchX86_64, 99999, "99999"},
	} {
		if got, _ := SyscallName(tt.arch, tt.n); got != tt.want {
			t.Errorf("SyscallName(%v, %d) = %q, want %q", tt.arch, tt.n, got, tt.want)
		}
	}
	if a, ok := ParseArch("c000003e"); !ok || a.String() != "x86_64" {
		t.Errorf("ParseArch(c000003e) = %v, %v", a, ok)
	}
	if n, ok := ErrnoName(-13); !ok || n != "EACCES" {
		t.Errorf("ErrnoName(-13) = %q, %v", n, ok)
	}
	if _, ok := ErrnoName(3); ok {
		t.Error("ErrnoName(3) named a success")
	}
	for in, want := range map[string]string{
		"0100755": "file,755", "040755": "dir,755", "041777": "dir,sticky,777",
		"0104755": "file,suid,755", "0120777": "link,777", "020620": "character-device,620",
	} {
		if got, ok := FileMode(in); !ok || got != want {
			t.Errorf("FileMode(%s) = %q, want %q", in, got, want)
		}
	}
}

// TestKeyFilter: a filter holds its keys, and leaves out keys of another
// first letter or length.
func TestKeyFilter(t *testing.T) {
	kf := newKeyFilter("arch", "syscall", "a0", "exe", "key", "cap_frootid")
	for _, k := range []string{"arch", "syscall", "a0", "exe", "key", "cap_frootid", "auid", "a3", "success", "cap_fver"} {
		if !kf.has(k) {
			t.Errorf("has(%q) = false: a key of a letter and length it holds", k)
		}
	}
	for _, k := range []string{"pid", "ppid", "uid", "items", "comm", "tty", "ses", "x", "exit", "a", "keys"} {
		if kf.has(k) {
			t.Errorf("has(%q) = true: no key of its letter and length was given", k)
		}
	}
}

package kmsg

import (
	"cmp"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Record
		ok   bool
	}{
		{"5,980,59153163610,-;audit: type=1305 audit(1796296546.727:1111581): op=set audit_pid=0 old=6246 auid=4294967295 ses=4294967295 res=1\n",
			Record{Type: 1305, Sec: 1796296546, Serial: 1111581, Body: "op=set audit_pid=0 old=6246 auid=4294967295 ses=4294967295 res=1"}, true},
		{"5,983,59153169125,-;audit: type=1306 audit(1796296546.735:1111582): saddr=100000000000000000000000",
			Record{Type: 1306, Sec: 1796296546, Serial: 1111582, Body: "saddr=100000000000000000000000"}, true},
		// a record whose fields are empty, as the kernel may print one
		{"5,1,2,-;audit: type=1320 audit(1796296546.735:7)", Record{Type: 1320, Sec: 1796296546, Serial: 7}, true},
		{"6,362,7112566801,-;idle-reclaim (87): drop_caches: 1", Record{}, false},
		// what root wrote to /dev/kmsg to pass for the kernel: LOG_USER
		{"13,990,59153163610,-;audit: type=1305 audit(1796296546.727:1111581): op=set audit_pid=0 old=6246 res=1", Record{}, false},
		{"8,990,59153163610,-;audit: type=1305 audit(1796296546.727:1111581): op=set audit_pid=0 old=6246 res=1", Record{}, false},
		{"x,990,1,-;audit: type=1305 audit(1796296546.727:1111581): op=set audit_pid=0", Record{}, false},
		{" SUBSYSTEM=acpi", Record{}, false},
		{"5,1,2,-;audit: type=1305 audit(1796296546.727): op=set", Record{}, false},                 // no serial
		{"5,1,2,-;audit: type=x audit(1796296546.727:3): op=set", Record{}, false},                  // no type number
		{"5,1,2,-;audit: type=1305 audit(-5.727:3): op=set", Record{}, false},                       // a time before the epoch
		{"5,1,2,-;audit: type=1305 audit(1796296546.727:18446744073709551616): x", Record{}, false}, // past uint64
		{"5,1,2,-;audit: type=1305 audit(1796296546.727:3", Record{}, false},                        // cut short
		{"", Record{}, false},
		{"\x00\xff;audit: type=", Record{}, false},
	} {
		got, ok := Parse(tc.line)
		if ok != tc.ok || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

// kmsgAudit is Parse's grammar, for FuzzParse to hold it to.
var kmsgAudit = regexp.MustCompile(`(?s)^([0-9]+)(?:,[^;]*)?;audit: type=([0-9]+) audit\(([0-9]+)(?:\.([0-9]+))?:([0-9]+)\)(?:: (.*))?$`)

func FuzzParse(f *testing.F) {
	data, err := os.ReadFile("testdata/restart.kmsg")
	if err != nil {
		f.Fatal(err)
	}
	for _, l := range strings.SplitAfter(string(data), "\n") {
		f.Add(l)
	}
	f.Add("5,1,2,-;audit: type=1305 audit(1796296546.727:3): a): b")
	f.Fuzz(func(t *testing.T, line string) {
		r, ok := Parse(line)
		m := kmsgAudit.FindStringSubmatch(strings.TrimRight(line, "\n"))
		want := m != nil
		if want {
			pri, errP := strconv.ParseUint(m[1], 10, 8)
			typ, errT := strconv.ParseUint(m[2], 10, 31)
			sec, errS := strconv.ParseUint(m[3], 10, 63)
			serial, errN := strconv.ParseUint(m[5], 10, 64)
			_, errM := strconv.ParseUint(cmp.Or(m[4], "0"), 10, 16)
			want = errP == nil && pri < 8 && errT == nil && typ > 0 && errS == nil && errN == nil && errM == nil
			if want && (r.Type != int(typ) || r.Sec != int64(sec) || r.Serial != serial || r.Body != m[6]) {
				t.Errorf("Parse(%q) = %+v, want type %d sec %d serial %d body %q", line, r, typ, sec, serial, m[6])
			}
		}
		if ok != want {
			t.Errorf("Parse(%q) = %+v, %v; the grammar says %v", line, r, ok, want)
		}
	})
}

// TestFind reads a recording of /dev/kmsg around a restart of auditd: the
// serials it asks for, of their boot (an audit time no later than the
// bound), and nothing else.
func TestFind(t *testing.T) {
	for _, tc := range []struct {
		name                string
		from, to            uint64
		notBefore, notAfter int64
		want                map[uint64]int // serial: records
	}{
		{"the restart's hole", 1111581, 1111582, 1796296480, 1796296547, map[uint64]int{1111581: 1, 1111582: 3}},
		{"a wider range", 1111579, 1111590, 1796296480, 1796296600, map[uint64]int{1111581: 1, 1111582: 3, 1111584: 1, 1111585: 4}},
		{"serials of this boot, asked for by a log of an earlier one", 1111581, 1111582, 1796199900, 1796200000, map[uint64]int{}},
		{"serials from before the counter wrapped", 1111581, 1111582, 1796296547, 1796296600, map[uint64]int{}},
		{"serials the log does not hold", 5000, 6000, 0, 1796296600, map[uint64]int{}},
		{"the first record of the boot", 1, 1, 0, 1796296600, map[uint64]int{1: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			found, err := Find("testdata/restart.kmsg", tc.from, tc.to, tc.notBefore, tc.notAfter)
			if err != nil {
				t.Fatal(err)
			}
			got := map[uint64]int{}
			for s, recs := range found {
				got[s] = len(recs)
				for _, r := range recs {
					if r.Serial != s {
						t.Errorf("serial %d holds %+v", s, r)
					}
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("found %v, want %v", got, tc.want)
			}
			for s, n := range tc.want {
				if got[s] != n {
					t.Errorf("found %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestFindOnWhatIsNotTheLog: Find says what it could not open, and neither
// hangs nor fails on a FIFO no one writes to or on an empty file.
func TestFindOnWhatIsNotTheLog(t *testing.T) {
	dir := t.TempDir()
	if _, err := Find(filepath.Join(dir, "missing"), 1, 2, 0, 3); err == nil || !strings.Contains(err.Error(), "kernel log:") {
		t.Errorf("a missing file: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// a writer that never writes: the non-blocking read finds nothing
	w, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if found, err := Find(fifo, 1, 2, 0, 3); err != nil || len(found) != 0 {
		t.Errorf("a FIFO: %v, %v", found, err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	if found, err := Find(empty, 1, 2, 0, 3); err != nil || len(found) != 0 {
		t.Errorf("an empty file: %v, %v", found, err)
	}
	if found, err := Find("/dev/null", 1, 2, 0, 3); err != nil || len(found) != 0 {
		t.Errorf("/dev/null: %v, %v", found, err)
	}
}

// TestFindSkipsOverLongLines: a line longer than any record the device
// gives is not one, and its tail is not taken for a line of its own.
func TestFindSkipsOverLongLines(t *testing.T) {
	rec := "5,1,2,-;audit: type=1305 audit(100.000:7): op=set audit_pid=0 old=1 res=1\n"
	// Find reads 16 KiB at a time and lets a line go past that: the tail
	// of this one, from the third read on, reads like a record
	long := "5,1,2,-;x" + strings.Repeat("y", 32<<10-len("5,1,2,-;x")) + rec
	file := filepath.Join(t.TempDir(), "kmsg")
	os.WriteFile(file, []byte(long+strings.Replace(rec, ":7)", ":8)", 1)), 0o600)
	found, err := Find(file, 1, 10, 0, 200)
	if err != nil || len(found) != 1 || len(found[8]) != 1 {
		t.Errorf("found %v, %v; want serial 8 alone", found, err)
	}
}

func TestTypeName(t *testing.T) {
	if TypeName(1305) != "CONFIG_CHANGE" || TypeName(1131) != "SERVICE_STOP" || TypeName(9999) != "type 9999" {
		t.Errorf("TypeName: %s, %s, %s", TypeName(1305), TypeName(1131), TypeName(9999))
	}
}

package audit

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gotrail/gotrail/internal/enrich"
	"github.com/gotrail/gotrail/internal/testutil/auditdtest"
	"github.com/gotrail/gotrail/internal/testutil/integration"
)

// TestRecordedLogMatchesAusearch records a variety of events with the real
// auditd on this machine and compares gotrail's interpretation of every
// record with ausearch -i: once as auditd wrote the log (ENRICHED, names in
// the log), once with the names cut off (RAW, names from /etc/passwd and
// /etc/group, as ausearch then does too).
func TestRecordedLogMatchesAusearch(t *testing.T) {
	auditdtest.Required(t)
	ausearch := integration.Tool(t, "ausearch", "auditd")
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	a := auditdtest.Start(t)
	a.AddRule(t, "-w", dir, "-p", "wa", "-k", "gotrail-goroot")
	a.AddRule(t, "-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-F", "auid=4250", "-k", "gotrail-exec")
	a.AddRule(t, "-a", "always,exit", "-F", "arch=b32", "-S", "execve", "-F", "auid=4250", "-k", "gotrail-exec")

	login := auditdtest.Login{AUID: 4250}
	user := auditdtest.Login{AUID: 4250, UID: 65534, GID: 65534}
	spaced := filepath.Join(dir, "file with spaces\tand tab")
	steps := []struct {
		l    auditdtest.Login
		ok   bool
		args []string
	}{
		{login, true, []string{"sh", "-c", "echo x > '" + spaced + "'"}},
		{login, true, []string{"mkdir", filepath.Join(dir, "sub")}},
		{login, true, []string{"ln", "-s", "/etc/hostname", filepath.Join(dir, "link")}},
		{login, true, []string{"chown", "65534:65534", filepath.Join(dir, "sub")}},
		{login, true, []string{"chmod", "4755", spaced}},
		{login, true, []string{"mv", spaced, filepath.Join(dir, "renamed")}},
		{user, false, []string{"touch", filepath.Join(dir, "denied")}},
		{login, true, []string{"rm", "-r", filepath.Join(dir, "sub")}},
		{login, true, []string{"echo", "héllo", "wörld", strings.Repeat("long-argument-", 800), "\x1b[31m"}},
		{login, false, []string{"/nonexistent/go", "version"}},
	}
	for _, s := range steps {
		out, err := auditdtest.RunAs(t, s.l, s.args[0], s.args[1:]...)
		if (err == nil) != s.ok {
			t.Fatalf("%q: err=%v, want ok=%v\n%s", s.args, err, s.ok, out)
		}
	}
	a.Sync(t)
	log := a.Snapshot()
	path := filepath.Join(t.TempDir(), "enriched.log")
	if err := os.WriteFile(path, log, 0o600); err != nil {
		t.Fatal(err)
	}
	records, fields := compareWithAusearch(t, ausearch, path, enrich.NewNames("/"))
	t.Logf("ENRICHED: %d records, %d fields agree with ausearch -i", records, fields)
	if records < 40 {
		t.Errorf("compared only %d records", records)
	}

	// the long argument was split into a3[0], a3[1]… parts: it comes back whole
	wantArgs := strings.Join(steps[8].args, "\x00")
	found := false
	asm, in := NewAssembler(), NewInterpreter(nil, "", false)
	emit := func(ev *Event) {
		if e := in.Interpret(ev); strings.Join(e.Process.Args, "\x00") == wantArgs {
			found = true
		}
	}
	for _, line := range strings.Split(string(log), "\n") {
		if r, err := ParseRecord(line); err == nil {
			asm.Add(r, emit)
		}
	}
	asm.Flush(emit)
	if !bytes.Contains(log, []byte(" a3[1]=")) {
		t.Errorf("the kernel did not split the long argument; the test needs a longer one")
	}
	if !found {
		t.Errorf("no event with the argv %q", steps[8].args)
	}

	var raw bytes.Buffer
	for _, line := range bytes.SplitAfter(log, []byte("\n")) {
		if i := bytes.IndexByte(line, 0x1d); i >= 0 {
			line = append(line[:i:i], '\n')
		}
		raw.Write(line)
	}
	rawPath := filepath.Join(t.TempDir(), "raw.log")
	if err := os.WriteFile(rawPath, raw.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	records, fields = compareWithAusearch(t, ausearch, rawPath, enrich.NewNames("/"))
	t.Logf("RAW: %d records, %d fields agree with ausearch -i", records, fields)
}

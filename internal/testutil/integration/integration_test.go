package integration

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB that records how a helper ended the test.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Skipf(format string, args ...any) {
	r.skip = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Skip(args ...any) { r.Skipf("%s", fmt.Sprint(args...)) }

// run calls f as a test body: it reports whether f went past the helper.
func (r *recorder) run(f func()) (wentOn bool) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
		wentOn = true
	}()
	<-done
	return wentOn
}

func TestHelpers(t *testing.T) {
	missing := errors.New("auditctl not found")
	for _, tc := range []struct {
		name    string
		env     string
		call    func(testing.TB)
		wentOn  bool
		fatal   string // substring, "" for none
		skipped string
	}{
		{"Require without the variable skips, even with nothing missing", "", func(t testing.TB) { Require(t, "a real auditd", nil) }, false, "", "runs with GOTRAIL_INTEGRATION=1"},
		{"Require without the variable skips when a part is missing", "", func(t testing.TB) { Require(t, "a real auditd", missing) }, false, "", "uses a real auditd"},
		{"Require with the variable runs", "1", func(t testing.TB) { Require(t, "a real auditd", nil) }, true, "", ""},
		{"Require with the variable fails on a missing part", "1", func(t testing.TB) { Require(t, "a real auditd", missing) }, false, "auditctl not found", ""},
		{"Need runs without the variable", "", func(t testing.TB) { Need(t, "root", nil) }, true, "", ""},
		{"Need skips a missing part without the variable", "", func(t testing.TB) { Need(t, "root", missing) }, false, "", "needs root: auditctl not found"},
		{"Need fails a missing part with the variable", "1", func(t testing.TB) { Need(t, "root", missing) }, false, "GOTRAIL_INTEGRATION=1 but root", ""},
		{"Tool finds sh", "", func(t testing.TB) { Tool(t, "sh", "dash") }, true, "", ""},
		{"Tool skips what is not installed", "", func(t testing.TB) { Tool(t, "no-such-tool-gotrail", "gotrail-x") }, false, "", "apt-get install gotrail-x"},
		{"Tool fails what is not installed under the variable", "1", func(t testing.TB) { Tool(t, "no-such-tool-gotrail", "gotrail-x") }, false, "apt-get install gotrail-x", ""},
		{"Bench skips unless asked, even under the variable", "1", func(t testing.TB) { Bench(t) }, false, "", "GOTRAIL_BENCH=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(Env, tc.env)
			t.Setenv(BenchEnv, "")
			r := &recorder{TB: t}
			wentOn := r.run(func() { tc.call(r) })
			if wentOn != tc.wentOn {
				t.Errorf("went on = %v, want %v (fatal %q, skip %q)", wentOn, tc.wentOn, r.fatal, r.skip)
			}
			if (tc.fatal == "") != (r.fatal == "") || !strings.Contains(r.fatal, tc.fatal) {
				t.Errorf("Fatalf(%q), want one containing %q", r.fatal, tc.fatal)
			}
			if (tc.skipped == "") != (r.skip == "") || !strings.Contains(r.skip, tc.skipped) {
				t.Errorf("Skipf(%q), want one containing %q", r.skip, tc.skipped)
			}
		})
	}
}

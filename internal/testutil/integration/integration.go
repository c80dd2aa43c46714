// Package integration decides, for every test of the project, whether a test
// that needs a part of the machine runs.
//
// Without GOTRAIL_INTEGRATION=1 a test that would touch the host (root, a
// real auditd, kernel audit rules, users, rsyslog, network namespaces, files
// outside its temporary directory) is skipped with t.Skip and the reason, so
// `go test -v ./...` says what it did not run and never changes the machine.
// With GOTRAIL_INTEGRATION=1 (set by `make test`) the test runs, and a
// missing part fails it: a test that returns early and passes is a false
// PASS.
//
// A tool that only reads its input (rsyslogd -N1, logrotate -d, ausearch on
// a file) is not a part of the host: Tool runs the test wherever the tool is
// installed, and skips or fails, as above, where it is not.
package integration

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Env is the variable `make test` sets.
const Env = "GOTRAIL_INTEGRATION"

// Enabled reports whether integration tests must run.
func Enabled() bool { return os.Getenv(Env) == "1" }

// Require lets the test go on only under GOTRAIL_INTEGRATION=1: what names
// the part of the host it uses ("a real auditd and kernel audit rules"),
// missing is nil or why that part is not usable here. Without the variable
// the test is skipped; with it, a non-nil missing fails the test. Either way
// the test stops in Require: callers need no return.
func Require(t testing.TB, what string, missing error) {
	t.Helper()
	if !Enabled() {
		t.Skipf("uses %s: runs with %s=1 (make test)", what, Env)
	}
	if missing != nil {
		t.Fatalf("%s=1 but %s cannot be used: %v", Env, what, missing)
	}
}

// Need is for a test that leaves the host alone but needs something of it
// (a tool, root to chown files in its own temporary directory): the test
// runs wherever missing is nil. Otherwise it is skipped with the reason, or
// fails under GOTRAIL_INTEGRATION=1.
func Need(t testing.TB, what string, missing error) {
	t.Helper()
	if missing == nil {
		return
	}
	if Enabled() {
		t.Fatalf("%s=1 but %s cannot be used: %v", Env, what, missing)
	}
	t.Skipf("needs %s: %v", what, missing)
}

// Tool returns the path of an external program the test runs on its own
// files only (Need); pkg is the Debian package that has it.
func Tool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/sbin"} {
			if fi, serr := os.Stat(dir + "/" + name); serr == nil && !fi.IsDir() {
				return dir + "/" + name
			}
		}
		err = fmt.Errorf("not installed (apt-get install %s)", pkg)
	}
	Need(t, name, err)
	return p
}

// BenchEnv is the variable `make bench` sets for the live benchmarks.
const BenchEnv = "GOTRAIL_BENCH"

// Bench lets a live benchmark (minutes of load on the machine's auditd) run
// only when asked with GOTRAIL_BENCH=1, as `make bench` does; `make test`
// skips it. It is not a missing part: asked for, the benchmark then needs
// its parts through Require like any integration test.
func Bench(t testing.TB) {
	t.Helper()
	if os.Getenv(BenchEnv) != "1" {
		t.Skipf("a live benchmark: runs with %s=1 (make bench)", BenchEnv)
	}
}

// Root is the error Require takes for a test that needs root, nil as root.
func Root() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("not root (euid %d)", os.Geteuid())
	}
	return nil
}

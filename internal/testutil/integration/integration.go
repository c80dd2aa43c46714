// Package integration is the project's rule for tests that need a real
// part of the machine (root, auditd, rsyslog, bash, unshare): tests never
// skip. With GOTRAIL_INTEGRATION=1 (set by make test) a missing part fails
// the test; without it the test logs why and returns early.
package integration

import (
	"os"
	"testing"
)

// Env is the variable make test sets.
const Env = "GOTRAIL_INTEGRATION"

// Enabled reports whether integration tests must run.
func Enabled() bool { return os.Getenv(Env) == "1" }

// Require reports whether the test can go on: err names the missing part,
// nil when nothing is missing. When something is, it fails the test under
// GOTRAIL_INTEGRATION=1 and otherwise logs it; the caller returns:
//
//	if !integration.Require(t, needRoot()) {
//		return
//	}
func Require(t testing.TB, err error) bool {
	t.Helper()
	if err == nil {
		return true
	}
	if Enabled() {
		t.Fatalf("%s=1 but %v", Env, err)
		return false
	}
	t.Logf("not run: %v (with %s=1 this fails the test)", err, Env)
	return false
}

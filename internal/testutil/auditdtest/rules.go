package auditdtest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// rule is one kernel rule added through AddRule.
type rule struct {
	add     []string // auditctl arguments that added it
	del     []string // auditctl arguments that delete exactly it
	deleted bool     // guarded by Auditd.mu
}

// AddRule loads one audit rule with `auditctl ARGS...`, for example
//
//	a.AddRule(t, "-w", path, "-p", "wa", "-k", "gotrail-test")
//	a.AddRule(t, "-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-F", "key=x")
//
// The rule is deleted again (the same arguments with -a/-A turned into -d and
// -w into -W) when t ends and, at the latest, by Stop, even if the test fails.
// Only this one rule is deleted: kernel rules are global and the host's own
// rules must survive, so the harness never runs `auditctl -D`. Arguments other
// than exactly one -a, -A or -w rule fail the test.
func (a *Auditd) AddRule(t testing.TB, args ...string) {
	t.Helper()
	del, err := deleteArgs(args)
	if err != nil {
		t.Fatalf("auditdtest: AddRule: %v", err)
	}
	r := &rule{add: append([]string(nil), args...), del: del}

	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		t.Fatalf("auditdtest: AddRule %s after Stop", strings.Join(args, " "))
	}
	// Journal before loading: if this process dies right after auditctl, the
	// next Start still knows to delete the rule.
	a.pending = r
	a.saveJournalLocked()
	_, err = auditctl(args...)
	a.pending = nil
	if err == nil {
		a.rules = append(a.rules, r)
	}
	a.saveJournalLocked()
	a.mu.Unlock()
	if err != nil {
		t.Fatalf("auditdtest: AddRule: %v", err)
	}

	// Registered on the caller's t so that a subtest's rule does not leak into
	// its siblings; when t is the test that called Start, this runs before Stop.
	t.Cleanup(func() {
		if err := a.removeRule(r); err != nil {
			t.Errorf("auditdtest: %v", err)
		}
	})
}

// removeRule deletes r from the kernel unless already done. A rule that is
// already gone (the test deleted it, e.g. to provoke an audit.tamper event) is
// not an error.
func (a *Auditd) removeRule(r *rule) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.deleted {
		return nil
	}
	_, err := auditctl(r.del...)
	if err != nil && !isNoSuchRule(err) {
		return fmt.Errorf("deleting rule %q: %w", strings.Join(r.add, " "), err)
	}
	r.deleted = true
	a.saveJournalLocked()
	return nil
}

// isNoSuchRule recognises auditctl's answer when the rule to delete is not
// loaded: "Error sending delete rule data request (No such file or directory)".
func isNoSuchRule(err error) bool {
	return err != nil && strings.Contains(err.Error(), "No such file or directory")
}

// saveJournalLocked records the deletion arguments of every rule still loaded
// (and of one being added). a.mu must be held.
func (a *Auditd) saveJournalLocked() {
	var dels [][]string
	for _, r := range a.rules {
		if !r.deleted {
			dels = append(dels, r.del)
		}
	}
	if a.pending != nil {
		dels = append(dels, a.pending.del)
	}
	a.host.update(func(j *journal) { j.Rules = dels })
}

// deleteArgs turns the arguments that add one rule into those that delete it.
// auditctl matches a deletion against the whole rule (list and action, fields,
// syscalls, permissions, key), so the remaining arguments are kept verbatim.
func deleteArgs(args []string) ([]string, error) {
	del := make([]string, len(args))
	adds := 0
	for i, arg := range args {
		switch {
		case arg == "-a" || arg == "-A":
			del[i] = "-d"
			adds++
		case arg == "-w":
			del[i] = "-W"
			adds++
		case isOtherCommand(arg):
			return nil, fmt.Errorf("%q in %q: only rules added with -a, -A or -w can be managed (no deletions, no -D, no status changes)",
				arg, strings.Join(args, " "))
		default:
			del[i] = arg
		}
	}
	switch adds {
	case 1:
		return del, nil
	case 0:
		return nil, errors.New("no -a, -A or -w in " + fmt.Sprintf("%q", strings.Join(args, " ")))
	default:
		return nil, fmt.Errorf("more than one rule in %q: add them one by one", strings.Join(args, " "))
	}
}

// isOtherCommand reports auditctl options that do something other than add a
// rule; the joined forms (-aalways,exit) are rejected too because they cannot
// be mapped reliably.
func isOtherCommand(arg string) bool {
	switch arg {
	case "-d", "-D", "-W", "-e", "-b", "-f", "-r", "-R", "-s", "-l", "-m", "-c", "-i", "-q", "-t",
		"--backlog_wait_time", "--reset-lost", "--loginuid-immutable", "--signal", "--reset_backlog_wait_time_actual":
		return true
	}
	if len(arg) > 2 && arg[0] == '-' && arg[1] != '-' && strings.ContainsRune("aAwWdD", rune(arg[1])) {
		return true
	}
	return false
}

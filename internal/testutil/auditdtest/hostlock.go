package auditdtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// LockPath serialises the harness across test processes (go test ./... runs
// one test binary per package, in parallel) and holds the journal of what the
// current holder changed in the kernel. It is host-wide, like the audit
// subsystem itself, and lives on /run (tmpfs) so that a reboot, which also
// resets the kernel state it describes, clears it.
const LockPath = "/run/gotrail-auditdtest.lock"

// lockWait bounds how long Start waits for another test process; go test's
// default -timeout is 10 minutes, so this fails first with a useful message.
const lockWait = 5 * time.Minute

// journal is the lock file's content while a test holds the daemon. Anything in
// it when a Start acquires the lock was left by a process that died before
// Stop finished, and is undone.
type journal struct {
	Owner         int        `json:"owner,omitempty"` // test process pid
	AuditdPID     int        `json:"auditd_pid,omitempty"`
	AuditdDir     string     `json:"auditd_dir,omitempty"`
	EnabledBefore *int       `json:"enabled_before,omitempty"` // set only if the holder changed it
	BacklogBefore *int       `json:"backlog_limit_before,omitempty"`
	Rules         [][]string `json:"rules,omitempty"` // auditctl arguments deleting each loaded rule
}

func (j journal) empty() bool {
	return j.AuditdPID == 0 && j.EnabledBefore == nil && j.BacklogBefore == nil && len(j.Rules) == 0
}

// hostLock is the flock on LockPath and the in-memory journal written to it.
type hostLock struct {
	mu   sync.Mutex
	f    *os.File
	j    journal
	prev journal // what the lock file held when acquired
	err  error   // first journal write error, reported by release
}

// acquireHostLock waits for and takes the lock (logf reports a wait), then
// undoes whatever a previous holder that died left in the kernel, so that no
// holder can overlook it. It returns a note on what was undone, for the test
// log. If undoing fails, the lock is released with the journal kept for the
// next attempt.
func acquireHostLock(logf func(format string, args ...any)) (*hostLock, string, error) {
	f, err := os.OpenFile(LockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("opening the cross-process lock: %w", err)
	}
	deadline := time.Now().Add(lockWait)
	waiting := false
	for {
		// Non-blocking and polled so that the wait is bounded and logged.
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, "", fmt.Errorf("locking %s: %w", LockPath, err)
		}
		if !waiting {
			waiting = true
			logf("auditdtest: waiting for the test process holding %s (%s) to stop its auditd", LockPath, lockHolder(f))
		}
		if time.Now().After(deadline) {
			defer f.Close()
			return nil, "", fmt.Errorf("%s still locked after %v by %s", LockPath, lockWait, lockHolder(f))
		}
		time.Sleep(50 * time.Millisecond)
	}
	h := &hostLock{f: f}
	b, err := readAll(f)
	if err != nil {
		h.release()
		return nil, "", fmt.Errorf("reading %s: %w", LockPath, err)
	}
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &h.prev); err != nil {
			h.release()
			return nil, "", fmt.Errorf("%s holds no harness journal (%v); remove it if no gotrail test runs:\n%s", LockPath, err, b)
		}
	}
	// Carry the previous holder's entries over until recover has undone them,
	// so that a failed recovery leaves them for the next attempt.
	h.update(func(j *journal) {
		*j = h.prev
		j.Owner = os.Getpid()
	})
	if h.err != nil {
		err := h.err
		h.release()
		return nil, "", err
	}
	note, err := h.recover()
	if err != nil {
		h.release()
		return nil, "", fmt.Errorf("undoing what a dead test process left in the kernel: %w", err)
	}
	return h, note, nil
}

// lockOwner returns 0 if nobody holds LockPath, else the holder's pid from
// the journal (-1 if unknown). Probing takes the lock for an instant; a
// process acquiring it concurrently just polls once more.
func lockOwner() int {
	f, err := os.Open(LockPath)
	if err != nil {
		return 0
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err == nil {
		return 0
	}
	b, _ := readAll(f)
	var j journal
	if json.Unmarshal(b, &j) == nil && j.Owner != 0 {
		return j.Owner
	}
	return -1
}

func lockHolder(f *os.File) string {
	b, _ := readAll(f)
	var j journal
	if json.Unmarshal(b, &j) == nil && j.Owner != 0 {
		return fmt.Sprintf("pid %d: %s", j.Owner, cmdline(j.Owner))
	}
	return "unknown process"
}

func readAll(f *os.File) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, fi.Size())
	n, err := f.ReadAt(b, 0)
	if n == len(b) {
		err = nil
	}
	return b[:n], err
}

// update changes the journal and rewrites the lock file. A write error is
// kept and reported by release: losing the journal only weakens crash
// recovery, it must not abort a running test.
func (h *hostLock) update(change func(*journal)) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	change(&h.j)
	var b []byte
	if !h.j.empty() || h.j.Owner != 0 {
		var err error
		if b, err = json.Marshal(h.j); err != nil {
			h.keep(err)
			return
		}
	}
	if err := h.f.Truncate(0); err != nil {
		h.keep(fmt.Errorf("rewriting %s: %w", LockPath, err))
		return
	}
	if _, err := h.f.WriteAt(b, 0); err != nil {
		h.keep(fmt.Errorf("rewriting %s: %w", LockPath, err))
	}
}

func (h *hostLock) keep(err error) {
	if h.err == nil {
		h.err = err
	}
}

// release unlocks (closing the file drops the flock).
func (h *hostLock) release() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.f == nil {
		return h.err
	}
	err := h.f.Close()
	h.f = nil
	if h.err != nil {
		return h.err
	}
	if err != nil {
		return fmt.Errorf("closing %s: %w", LockPath, err)
	}
	return nil
}

// recover undoes what the previous holder's journal says it left behind:
// deletes its rules, restores the enabled flag and backlog limit, and
// terminates its auditd if that very process (same pid, same -c directory) is
// still alive. It returns a note for the test log when there was anything to
// do. Errors leave the journal in place for the next attempt.
func (h *hostLock) recover() (string, error) {
	p := h.prev
	if p.empty() {
		return "", nil
	}
	var did []string
	var errs []error
	if p.AuditdPID != 0 {
		if dir, ok := harnessDir(p.AuditdPID); ok && dir == p.AuditdDir {
			if err := stopOrphan(p.AuditdPID); err != nil {
				errs = append(errs, err)
			} else {
				did = append(did, fmt.Sprintf("stopped orphaned auditd pid %d", p.AuditdPID))
			}
		}
	}
	for _, del := range p.Rules {
		if _, err := auditctl(del...); err != nil && !isNoSuchRule(err) {
			errs = append(errs, err)
			continue
		}
		did = append(did, "ran auditctl "+strings.Join(del, " "))
	}
	if p.EnabledBefore != nil {
		if _, err := auditctl("-e", strconv.Itoa(*p.EnabledBefore)); err != nil {
			errs = append(errs, err)
		} else {
			did = append(did, fmt.Sprintf("restored enabled=%d", *p.EnabledBefore))
		}
	}
	if p.BacklogBefore != nil {
		if _, err := auditctl("-b", strconv.Itoa(*p.BacklogBefore)); err != nil {
			errs = append(errs, err)
		} else {
			did = append(did, fmt.Sprintf("restored backlog_limit=%d", *p.BacklogBefore))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	h.prev = journal{}
	h.update(func(j *journal) { *j = journal{Owner: os.Getpid()} })
	return fmt.Sprintf("test process %d died holding auditd; %s", p.Owner, strings.Join(did, "; ")), nil
}

// stopOrphan terminates an auditd this harness started in a process that has
// died. It is addressed by the pid recorded in the journal, checked against the
// recorded directory by the caller; never by name.
func stopOrphan(pid int) error {
	awaitSIGTERMHandler(pid, func() bool { return false })
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("SIGTERM to orphaned auditd pid %d: %w", pid, err)
	}
	// Not our child, so it cannot be waited for; poll until it is gone (it is
	// reparented to init, which reaps it).
	deadline := time.Now().Add(termTimeout)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			break
		}
		time.Sleep(pollEvery)
	}
	return waitUnregistered(pid)
}

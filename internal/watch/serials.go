package watch

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gotrail/gotrail/internal/atomicfile"
	"github.com/gotrail/gotrail/internal/audit"
)

// auditd restarts its plugins with itself, so the hole a restart leaves in
// the kernel's serials lies between two plugin processes. The one that
// stops cleanly keeps where the serials stood in serialsFile; the next one
// resumes from it. The old process writes after the new one has started
// (auditd starts it within milliseconds and does not wait for the old), so
// each holds serialsLock while it runs and the new one waits for it: marks
// read before the old one wrote them would be missing, and marks written
// after the new one started would be stale at the restart after, making
// every serial the new one saw look lost.
const (
	serialsFile = "serials.json"
	serialsLock = "serials.lock"
	// serialsWait bounds the wait for the old plugin: it writes its marks
	// once its input ends and it has seen whether a new auditd took over
	// (up to RestartQuiet; the new auditd starts its plugins before it
	// registers with the kernel).
	serialsWait = audit.RestartQuiet + 3*time.Second
)

// handoff is serialsFile's content. Marks are taken only from a plugin of
// this boot (the kernel counts again after a reboot, not always from
// below) that stopped moments ago: a restart of auditd. Older marks (the
// plugin switched off for a while, or a plugin that could not have the
// lock and wrote late) would make every serial logged since look lost.
type handoff struct {
	BootID  string             `json:"boot_id"`
	Written time.Time          `json:"written"`
	Marks   []audit.SerialMark `json:"marks"`
}

// handoffFresh is how old marks may be: an auditd restart takes moments.
const handoffFresh = time.Minute

// bootID names this boot of the kernel.
func bootID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
}

// resumeSerials takes the lock, then the marks the last clean stop left,
// and removes them: a run that then dies leaves none to be stale.
func (w *Watcher) resumeSerials() {
	lock, err := lockWithin(filepath.Join(w.opt.StateDir, serialsLock), serialsWait)
	if err != nil {
		w.opt.Log.Warn("another plugin holds the serials: a hole across this restart is not seen", "err", err)
		return
	}
	w.serialsLock = lock
	p := filepath.Join(w.opt.StateDir, serialsFile)
	data, err := os.ReadFile(p)
	if err != nil {
		return
	}
	os.Remove(p)
	var h handoff
	if err := json.Unmarshal(data, &h); err != nil {
		w.opt.Log.Warn("the serials the plugin last stopped at do not read: a hole across this restart is not seen", "file", p, "err", err)
		return
	}
	if age := time.Since(h.Written); h.BootID == "" || h.BootID != bootID() || age > handoffFresh || age < -handoffFresh {
		return // not this restart's
	}
	w.gaps.Resume(h.Marks)
}

// stopSerials reports the holes still open (nothing more comes from this
// auditd) and, holding the lock, keeps the marks for the next plugin.
func (w *Watcher) stopSerials() {
	for _, g := range w.gaps.Flush() {
		w.serialGap(w.gapNode(g), g)
		w.Stats.Lost.Add(g.Events())
	}
	if w.serialsLock == nil {
		return
	}
	data, _ := json.Marshal(handoff{BootID: bootID(), Written: time.Now().UTC(), Marks: w.gaps.Marks()})
	if err := atomicfile.Write(filepath.Join(w.opt.StateDir, serialsFile), data, 0o600); err != nil {
		w.opt.Log.Warn("keeping the serials for the next start failed: a hole across the restart is not seen", "err", err)
	}
	w.releaseSerials()
}

// releaseSerials lets the next plugin have the serials.
func (w *Watcher) releaseSerials() {
	if w.serialsLock != nil {
		w.serialsLock.Close() // and with it the flock
		w.serialsLock = nil
	}
}

// lockWithin takes an exclusive flock of path, waiting up to d.
func lockWithin(path string, d time.Duration) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	for deadline := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
	}
}

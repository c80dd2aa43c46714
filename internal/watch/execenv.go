package watch

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/gotrail/gotrail/internal/audit"
	"github.com/gotrail/gotrail/internal/enrich"
	"github.com/gotrail/gotrail/internal/rules"
	"github.com/gotrail/gotrail/internal/source"
)

// execCatcher reads the facts of each go process (its Go environment, its
// container, its parent's name) the moment the kernel reports its exec on
// the audit multicast group, beside auditd. The trail stays fed by auditd's
// log, which is what makes it exactly-once across restarts; but by the
// time the follower reads an exec from the log (auditd writes it, the
// follower polls), a short `go version` or `go env -w` has exited and its
// /proc is gone.
type execCatcher struct {
	proc    enrich.Proc
	started time.Time
	kick    chan struct{} // a record was read: a waiting take looks again

	mu    sync.Mutex
	got   map[execKey]procFacts
	order []execKey // oldest first, to bound got
	seen  uint64    // the highest serial read from the kernel
	down  error     // why the catcher stopped; nil while it runs
}

type execKey struct {
	t      audit.Stamp
	serial uint64
}

// procFacts are what was read of a process while it ran.
type procFacts struct {
	env       map[string]string
	envErr    error
	container string
	parent    string
}

// maxCaught bounds the facts kept for events the log has not brought yet
// (or never will: an exec the classifier drops).
const maxCaught = 4096

// catchWait is how long an exec read from the log waits for the catcher to
// read as far: the kernel sends to the multicast group before auditd, so
// it is ahead but for scheduling.
const catchWait = 100 * time.Millisecond

// startExecCatcher joins the multicast group and reads it until ctx ends.
// done is closed when the catcher has stopped.
func startExecCatcher(ctx context.Context, proc enrich.Proc, log *slog.Logger) (*execCatcher, <-chan struct{}, error) {
	nl, err := source.OpenNetlink()
	if err != nil {
		return nil, nil, err
	}
	c := &execCatcher{proc: proc, started: time.Now(), kick: make(chan struct{}, 1), got: map[execKey]procFacts{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer nl.Close()
		err := nl.Run(ctx, c.record, func(error) {}, nil)
		if ctx.Err() == nil {
			log.Warn("stopped reading go processes from the kernel's multicast group; their environment is read from the log, late", "err", err)
		}
		c.stop(fmt.Errorf("the exec catcher stopped: %w", err))
	}()
	return c, done, nil
}

func (c *execCatcher) stop(err error) {
	c.mu.Lock()
	c.down = err
	c.mu.Unlock()
	c.signal()
}

func (c *execCatcher) signal() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

var (
	syscallPrefix = []byte("type=SYSCALL ")
	execKeyField  = []byte(`key="` + rules.KeyExec + `"`)
)

// record takes one record from the kernel; the line is valid during the
// call only.
func (c *execCatcher) record(line []byte) error {
	// every record of the host passes here: only an exec of gotrail's
	// rules is parsed, the others give their serial
	serial, ok := headerSerial(line)
	if !ok {
		return nil
	}
	if bytes.HasPrefix(line, syscallPrefix) && bytes.Contains(line, execKeyField) {
		if rec, err := audit.ParseRecord(string(line)); err == nil {
			if pid, ppid, exe, ok := execOf(rec); ok {
				c.add(execKey{rec.Time, rec.Serial}, readFacts(c.proc, pid, ppid, exe, rec.Time.Time()))
			}
		}
	}
	c.mu.Lock()
	if serial > c.seen {
		c.seen = serial
	}
	c.mu.Unlock()
	c.signal()
	return nil
}

// headerSerial is the serial of msg=audit(SEC.MS:SERIAL), read in place.
func headerSerial(line []byte) (uint64, bool) {
	i := bytes.Index(line, []byte("msg=audit("))
	if i < 0 {
		return 0, false
	}
	rest := line[i+len("msg=audit("):]
	colon, end := bytes.IndexByte(rest, ':'), bytes.IndexByte(rest, ')')
	if colon < 0 || end < colon {
		return 0, false
	}
	n, err := strconv.ParseUint(string(rest[colon+1:end]), 10, 64)
	return n, err == nil
}

// execOf is the pid and parent of a successful exec that gotrail's exec
// rules logged (the key decides, not exe: a script's exe is its
// interpreter).
func execOf(rec audit.Record) (pid, ppid int, exe string, ok bool) {
	var success string
	for _, f := range rec.Fields(nil) {
		switch f.Key {
		case "pid":
			pid, _ = strconv.Atoi(f.Value)
		case "ppid":
			ppid, _ = strconv.Atoi(f.Value)
		case "success":
			success = f.Value
		case "exe":
			exe, _ = audit.Value(rec.Type, f)
		}
	}
	return pid, ppid, exe, success == "yes" && pid > 0
}

// readFacts reads what /proc says of process pid, which exec'd exe at
// execAt, once it is sure the pid still is that process: a pid reused
// since would lend another process's environment to the event.
func readFacts(p enrich.Proc, pid, ppid int, exe string, execAt time.Time) procFacts {
	if err := p.Identify(pid, exe, execAt); err != nil {
		return procFacts{envErr: err}
	}
	f := procFacts{container: p.ContainerID(pid), parent: p.Name(ppid)}
	f.env, f.envErr = p.GoEnv(pid)
	return f
}

func (c *execCatcher) add(k execKey, f procFacts) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got[k] = f
	c.order = append(c.order, k)
	for len(c.got) > maxCaught {
		delete(c.got, c.order[0])
		c.order = c.order[1:]
	}
	if len(c.order) > 2*maxCaught { // keys taken since: drop them from the queue
		kept := c.order[:0]
		for _, o := range c.order {
			if _, ok := c.got[o]; ok {
				kept = append(kept, o)
			}
		}
		c.order = kept
	}
}

// take returns what the catcher read of the process of event k, waiting a
// little when the catcher has not read as far as k yet. ok is false when
// it has nothing, and why says why. Only an exec of the last seconds is
// waited for: one read again from an older log (of before a reboot, when
// serials started again) will not come.
func (c *execCatcher) take(k execKey) (f procFacts, ok bool, why error) {
	t := k.t.Time()
	wait := t.After(c.started.Add(-time.Second)) && time.Since(t) < 10*time.Second
	deadline := time.NewTimer(catchWait)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		f, ok = c.got[k]
		delete(c.got, k)
		seen, down := c.seen, c.down
		c.mu.Unlock()
		switch {
		case ok:
			return f, true, nil
		case down != nil:
			return f, false, down
		case seen >= k.serial || !wait:
			return f, false, errNotCaught
		}
		select {
		case <-c.kick:
		case <-deadline.C:
			return f, false, errCatchLate
		}
	}
}

var (
	errNotCaught = fmt.Errorf("its exec was not read from the kernel's multicast group as it ran (before gotrail started, records dropped there, or no gotrail-exec rule matched)")
	errCatchLate = fmt.Errorf("the kernel's multicast group had not brought its exec %v after the log did", catchWait)
)

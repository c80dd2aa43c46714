package watch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gotrail/gotrail/internal/audit"
	"github.com/gotrail/gotrail/internal/enrich"
)

// fakeProc is a /proc under a temporary root with one process, pid 4242
// (parent 1, "bash"), whose environment sets GOPROXY.
func fakeProc(t *testing.T) enrich.Proc {
	t.Helper()
	root := t.TempDir()
	for name, data := range map[string]string{
		"proc/4242/environ": "GOPROXY=http://proxy.corp\x00HOME=/home/alice\x00",
		"proc/4242/stat":    "4242 (go) R 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 500 1000000 100",
		"proc/4242/cgroup":  "0::/user.slice\n",
		"proc/1/comm":       "bash\n",
		"proc/stat":         "cpu  1 2 3\nbtime 0\n",
	} {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/usr/local/go/bin/go", filepath.Join(root, "proc/4242/exe")); err != nil {
		t.Fatal(err)
	}
	return enrich.Proc{Root: root}
}

// rawExec is the SYSCALL record of an exec as the multicast group brings
// it (RAW: no enriched names).
func rawExec(t time.Time, serial uint64, pid int, key string) []byte {
	return fmt.Appendf(nil, `type=SYSCALL msg=audit(%d.%03d:%d): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=1 ppid=1 pid=%d auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=3 comm="go" exe="/usr/local/go/bin/go" key=%s`,
		t.Unix(), t.Nanosecond()/1e6, serial, pid, key)
}

func keyOf(t time.Time, serial uint64) execKey {
	return execKey{audit.Stamp{Sec: t.Unix(), Milli: uint16(t.Nanosecond() / 1e6)}, serial}
}

func newCatcher(p enrich.Proc) *execCatcher {
	return &execCatcher{proc: p, started: time.Now(), kick: make(chan struct{}, 1), got: map[execKey]procFacts{}}
}

func TestExecCatcher(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCatcher(fakeProc(t))
		now := time.Now()

		// read as it ran: the log brings it later
		c.record(rawExec(now, 10, 4242, `"gotrail-exec"`))
		f, ok, why := c.take(keyOf(now, 10))
		if !ok || f.env["GOPROXY"] != "http://proxy.corp" || f.env["HOME"] != "" || f.parent != "bash" {
			t.Errorf("caught exec: %+v ok %v why %v", f, ok, why)
		}
		if _, ok, _ := c.take(keyOf(now, 10)); ok {
			t.Error("an exec's facts were taken twice")
		}

		// another key is not gotrail's exec: not read, and said so at once
		c.record(rawExec(now, 11, 4242, `"other"`))
		start := time.Now()
		if _, ok, why := c.take(keyOf(now, 11)); ok || !errors.Is(why, errNotCaught) || time.Since(start) != 0 {
			t.Errorf("exec under another key: ok %v why %v after %v", ok, why, time.Since(start))
		}

		// the log ahead of the catcher: take waits until it has read as far
		go func() {
			time.Sleep(30 * time.Millisecond)
			c.record(rawExec(now, 12, 4242, `"gotrail-exec"`))
		}()
		start = time.Now()
		if _, ok, why := c.take(keyOf(now, 12)); !ok || time.Since(start) != 30*time.Millisecond {
			t.Errorf("exec read after the log: ok %v why %v after %v", ok, why, time.Since(start))
		}

		// never read: given up after catchWait
		start = time.Now()
		if _, ok, why := c.take(keyOf(now, 13)); ok || !errors.Is(why, errCatchLate) || time.Since(start) != catchWait {
			t.Errorf("exec the catcher never read: ok %v why %v after %v", ok, why, time.Since(start))
		}

		// an exec of long ago (a log read again) is not waited for
		old := now.Add(-time.Hour)
		start = time.Now()
		if _, ok, why := c.take(keyOf(old, 99)); ok || !errors.Is(why, errNotCaught) || time.Since(start) != 0 {
			t.Errorf("old exec: ok %v why %v after %v", ok, why, time.Since(start))
		}

		// a catcher that stopped says why
		c.stop(errors.New("receive: EBADF"))
		if _, ok, why := c.take(keyOf(time.Now(), 1000)); ok || why == nil || why.Error() != "receive: EBADF" {
			t.Errorf("stopped catcher: ok %v why %v", ok, why)
		}
	})
}

// TestExecCatcherBound: facts the log never asks for are let go, oldest
// first.
func TestExecCatcherBound(t *testing.T) {
	c := newCatcher(fakeProc(t))
	now := time.Now()
	for i := range maxCaught*3 + 7 {
		c.add(keyOf(now, uint64(i)), procFacts{})
		if i%2 == 0 {
			c.take(keyOf(now, uint64(i)))
		}
	}
	if len(c.got) > maxCaught || len(c.order) > 2*maxCaught+1 {
		t.Errorf("%d facts kept, %d keys queued; bound %d", len(c.got), len(c.order), maxCaught)
	}
	if _, ok := c.got[keyOf(now, maxCaught*3+5)]; !ok {
		t.Error("the newest facts were let go")
	}
}

// TestExecCatcherGone: a process that exited before it was read is said
// to be gone.
func TestExecCatcherGone(t *testing.T) {
	c := newCatcher(fakeProc(t))
	now := time.Now()
	c.record(rawExec(now, 5, 777, `"gotrail-exec"`))
	f, ok, _ := c.take(keyOf(now, 5))
	if !ok || !errors.Is(f.envErr, enrich.ErrGone) {
		t.Errorf("gone process: ok %v err %v", ok, f.envErr)
	}
}

package auditdtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
)

// Login is how the kernel sees the user a command runs for.
//
// AUID is the login user (loginuid, `auid=` in records; it survives su and
// sudo). UID and GID are the real and effective ids the command runs with; 0
// and 0 leave it root, so Login{AUID: 1001} is "alice (as root)" and
// Login{AUID: 1001, UID: 1001, GID: 1001} is "alice as alice". Groups are the
// supplementary groups when UID or GID is set (none if nil). The ids need no
// passwd entry. As at a real login, setting the login uid also starts a new
// audit session: the command's records carry a fresh ses=, and the kernel logs
// a LOGIN record (with a SYSCALL record of the test process's write).
type Login struct {
	AUID     uint32
	UID, GID uint32
	Groups   []uint32
}

// RunAsLogin runs name with args as login user auid (as root) and returns its
// combined stdout and stderr, and its error (exit status, or not found). A
// failure to set the login uid fails t.
func RunAsLogin(t testing.TB, auid uint32, name string, args ...string) ([]byte, error) {
	t.Helper()
	return RunAs(t, Login{AUID: auid}, name, args...)
}

// RunAs runs name with args as login l and returns its combined stdout and
// stderr, and its error (exit status, or not found). A failure to set the
// login uid fails t.
func RunAs(t testing.TB, l Login, name string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := StartAs(l, cmd); err != nil {
		var le *LoginUIDError
		if errors.As(err, &le) {
			t.Fatalf("auditdtest: %v", err)
		}
		return out.Bytes(), err
	}
	err := cmd.Wait()
	return out.Bytes(), err
}

// LoginUIDError is returned by StartAs when the login uid cannot be set; the
// command was not started.
type LoginUIDError struct {
	AUID uint32
	Err  error
}

func (e *LoginUIDError) Error() string {
	return fmt.Sprintf("setting loginuid %d: %v (needs root with CAP_AUDIT_CONTROL, and `auditctl -s` loginuid_immutable 0 unless this process has no loginuid yet)", e.AUID, e.Err)
}

func (e *LoginUIDError) Unwrap() error { return e.Err }

// StartAs starts cmd (see exec.Cmd.Start) as login l, so callers can set Dir,
// Env, Stdin or run it in the background; wait for it with cmd.Wait. When
// l.UID, l.GID or l.Groups is set it replaces cmd.SysProcAttr.Credential.
//
// The login uid is per thread in the kernel and inherited at fork. StartAs sets
// it on a dedicated OS thread, forks the command from that thread, then lets
// the thread die, so the test process itself keeps its own auid. Unlike a
// wrapper such as `sh -c 'echo AUID >/proc/self/loginuid; exec "$@"'`, the
// command is the direct child of the test, and its first audit record is its
// own: the kernel caches PROCTITLE per task on the first record and does not
// refresh it on execve, so after the wrapper's LOGIN record every record of the
// exec'ed command would carry the wrapper's command line.
func StartAs(l Login, cmd *exec.Cmd) error {
	if l.UID != 0 || l.GID != 0 || l.Groups != nil {
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: l.UID, Gid: l.GID, Groups: l.Groups}
	}
	var err error
	onDisposableThread(func() {
		if err = setThreadLoginUID(l.AUID); err != nil {
			err = &LoginUIDError{AUID: l.AUID, Err: err}
			return
		}
		// os/exec forks from the calling thread, which is this one.
		err = cmd.Start()
	})
	return err
}

// onDisposableThread runs f locked to an OS thread that is destroyed
// afterwards, so that kernel state f gives the thread (here its loginuid)
// never reaches other goroutines. While a goroutine is locked, the runtime
// also does not clone new threads from its thread (it asks its template
// thread), so the state cannot spread that way either.
func onDisposableThread(f func()) {
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		// Never unlocked: a goroutine that exits locked takes its thread down
		// with it. Except the main thread, which the runtime only parks, so
		// that it would keep the state, visible as /proc/PID/loginuid of the
		// whole test process. Holding the main thread, use another one: the
		// inner goroutine cannot be scheduled here while this one is locked.
		if syscall.Gettid() != os.Getpid() {
			defer close(done)
			f()
			return
		}
		go func() {
			runtime.LockOSThread()
			defer close(done)
			f()
		}()
		<-done
		runtime.UnlockOSThread()
	}()
	<-done
}

// setThreadLoginUID writes the calling thread's loginuid. The kernel only
// accepts the write from the task the proc file belongs to, hence
// /proc/thread-self rather than /proc/self (the thread group leader).
func setThreadLoginUID(auid uint32) error {
	f, err := os.OpenFile("/proc/thread-self/loginuid", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := f.Write([]byte(strconv.FormatUint(uint64(auid), 10)))
	cerr := f.Close()
	if werr != nil {
		return werr
	}
	return cerr
}

package rules

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/testutil/integration"
)

// child starts prog with args as a child of the test, stopped at cleanup.
func child(t *testing.T, prog string, args ...string) int {
	t.Helper()
	cmd := exec.Command(prog, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process.Pid
}

func copyProgram(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestPluginsOf: a child is found by its program, whatever its name says
// (a name with ") " does not shift the fields of /proc/PID/stat), by any
// path to it; one whose program was replaced since it started is stale.
func TestPluginsOf(t *testing.T) {
	sleep := integration.Tool(t, "sleep", "coreutils")
	dir := t.TempDir()
	hostile := filepath.Join(dir, "x) R 1 1 (y")
	copyProgram(t, sleep, hostile)
	link := filepath.Join(dir, "plugin")
	if err := os.Symlink(hostile, link); err != nil {
		t.Fatal(err)
	}
	pid := child(t, hostile, "30")
	if got := parentOf(pid); got != os.Getpid() {
		t.Errorf("parentOf(child named %q) = %d, want %d", filepath.Base(hostile), got, os.Getpid())
	}
	for _, tc := range []struct {
		name   string
		parent int
		bin    string
		want   []int
	}{
		{"its program", os.Getpid(), hostile, []int{pid}},
		{"its program by a symlink (as plugins.d names it)", os.Getpid(), link, []int{pid}},
		{"another program", os.Getpid(), sleep, nil},
		{"another parent", 1, hostile, nil},
		{"no program there", os.Getpid(), filepath.Join(dir, "none"), nil},
	} {
		if got, stale := pluginsOf(tc.parent, tc.bin); !slices.Equal(got, tc.want) || stale != nil {
			t.Errorf("%s: pluginsOf = %v (stale %v), want %v", tc.name, got, stale, tc.want)
		}
	}
	// an upgrade: a new file at the path, the old process runs on
	os.Remove(hostile)
	copyProgram(t, sleep, hostile)
	if got, stale := pluginsOf(os.Getpid(), link); got != nil || !slices.Equal(stale, []int{pid}) {
		t.Errorf("after its program was replaced: pluginsOf = %v, stale %v; want none, stale [%d]", got, stale, pid)
	}
}

// TestCatchesSignal: a handler counts; the default action and an ignored
// signal (auditd while it starts) do not.
func TestCatchesSignal(t *testing.T) {
	sh := integration.Tool(t, "sh", "dash")
	for _, tc := range []struct {
		script string
		want   bool
	}{
		{`trap "echo hup" HUP; while :; do sleep 1; done`, true},
		{`trap "" HUP; while :; do sleep 1; done`, false},
		{`exec sleep 30`, false},
	} {
		pid := child(t, sh, "-c", tc.script)
		// the shell sets its trap a moment after it starts
		got := false
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if got = CatchesSignal(pid, syscall.SIGHUP); got {
				break
			}
		}
		if got != tc.want {
			t.Errorf("sh -c %q: CatchesSignal(SIGHUP) = %v, want %v", tc.script, got, tc.want)
		}
	}
	if CatchesSignal(1<<30, syscall.SIGHUP) {
		t.Error("CatchesSignal of no process")
	}
}

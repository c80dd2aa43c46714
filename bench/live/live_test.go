// Package live measures gotrail watch against the real auditd: a sustained
// burst of events (nothing lost, latency from the syscall to the trail) and
// the share of short go runs whose environment the plugin captures. Run by
// `make bench` (GOTRAIL_BENCH=1); figures go to bench/RESULTS.md.
package live

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/testutil/auditdtest"
	"github.com/gotrail/gotrail/internal/testutil/integration"
	"github.com/gotrail/gotrail/internal/trail"
	"github.com/gotrail/gotrail/internal/watch"
)

// needBench runs a live benchmark only when asked (make bench sets
// GOTRAIL_BENCH=1 and GOTRAIL_INTEGRATION=1): it takes minutes and the
// machine's auditd.
func needBench(t *testing.T) {
	t.Helper()
	integration.Bench(t)
	auditdtest.Required(t)
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// TestBurst writes a watched file RATE times a second for SECONDS seconds
// (default 5000/s for 30 s), each write one audit event, while the watcher
// follows auditd's log; it reports how many reached the trail and the
// latency from the syscall's audit time to the append, p50 and p99.
func TestBurst(t *testing.T) {
	needBench(t)
	rate, seconds := envInt("BURST_RATE", 5000), envInt("BURST_SECONDS", 30)
	dir := t.TempDir()
	target := filepath.Join(dir, "profile")
	os.WriteFile(target, nil, 0o644)
	a := auditdtest.Start(t)
	a.AddRule(t, "-w", target, "-p", "w", "-k", "gotrail-profile")

	var mu sync.Mutex
	var lags []time.Duration
	w, err := watch.New(watch.Options{StateDir: filepath.Join(dir, "state"), Host: "bench", OnEvent: func(e *event.Event) {
		if e.Gotrail.Kind == event.KindProfile {
			mu.Lock()
			lags = append(lags, time.Since(e.Time.Time))
			mu.Unlock()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.RunFile(ctx, a.LogPath()) }()
	time.Sleep(300 * time.Millisecond)

	total := rate * seconds
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := 0; i < total; i++ {
		// each open for writing is one audit event
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if d := time.Until(start.Add(time.Duration(i+1) * interval)); d > 0 {
			time.Sleep(d)
		}
	}
	elapsed := time.Since(start)
	a.Sync(t)
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(lags)
		mu.Unlock()
		if n >= total || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lags)
	pct := func(p float64) time.Duration {
		if len(lags) == 0 {
			return 0
		}
		return lags[int(p*float64(len(lags)-1))]
	}
	lost, _ := exec.Command("auditctl", "-s").Output()
	t.Logf("burst: %d events in %v (%.0f/s) -> %d in the trail; lag p50 %v, p99 %v, max %v",
		total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), len(lags), pct(0.5), pct(0.99), pct(1))
	t.Logf("kernel status after the burst:\n%s", bytes.TrimSpace(lost))
	if len(lags) != total {
		t.Errorf("%d of %d events reached the trail", len(lags), total)
	}
}

// TestEnvCapture runs RUNS (default 1000) short `go version` runs by a
// login user (auid and uid 4273) under each deployment and reports the
// share whose Go environment reached the trail: gotrail as auditd's plugin,
// the daemon following the log with the exec catcher (the default), and
// following the log without it (--catch-execs=false), for comparison.
func TestEnvCapture(t *testing.T) {
	needBench(t)
	runs := envInt("ENV_RUNS", 1000)
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		os.Chmod(d, 0o755)
	}
	goBin, _ := exec.LookPath("go")
	goBin, _ = filepath.EvalSymlinks(goBin)
	execRule := []string{"-a", "always,exit", "-F", "arch=b64", "-S", "execve,execveat", "-F", "path=" + goBin, "-F", "key=gotrail-exec"}
	login := auditdtest.Login{AUID: 4273, UID: 4273, GID: 4273}
	goRuns := func(t *testing.T) {
		for range runs {
			cmd := exec.Command(goBin, "version")
			cmd.Env = []string{"GOFLAGS=-mod=mod", "HOME=" + dir}
			if err := auditdtest.StartAs(login, cmd); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatal(err)
			}
		}
	}
	report := func(t *testing.T, state, deployment string) {
		seen, captured := countCaptured(state, runs)
		t.Logf("%s: %d go version runs, %d in the trail, environment captured for %d (%.1f%%)",
			deployment, runs, seen, captured, 100*float64(captured)/float64(runs))
		if seen != runs {
			t.Errorf("%d of %d runs reached the trail", seen, runs)
		}
	}
	t.Run("plugin", func(t *testing.T) {
		bin := filepath.Join(dir, "gotrail")
		if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/gotrail").CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		state := filepath.Join(dir, "plugin-state")
		cfg := filepath.Join(dir, "gotrail.toml")
		os.WriteFile(cfg, []byte("state_dir = \""+state+"\"\n"), 0o644)
		conf := fmt.Sprintf("active = yes\ndirection = out\npath = %s\ntype = always\nargs = plugin %s\nformat = string\n", bin, cfg)
		a := auditdtest.StartWithPlugins(t, map[string]string{"gotrail.conf": conf})
		a.AddRule(t, execRule...)
		goRuns(t)
		a.Sync(t)
		report(t, state, "auditd's plugin, with the catcher")
	})
	for _, catch := range []bool{true, false} {
		name := map[bool]string{true: "file", false: "file-no-catcher"}[catch]
		t.Run(name, func(t *testing.T) {
			state := filepath.Join(dir, name+"-state")
			a := auditdtest.Start(t)
			a.AddRule(t, execRule...)
			w, err := watch.New(watch.Options{StateDir: state, Host: "bench", CatchExecs: catch})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- w.RunFile(ctx, a.LogPath()) }()
			time.Sleep(300 * time.Millisecond)
			goRuns(t)
			a.Sync(t)
			report(t, state, fmt.Sprintf("following the log, catcher %v", catch))
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
}

// countCaptured waits (a minute at most) until the trail in state holds
// runs `go version` execs and counts those whose GOFLAGS was read.
func countCaptured(state string, runs int) (seen, captured int) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		seen, captured = 0, 0
		trail.Read(state, func(line []byte) error {
			var e event.Event
			if json.Unmarshal(line, &e) == nil && e.Gotrail.Kind == event.KindExec && len(e.Process.Args) == 2 && e.Process.Args[1] == "version" {
				seen++
				if getenv(&e, "GOFLAGS") == "-mod=mod" {
					captured++
				}
			}
			return nil
		})
		if seen >= runs {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return seen, captured
}

// getenv is the value of name in the event's process.env_vars.
func getenv(e *event.Event, name string) string {
	v, _ := e.Process.Getenv(name)
	return v
}

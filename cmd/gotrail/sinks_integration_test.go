package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/testutil/auditdtest"
	"github.com/gotrail/gotrail/internal/testutil/rsyslogtest"
)

// TestWatchSendsToSinks: the watcher sends every event to a real rsyslog
// over tcp, the unauthorized ones to a webhook, and its signed checkpoints
// to syslog; test-alert reports each sink.
func TestWatchSendsToSinks(t *testing.T) {
	auditdtest.Required(t)
	rsyslogtest.Required(t)
	bin := buildGotrail(t)
	rs := rsyslogtest.Start(t)
	var mu sync.Mutex
	var hooks []string
	robot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hooks = append(hooks, string(b))
		mu.Unlock()
	}))
	defer robot.Close()

	dir := t.TempDir()
	profile := filepath.Join(dir, "profile")
	os.WriteFile(profile, nil, 0o644)
	state := filepath.Join(dir, "state")
	cfg := filepath.Join(dir, "gotrail.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`host = "sinks"
state_dir = %q
[[sink]]
type = "syslog"
address = "tcp://%s"
min_severity = "info"
[[sink]]
type = "webhook"
format = "generic"
url = "%s/hook?key=SECRETKEY"
min_severity = "high"
`, state, rs.TCP, robot.URL)), 0o644)

	a := auditdtest.Start(t)
	a.AddRule(t, "-w", profile, "-p", "wa", "-k", "gotrail-profile")
	w, stderr := startWatcher(t, bin, "watch", "--audit-log", a.LogPath(), "--config", cfg, "--checkpoint-every", "2")
	for range 2 {
		if out, err := auditdtest.RunAsLogin(t, 4242, "sh", "-c", "echo x >> "+profile); err != nil {
			t.Fatalf("%v %s", err, out)
		}
	}
	a.Sync(t)
	// the two writes reach rsyslog, and so does a checkpoint; how many
	// other events (the harness's own configuration changes) come first is
	// the machine's business, not the test's
	for deadline := time.Now().Add(20 * time.Second); ; {
		data, _ := os.ReadFile(rs.Out)
		if strings.Count(string(data), " profile.modify ") >= 2 && strings.Count(string(data), " trail.checkpoint ") >= 1 {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(a.LogPath())
			var kinds []string
			for _, e := range trailEvents(t, state, event.KindProfile) {
				kinds = append(kinds, e.Event.ID)
			}
			t.Fatalf("rsyslog got:\n%s\ntrail profile events: %v\nwatcher said:\n%s\naudit log lines with the profile: %d",
				data, kinds, stderr.String(), bytes.Count(log, []byte(profile)))
		}
		time.Sleep(20 * time.Millisecond)
	}
	profileAlerts := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, h := range hooks {
			// one alert, or a burst of them as an array
			var evs []event.Event
			if strings.HasPrefix(h, "[") {
				json.Unmarshal([]byte(h), &evs)
			} else {
				var e event.Event
				json.Unmarshal([]byte(h), &e)
				evs = append(evs, e)
			}
			for _, e := range evs {
				if e.Gotrail.Kind == event.KindProfile && e.Gotrail.Severity == "high" {
					n++
				}
			}
		}
		return n
	}
	for deadline := time.Now().Add(10 * time.Second); profileAlerts() < 2 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	w.Process.Signal(syscall.SIGTERM)
	w.Wait()
	// SIGTERM signs what the last checkpoint did not cover: the last line
	// rsyslog has of this watcher is a checkpoint, after both writes (once
	// rsyslog, another process, has written what the watcher sent)
	var got, last string
	complete := func() bool {
		return strings.Count(got, " profile.modify ") == 2 && strings.Contains(last, " trail.checkpoint ") && strings.Contains(got, "gotrail trail checkpoint\\nsinks\\n")
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		data, _ := os.ReadFile(rs.Out)
		got = strings.TrimSpace(string(data))
		last = got[strings.LastIndexByte(got, '\n')+1:]
		if complete() || time.Now().After(deadline) {
			break
		}
	}
	if !complete() {
		t.Errorf("rsyslog got (want two profile.modify, and a checkpoint last):\n%s\nwatcher said:\n%s", got, stderr.String())
	}
	n := profileAlerts()
	mu.Lock()
	for _, h := range hooks {
		if strings.Contains(h, "trail.checkpoint") {
			t.Errorf("a checkpoint (info) reached the high-severity webhook")
		}
	}
	mu.Unlock()
	if n != 2 {
		t.Errorf("webhook got %d profile alerts, want 2: %q", n, hooks)
	}

	// test-alert: both sinks work; then the robot is gone
	var out bytes.Buffer
	g := &globalOptions{config: cfg, configNamed: true}
	if err := runTestAlert(t.Context(), g, &out); err != nil {
		t.Fatalf("test-alert: %v\n%s", err, out.String())
	}
	robot.Close()
	out.Reset()
	err := runTestAlert(t.Context(), g, &out)
	var fe *findingsError
	if !errors.As(err, &fe) || !strings.Contains(out.String(), "#1 (syslog ): ok") || !strings.Contains(out.String(), "#2 (webhook generic): FAILED") {
		t.Errorf("test-alert with the robot down: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String()+stderr.String(), "SECRETKEY") {
		t.Errorf("the webhook key leaked:\n%s\n%s", out.String(), stderr.String())
	}
}

// TestPolicyAlerts: with a policy that lets only root change
// /etc/profile.d, root's change raises no alert and another user's raises
// exactly one, in WeChat Work format, naming the user and the file.
func TestPolicyAlerts(t *testing.T) {
	auditdtest.Required(t)
	bin := buildGotrail(t)
	const user, uid = "gotrailalert", 4302
	addLoginUser(t, user, uid)
	var mu sync.Mutex
	var msgs []string
	robot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		msgs = append(msgs, string(b))
		mu.Unlock()
		w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
	}))
	defer robot.Close()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	cfg := filepath.Join(dir, "gotrail.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`host = "alerts"
state_dir = %q
[[policy]]
kinds = ["profile.modify"]
paths = ["/etc/profile.d"]
allow_users = ["root"]
[[sink]]
type = "webhook"
format = "wecom"
url = "%s/cgi-bin/webhook/send?key=K"
min_severity = "high"
lang = "en"
`, state, robot.URL)), 0o644)
	rootFile, userFile := "/etc/profile.d/gotrail-test-root.sh", "/etc/profile.d/gotrail-test-user.sh"
	t.Cleanup(func() { os.Remove(rootFile); os.Remove(userFile) })

	a := auditdtest.Start(t)
	a.AddRule(t, "-w", "/etc/profile.d", "-p", "wa", "-k", "gotrail-profile")
	w, stderr := startWatcher(t, bin, "watch", "--audit-log", a.LogPath(), "--config", cfg)
	if out, err := auditdtest.RunAsLogin(t, 0, "sh", "-c", "echo 'export GOPROXY=direct' > "+rootFile); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if out, err := auditdtest.RunAsLogin(t, uid, "sh", "-c", "echo 'export GOSUMDB=off' > "+userFile); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	a.Sync(t)
	// wait for the alert about userFile itself: the rule changes' alerts
	// may go first, and wecom's rate limit spaces messages 3 s apart
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n := strings.Count(strings.Join(msgs, "\n"), userFile)
		mu.Unlock()
		if n > 0 {
			break
		}
	}
	time.Sleep(3500 * time.Millisecond) // a second one would have come by now
	w.Process.Signal(syscall.SIGTERM)
	w.Wait()
	mu.Lock()
	defer mu.Unlock()
	// the rule changes the test made are alerts too (audit.tamper); the
	// policy's business is the profile.d changes
	all := strings.Join(msgs, "\n")
	if n := strings.Count(all, userFile); n != 1 {
		t.Fatalf("%d alerts about %s, want exactly one: %q\nwatcher said:\n%s", n, userFile, msgs, stderr.String())
	}
	m := all
	for _, want := range []string{`"msgtype":"markdown"`, user + " (as root)", userFile, "no [[policy]] allows " + user} {
		if !strings.Contains(m, want) {
			t.Errorf("alert lacks %q: %s", want, m)
		}
	}
	if strings.Contains(m, rootFile) {
		t.Errorf("root's authorized change alerted: %s", m)
	}
}

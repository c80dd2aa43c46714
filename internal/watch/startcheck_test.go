package watch

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/trail"
)

// kinds lists the trail's events as "kind: message".
func trailKinds(t *testing.T, state string) []string {
	t.Helper()
	var out []string
	trail.Read(state, func(line []byte) error {
		var e event.Event
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Gotrail.Kind+": "+e.Message)
		return nil
	})
	return out
}

// TestStartFindsTheTrailCut: the trail's segments and checkpoints deleted
// while the watcher was down, its position left: it does not start again
// at seq 1 as if nothing happened, but records an audit.tamper event, and
// signs a checkpoint at start.
func TestStartFindsTheTrailCut(t *testing.T) {
	for _, cut := range []string{"segments and checkpoints", "segments only", "last record cut"} {
		t.Run(cut, func(t *testing.T) {
			state := t.TempDir()
			log := filepath.Join(t.TempDir(), "audit.log")
			appendLog(t, log, profileEvent(100, 1, true)+profileEvent(101, 2, true)+profileEvent(102, 3, true))
			runUntil(t, state, log, 3)
			dir := filepath.Join(state, "trail")
			segs, _ := filepath.Glob(filepath.Join(dir, "trail-*.jsonl"))
			switch cut {
			case "segments and checkpoints":
				os.Remove(filepath.Join(dir, "checkpoints"))
				fallthrough
			case "segments only":
				for _, s := range segs {
					os.Remove(s)
				}
			case "last record cut":
				data, _ := os.ReadFile(segs[len(segs)-1])
				lines := strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n")
				os.WriteFile(segs[len(segs)-1], []byte(strings.Join(lines[:len(lines)-1], "")), 0o600)
				os.Remove(filepath.Join(dir, "checkpoints"))
			}
			w, err := New(Options{StateDir: state, Host: "test"})
			if err != nil {
				t.Fatal(err)
			}
			w.finish(nil)
			got := trailKinds(t, state)
			if len(got) == 0 || !strings.HasPrefix(got[len(got)-1], event.KindTamper+": the trail ends at seq") ||
				!strings.Contains(got[len(got)-1], "records were removed or rewritten while gotrail was not running") {
				t.Fatalf("trail after the cut: %q", got)
			}
			head, err := trail.LastCheckpoint(state)
			if err != nil || head.Seq == 0 {
				t.Errorf("no checkpoint signed at start: %+v %v", head, err)
			}
		})
	}
}

// TestStartSignsACheckpoint: a trail whose watcher stopped is vouched for
// again from the moment it starts, and nothing is called tampered.
func TestStartSignsACheckpoint(t *testing.T) {
	state := t.TempDir()
	log := filepath.Join(t.TempDir(), "audit.log")
	appendLog(t, log, profileEvent(100, 1, true)+profileEvent(101, 2, true))
	runUntil(t, state, log, 2)
	w, err := New(Options{StateDir: state, Host: "test"})
	if err != nil {
		t.Fatal(err)
	}
	w.finish(nil)
	for _, k := range trailKinds(t, state) {
		if strings.HasPrefix(k, event.KindTamper) {
			t.Errorf("a clean restart called the trail tampered: %s", k)
		}
	}
	if rep, err := trail.Verify(state, trail.VerifyOptions{}); err != nil || rep.Problem != nil || rep.Proven != 2 {
		t.Errorf("Verify: %v %+v", err, rep)
	}
}

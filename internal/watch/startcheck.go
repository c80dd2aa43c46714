package watch

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/trail"
)

// atStart compares the trail with what the watcher knew of it when it
// last ran (the position's trail seq and hash, the newest checkpoint) and
// records an audit.tamper event when the trail is behind or different:
// its records were removed or rewritten while gotrail was not running. It
// then signs a checkpoint of the head, so that what is there now is
// vouched for from the first moment.
func (w *Watcher) atStart() {
	head := w.trail.Head()
	var why []string
	var st state
	if data, err := os.ReadFile(w.positionFile); err == nil && json.Unmarshal(data, &st) == nil {
		switch {
		case st.TrailSeq > head.Seq:
			why = append(why, fmt.Sprintf("its state (%s) says the trail had reached seq %d", w.positionFile, st.TrailSeq))
		case st.TrailSeq == head.Seq && st.TrailHash != "" && st.TrailHash != head.Hash:
			why = append(why, fmt.Sprintf("its state (%s) has another hash for seq %d: %s", w.positionFile, st.TrailSeq, st.TrailHash))
		}
	}
	cp, err := trail.LastCheckpoint(w.opt.StateDir)
	if err != nil {
		why = append(why, fmt.Sprintf("its checkpoints do not read: %v", err))
	} else if cp.Seq > head.Seq {
		why = append(why, fmt.Sprintf("the last checkpoint signed covers seq %d", cp.Seq))
	}
	if len(why) > 0 {
		w.trailTampered(head, why)
	}
	if w.trail.Head().Seq > 0 {
		w.checkpoint(time.Now())
	}
}

// trailTampered appends the audit.tamper event that says the trail lost
// or changed records while the watcher was down, and hands it to the sinks.
func (w *Watcher) trailTampered(head trail.Head, why []string) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	no := false
	e := &event.Event{
		Time:    event.Time{Time: now},
		Event:   event.Meta{ID: "trail:" + now.Format("20060102T150405.000"), Action: "truncate", Outcome: "success"},
		Gotrail: event.Gotrail{Kind: event.KindTamper, Severity: "critical", Authorized: &no},
		Host:    event.Host{Name: w.opt.Host},
		Message: fmt.Sprintf("the trail ends at seq %d but %s: records were removed or rewritten while gotrail was not running (gotrail verify names the first)",
			head.Seq, strings.Join(why, ", and ")),
	}
	event.Categorize(e)
	w.opt.Log.Error("the trail is not what the watcher left", "head", head.Seq, "why", strings.Join(why, "; "))
	if err := w.trail.Append(e); err != nil {
		w.opt.Log.Error("trail append failed", "event", e.Event.ID, "err", err)
		return
	}
	w.dirty = true
	if w.opt.OnEvent != nil {
		w.opt.OnEvent(e)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/sink"
	"github.com/gotrail/gotrail/internal/trail"
)

// TestVerifyAndReadTrail: a trail written by the trail package is read back
// by events --trail and proven by verify; one changed byte makes verify
// name the record and exit 1, and a public key from elsewhere is honoured.
func TestVerifyAndReadTrail(t *testing.T) {
	state := t.TempDir()
	w, err := trail.Open(state, trail.Options{})
	if err != nil {
		t.Fatal(err)
	}
	signer, vkey, _, err := trail.Key(state, "web-01")
	if err != nil {
		t.Fatal(err)
	}
	for i, who := range []string{"alice", "bob", "alice"} {
		e := &event.Event{
			Time:    event.Time{Time: time.Date(2026, 11, 25, 20, 0, i, 0, time.UTC)},
			Event:   event.Meta{ID: "1.0:" + who, Action: "write"},
			Gotrail: event.Gotrail{Kind: event.KindGoenv},
			User:    event.User{Audit: &event.Ident{ID: "100" + string(rune('0'+i)), Name: who}},
			File:    &event.File{Path: "/home/" + who + "/.config/go/env"},
			Message: who + " wrote ~/.config/go/env with go",
		}
		if err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Checkpoint(signer, "web-01"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	g := &globalOptions{stateDir: state, stateDirNamed: true, root: "/", format: "text", config: filepath.Join(state, "none.toml")}

	var out bytes.Buffer
	if err := runEvents(context.Background(), g, &eventsOptions{trail: true, users: []string{"alice"}}, nil, nil, &out, &out); err != nil {
		t.Fatalf("events --trail: %v", err)
	}
	if got := strings.Count(out.String(), "goenv.modify"); got != 2 {
		t.Errorf("events --trail --user alice printed %d events:\n%s", got, out.String())
	}

	keyFile := filepath.Join(t.TempDir(), "kept.pub")
	os.WriteFile(keyFile, []byte(vkey+"\n"), 0o644)
	out.Reset()
	if err := runVerify(g, &verifyOptions{pubkey: keyFile}, &out); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !strings.Contains(out.String(), "trail ok: 3 records in 1 segments") || !strings.Contains(out.String(), "1 checkpoints of this host match") ||
		!strings.Contains(out.String(), "proven up to seq 3 by this host's checkpoints only") {
		t.Errorf("verify said:\n%s", out.String())
	}

	// the collector's copy of the checkpoints proves the trail up to them
	held := filepath.Join(t.TempDir(), "collected.log")
	cps, _ := os.ReadFile(filepath.Join(state, "trail", "checkpoints"))
	os.WriteFile(held, cps, 0o600)
	out.Reset()
	if err := runVerify(g, &verifyOptions{pubkey: keyFile, checkpoints: held}, &out); err != nil {
		t.Fatalf("verify --checkpoints: %v", err)
	}
	if !strings.Contains(out.String(), "proven up to seq 3 by 1 checkpoints held elsewhere ("+held+")") {
		t.Errorf("verify --checkpoints said:\n%s", out.String())
	}
	// a note written into the collector's log that does not verify: the
	// trail is checked against the good ones, and the forged one named
	forged, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(string(cps)))
	forged = bytes.Replace(forged, []byte("gotrail trail checkpoint\nweb-01\n"), []byte("gotrail trail checkpoint\nweb-02\n"), 1)
	os.WriteFile(held, append(cps, []byte(base64.StdEncoding.EncodeToString(forged)+"\n")...), 0o600)
	out.Reset()
	err = runVerify(g, &verifyOptions{pubkey: keyFile, checkpoints: held}, &out)
	if exitCode(err) != exitFindings || !strings.Contains(out.String(), "proven up to seq 3") || !strings.Contains(out.String(), "not a checkpoint of this trail's key: "+held+":2:") {
		t.Errorf("verify --checkpoints with a forged note: %v\n%s", err, out.String())
	}
	os.WriteFile(held, []byte("nothing of gotrail's\n"), 0o600)
	if err := runVerify(g, &verifyOptions{pubkey: keyFile, checkpoints: held}, &out); err == nil || !strings.Contains(err.Error(), "holds no gotrail checkpoint") {
		t.Errorf("verify --checkpoints of a file without any: %v", err)
	}

	editTrail(t, state, "bob wrote", "bob wrotE")
	err = runVerify(g, &verifyOptions{pubkey: keyFile}, &out)
	var fe *findingsError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "record seq 2 (") || !strings.Contains(err.Error(), "was modified") {
		t.Errorf("verify of a changed byte: %v", err)
	}
	if exitCode(err) != exitFindings {
		t.Errorf("exit status %d, want %d", exitCode(err), exitFindings)
	}
}

// TestVerifyCollected: verify --collected over a collector's file of one
// host's records and checkpoint proves it (text and JSON), names a record
// deleted there with exit 1, and refuses to run without --pubkeys.
// editTrail replaces the first old in the trail's segments with new, as
// someone editing the file would: the hashes are left as they were. It
// looks in every segment, since a test run across midnight writes two.
func editTrail(t *testing.T, state, old, new string) {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(state, "trail", "trail-*.jsonl"))
	for _, s := range segs {
		data, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(old)) {
			if err := os.WriteFile(s, bytes.Replace(data, []byte(old), []byte(new), 1), 0o600); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("%q is in none of the trail's segments %v", old, segs)
}

func TestVerifyCollected(t *testing.T) {
	state := t.TempDir()
	w, err := trail.Open(state, trail.Options{})
	if err != nil {
		t.Fatal(err)
	}
	signer, vkey, _, err := trail.Key(state, "web-01")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		e := &event.Event{Time: event.Time{Time: time.Date(2026, 11, 25, 20, 0, i, 0, time.UTC)}, Event: event.Meta{ID: "1.0:" + string(rune('a'+i))},
			Gotrail: event.Gotrail{Kind: event.KindGoenv}, Host: event.Host{Name: "web-01"}, Message: "alice wrote ~/.config/go/env"}
		if err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	cp, err := w.Checkpoint(signer, "web-01")
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	var lines []string
	trail.Read(state, func(line []byte) error {
		r, _ := trail.SplitRecord(line)
		lines = append(lines, fmt.Sprintf(`<85>1 2026-11-25T20:16:49.006Z web-01 gotrail - goenv.modify [gotrail@32473 payload="trail" seq="%d" hash="%s"] %s`, r.Seq, r.Hash, line))
		return nil
	})
	lines = append(lines, string(sink.RFC5424{}.Append(nil, sink.Checkpoint("web-01", cp.Head.Seq, cp.Head.Hash, cp.Time, cp.Note))))
	dir, keys := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(keys, "web-01.pub"), []byte(vkey+"\n"), 0o644)
	file := filepath.Join(dir, "trail.log")
	os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o640)

	g := &globalOptions{stateDir: state, format: "text", config: filepath.Join(state, "none.toml")}
	var out bytes.Buffer
	if err := runVerifyCollected(g, &verifyOptions{collected: true, pubkeys: keys}, []string{file}, &out); err != nil {
		t.Fatalf("verify --collected: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "web-01: complete: 5 records, seq 1 to 5") || !strings.Contains(out.String(), "proven up to seq 5 by the checkpoint signed at") {
		t.Errorf("verify --collected said:\n%s", out.String())
	}
	g.format = "json"
	out.Reset()
	if err := runVerifyCollected(g, &verifyOptions{collected: true, pubkeys: keys}, []string{file}, &out); err != nil || !strings.Contains(out.String(), `"complete": true`) {
		t.Errorf("verify --collected --format json: %v\n%s", err, out.String())
	}

	os.WriteFile(file, []byte(strings.Join(append(lines[:2:2], lines[3:]...), "\n")+"\n"), 0o640)
	g.format = "text"
	out.Reset()
	err = runVerifyCollected(g, &verifyOptions{collected: true, pubkeys: keys}, []string{file}, &out)
	if exitCode(err) != exitFindings || !strings.Contains(out.String(), "missing: 1 records: seq 3") {
		t.Errorf("a line deleted: %v\n%s", err, out.String())
	}
	if err := runVerifyCollected(g, &verifyOptions{collected: true}, []string{file}, &out); exitCode(err) != exitError {
		t.Errorf("without --pubkeys: %v", err)
	}
	if err := runVerifyCollected(g, &verifyOptions{collected: true, pubkeys: keys}, []string{filepath.Join(dir, "none")}, &out); exitCode(err) != exitError {
		t.Errorf("a file that is not there: %v", err)
	}
}

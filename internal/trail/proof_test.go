package trail

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// The attacks below are root's on the host: the trail's key is readable,
// so hashes can be recomputed and checkpoints signed again. What a
// collector received before cannot be changed, and the anchor and the
// "no checkpoint matched" rule leave no unproven way around.

// rechain edits the records from seq `from` on and recomputes every hash
// after, as root can.
func rechain(t *testing.T, dir string, from uint64, edit func([]byte) []byte) {
	t.Helper()
	all, lines := trailLines(t, dir)
	prev := Genesis
	for i, l := range lines {
		r, err := parseLine(bytes.TrimSuffix(l, []byte("\n")))
		if err != nil {
			t.Fatal(err)
		}
		canon := r.canon
		if r.seq >= from {
			canon = edit(canon)
		}
		sum := sha256.New()
		sum.Write([]byte(prev))
		sum.Write(canon)
		hash := hex.EncodeToString(sum.Sum(nil))
		line := append([]byte(nil), canon[:len(canon)-1]...)
		line = append(line, trailMarker...)
		line = strconv.AppendUint(line, r.seq, 10)
		line = append(line, `,"prev":"`+prev+`","hash":"`+hash+"\"}}\n"...)
		lines[i], prev = line, hash
	}
	rewrite(t, all, all, lines)
}

// resign signs every checkpoint again with the key on the host, over the
// chain as it is now.
func resign(t *testing.T, dir string) {
	t.Helper()
	signer, _, _, err := Key(dir, "web-01")
	if err != nil {
		t.Fatal(err)
	}
	cps, err := readCheckpoints(filepath.Join(dir, dirName), nil)
	if err != nil {
		t.Fatal(err)
	}
	hashes := map[uint64]string{}
	_, lines := trailLines(t, dir)
	for _, l := range lines {
		r, _ := parseLine(bytes.TrimSuffix(l, []byte("\n")))
		hashes[r.seq] = r.hash
	}
	var out strings.Builder
	for _, c := range cps {
		msg, err := note.Sign(&note.Note{Text: noteText(checkpointTitle, c.Host, Head{Seq: c.Head.Seq, Hash: hashes[c.Head.Seq]}, c.Time)}, signer)
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString(base64.StdEncoding.EncodeToString(msg) + "\n")
	}
	os.WriteFile(filepath.Join(dir, dirName, checkpointsFile), []byte(out.String()), 0o600)
}

// collected is what a collector received: every checkpoint as signed.
func collected(t *testing.T, dir string) []*Checkpoint {
	t.Helper()
	cps, err := readCheckpoints(filepath.Join(dir, dirName), nil)
	if err != nil {
		t.Fatal(err)
	}
	return cps
}

func edited(canon []byte) []byte {
	return bytes.Replace(canon, []byte("alice (as root)"), []byte("bob (as root)"), 1)
}

func TestProofAgainstRoot(t *testing.T) {
	tests := []struct {
		name   string
		attack func(t *testing.T, dir string)
		local  string // what Verify says without the collector's copies ("" = ok)
		held   string // and with them
	}{
		{"an edit, hashes recomputed, checkpoints deleted", func(t *testing.T, dir string) {
			rechain(t, dir, 7, edited)
			os.Remove(filepath.Join(dir, dirName, checkpointsFile))
		}, "no checkpoint matches the trail", "differs from the checkpoint held elsewhere signed at 2026-11-25T23:59:00Z: history was rewritten"},
		{"only an early checkpoint kept", func(t *testing.T, dir string) {
			rechain(t, dir, 15, edited)
			cps, _ := os.ReadFile(filepath.Join(dir, dirName, checkpointsFile))
			first, _, _ := bytes.Cut(cps, []byte("\n"))
			os.WriteFile(filepath.Join(dir, dirName, checkpointsFile), append(first, '\n'), 0o600)
		}, "", "record seq 20 ("},
		{"every checkpoint signed again with the key on the host", func(t *testing.T, dir string) {
			rechain(t, dir, 3, edited)
			resign(t, dir)
		}, "", "differs from the checkpoint held elsewhere signed at 2026-11-25T23:59:00Z: history was rewritten"},
		{"the records after the last checkpoint dropped, with it", func(t *testing.T, dir string) {
			all, lines := trailLines(t, dir)
			rewrite(t, all, all[:40], lines[:40])
			cps, _ := os.ReadFile(filepath.Join(dir, dirName, checkpointsFile))
			kept := bytes.SplitAfter(cps, []byte("\n"))
			os.WriteFile(filepath.Join(dir, dirName, checkpointsFile), bytes.Join(kept[:len(kept)-2], nil), 0o600)
		}, "", "the trail ends at seq 40 but the checkpoint held elsewhere signed at 2026-11-26T00:01:00Z covers seq 45"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			vkey := writeTrail(t, dir, 45)
			signer, _, _, _ := Key(dir, "web-01")
			w, _ := Open(dir, Options{Now: func() time.Time { return time.Date(2026, 11, 26, 0, 1, 0, 0, time.UTC) }})
			w.Checkpoint(signer, "web-01") // at stop: seq 45
			w.Close()
			held := collected(t, dir)
			tt.attack(t, dir)
			v := verifier(t, vkey)
			rep, err := Verify(dir, VerifyOptions{Verifier: v})
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.local == "" && rep.Problem != nil:
				t.Errorf("on the host alone: %v; root's rewrite passes there, want ok", rep.Problem)
			case tt.local != "" && (rep.Problem == nil || !strings.Contains(rep.Problem.Error(), tt.local)):
				t.Errorf("on the host alone: %v, want %q", rep.Problem, tt.local)
			}
			rep, err = Verify(dir, VerifyOptions{Verifier: v, Held: held})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Problem == nil || !strings.Contains(rep.Problem.Error(), tt.held) {
				t.Errorf("with the collector's checkpoints: %v, want %q", rep.Problem, tt.held)
			}
		})
	}
}

// TestProofOfAnchor: the oldest segment deleted and an anchor forged. An
// unsigned one is refused; one signed with the key on the host passes on
// the host alone, but not against a collector that held checkpoints from
// before it and no such anchor.
func TestProofOfAnchor(t *testing.T) {
	dir := t.TempDir()
	vkey := writeTrail(t, dir, 45)
	v := verifier(t, vkey)
	held := collected(t, dir)
	// the segments before the one that holds seq 25 go: the collector
	// held checkpoints 10 and 20 from them
	last := cutBefore(t, dir, 25)
	forged, _ := json.Marshal(Anchor{Head: Head{Seq: last.seq, Hash: last.hash}, Pruned: time.Now()})
	anchorPath := filepath.Join(dir, dirName, anchorFile)
	os.WriteFile(anchorPath, forged, 0o600)
	if rep, _ := Verify(dir, VerifyOptions{Verifier: v}); rep.Problem == nil || !strings.Contains(rep.Problem.Error(), "is not signed") {
		t.Errorf("unsigned anchor: %v", rep.Problem)
	}

	signer, _, _, _ := Key(dir, "web-01")
	msg, _ := note.Sign(&note.Note{Text: noteText(anchorTitle, "web-01", Head{Seq: last.seq, Hash: last.hash}, time.Now())}, signer)
	forged, _ = json.Marshal(Anchor{Head: Head{Seq: last.seq, Hash: last.hash}, Pruned: time.Now(), Note: msg})
	os.WriteFile(anchorPath, forged, 0o600)
	if rep, _ := Verify(dir, VerifyOptions{Verifier: v}); rep.Problem != nil {
		t.Errorf("anchor signed with the key on the host, on the host alone: %v (root can do this; want ok)", rep.Problem)
	}
	rep, _ := Verify(dir, VerifyOptions{Verifier: v, Held: held})
	if rep.Problem == nil || !strings.Contains(rep.Problem.Error(), "records before it were removed, not by retention") {
		t.Errorf("forged anchor against the collector: %v", rep.Problem)
	}
}

// TestProofNamesProven: Verify says up to which seq the collector's
// checkpoints prove the trail.
func TestProofNamesProven(t *testing.T) {
	dir := t.TempDir()
	vkey := writeTrail(t, dir, 45)
	held := collected(t, dir)
	rep, err := Verify(dir, VerifyOptions{Verifier: verifier(t, vkey), Held: held[:2]})
	if err != nil || rep.Problem != nil || rep.Proven != 20 || rep.Held != 2 || rep.Head.Seq != 45 {
		t.Errorf("Verify with the first two checkpoints held elsewhere: %v %+v", err, rep)
	}
}

// TestVerifyNamesALongRecord: a line longer than the reader takes is named,
// not "token too long".
func TestVerifyNamesALongRecord(t *testing.T) {
	dir := t.TempDir()
	writeTrail(t, dir, 12)
	all, lines := trailLines(t, dir)
	lines[5] = append(bytes.Repeat([]byte("x"), maxRecord+10), '\n')
	rewrite(t, all, all, lines)
	rep, err := Verify(dir, VerifyOptions{})
	if err != nil || rep.Problem == nil || !strings.Contains(rep.Problem.Error(), "is longer than 64 MiB: not a record gotrail wrote") {
		t.Errorf("Verify: %v, %v", err, rep.Problem)
	}
}

// TestReadHeld: the collector's file as rsyslog, Elastic or a copy keep it.
func TestReadHeld(t *testing.T) {
	dir := t.TempDir()
	vkey := writeTrail(t, dir, 20)
	cps := collected(t, dir)
	esc := func(s string) string {
		return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
	}
	js, _ := json.Marshal(map[string]any{"@timestamp": "2026-11-25T23:59:00Z", "message": string(cps[1].Note)})
	file := strings.Join([]string{
		"Nov 25 23:59:00 web-01 sshd[1]: unrelated",
		`<86>1 2026-11-25T23:59:00.000Z web-01 gotrail - trail.checkpoint [gotrail@32473 seq="10"] ` + esc(string(cps[0].Note)),
		string(js),
		base64.StdEncoding.EncodeToString(cps[1].Note),
	}, "\n") + "\n"
	p := filepath.Join(t.TempDir(), "collected.log")
	os.WriteFile(p, []byte(file), 0o600)
	got, bad, err := ReadHeld(p, verifier(t, vkey))
	if err != nil || len(bad) != 0 || len(got) != 3 || got[0].Head != cps[0].Head || got[1].Head != cps[1].Head {
		t.Fatalf("ReadHeld: %v, bad %v, %+v", err, bad, got)
	}
	// a collector's copy altered, and a line longer than any note: the
	// altered note is named and not used, the long line skipped, the rest read
	altered := strings.Replace(file, cps[0].Head.Hash, strings.Repeat("0", 64), 1) + strings.Repeat("x", 5<<20) + "\n"
	os.WriteFile(p, []byte(altered), 0o600)
	got, bad, err = ReadHeld(p, verifier(t, vkey))
	if err != nil || len(bad) != 1 || !strings.Contains(bad[0], "collected.log:2:") || len(got) != 2 {
		t.Errorf("altered copy: %v, bad %v, %d read", err, bad, len(got))
	}
}

// TestProofOfAnchorByTime: the collector's file starts late (rotated), so
// it holds no checkpoint of a seq before the forged anchor; but it held
// checkpoints from before the time the anchor says it was made, so it
// would have received it.
func TestProofOfAnchorByTime(t *testing.T) {
	dir := t.TempDir()
	vkey := writeTrail(t, dir, 45)
	v := verifier(t, vkey)
	all := collected(t, dir)
	held := all[len(all)-1:] // cp@40 only
	last := cutBefore(t, dir, 25)
	signer, _, _, _ := Key(dir, "web-01")
	head := Head{Seq: last.seq, Hash: last.hash}
	msg, _ := note.Sign(&note.Note{Text: noteText(anchorTitle, "web-01", head, time.Date(2026, 12, 30, 0, 0, 0, 0, time.UTC))}, signer)
	forged, _ := json.Marshal(Anchor{Head: head, Pruned: time.Now(), Note: msg})
	os.WriteFile(filepath.Join(dir, dirName, anchorFile), forged, 0o600)
	rep, _ := Verify(dir, VerifyOptions{Verifier: v, Held: held})
	if rep.Problem == nil || !strings.Contains(rep.Problem.Error(), "not by retention") {
		t.Errorf("an anchor made after the collector's checkpoints, not held: %v", rep.Problem)
	}
	// and without the key, notes held elsewhere prove nothing
	rep, _ = Verify(dir, VerifyOptions{Held: held})
	if rep.Problem == nil || !strings.Contains(rep.Problem.Error(), "without the trail's public key") {
		t.Errorf("held notes without a verifier: %v", rep.Problem)
	}
}

// cutBefore removes the segments before the one that holds seq, as root
// would, and returns the last record removed.
func cutBefore(t *testing.T, dir string, seq uint64) record {
	t.Helper()
	segs, _ := segments(filepath.Join(dir, dirName))
	_, lines := trailLines(t, dir)
	cut := 0
	for i, sg := range segs {
		if f, _ := segmentFirst(sg); f <= seq {
			cut = i
		}
	}
	first, _ := segmentFirst(segs[cut])
	var last record
	for _, l := range lines {
		if r, _ := parseLine(bytes.TrimSuffix(l, []byte("\n"))); r.seq == first-1 {
			last = r
		}
	}
	for _, sg := range segs[:cut] {
		os.Remove(sg)
	}
	return last
}

package trail

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// drain reads the tail to its end, checking the seqs run on from want.
func drain(t *testing.T, tl *Tail, want uint64) uint64 {
	t.Helper()
	for {
		r, err := tl.Next()
		line, seq := r.Line, r.Seq
		if err == io.EOF {
			return want
		}
		if err != nil {
			t.Fatalf("Next after seq %d: %v", want-1, err)
		}
		if seq != want {
			t.Fatalf("Next gave seq %d, want %d", seq, want)
		}
		if r, err := parseLine(line); err != nil || r.seq != seq {
			t.Fatalf("seq %d: line %q does not parse as itself: %v", seq, line, err)
		}
		want++
	}
}

func TestTailFollowsAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	writeTrail(t, dir, 60) // 4 KiB segments over two days
	segs, _ := segments(filepath.Join(dir, dirName))
	if len(segs) < 3 {
		t.Fatalf("want several segments, have %d", len(segs))
	}
	for _, from := range []uint64{0, 1, 17, 59, 60} {
		tl, err := OpenTail(dir, from)
		if err != nil {
			t.Fatal(err)
		}
		if next := drain(t, tl, from+1); next != 61 {
			t.Errorf("from %d: read up to %d, want 60", from, next-1)
		}
		tl.Close()
	}

	// the trail grows while it is tailed, into new segments
	tl, err := OpenTail(dir, 55)
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	next := drain(t, tl, 56)
	w, err := Open(dir, Options{MaxSegment: 4096, Now: func() time.Time { return time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	for i := 61; i <= 100; i++ {
		if err := w.Append(sampleEvent(i)); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			next = drain(t, tl, next)
		}
	}
	w.Close()
	if next = drain(t, tl, next); next != 101 {
		t.Fatalf("read up to %d, want 100", next-1)
	}
}

// A line the writer has written only in part is handed out whole, once.
func TestTailWaitsForAWholeLine(t *testing.T) {
	dir := t.TempDir()
	writeTrail(t, dir, 3)
	tl, err := OpenTail(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	if _, err := tl.Next(); err != io.EOF {
		t.Fatalf("at the head: %v, want EOF", err)
	}
	// the next line, as another Writer would append it, written in two halves
	other := t.TempDir()
	writeTrail(t, other, 4)
	segs, _ := segments(filepath.Join(other, dirName))
	data, _ := os.ReadFile(segs[len(segs)-1])
	last := data[len(data)-1-lastLineLen(data):]
	mine, _ := segments(filepath.Join(dir, dirName))
	f, err := os.OpenFile(mine[len(mine)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write(last[:len(last)/2])
	if _, err := tl.Next(); err != io.EOF {
		t.Fatalf("half a line: %v, want EOF", err)
	}
	f.Write(last[len(last)/2:])
	r, err := tl.Next()
	line, seq := r.Line, r.Seq
	if err != nil || seq != 4 || string(line)+"\n" != string(last) {
		t.Fatalf("whole line: seq %d err %v\n got %q\nwant %q", seq, err, line, last)
	}
	if _, err := tl.Next(); err != io.EOF {
		t.Fatalf("after it: %v, want EOF", err)
	}
}

func lastLineLen(data []byte) int {
	for i := len(data) - 2; i >= 0; i-- {
		if data[i] == '\n' {
			return len(data) - 2 - i
		}
	}
	return len(data) - 1
}

// Records pruned before they were shipped show as a jump in seq.
func TestTailAfterPruning(t *testing.T) {
	dir := t.TempDir()
	writeTrail(t, dir, 60)
	segs, _ := segments(filepath.Join(dir, dirName))
	os.Remove(segs[0])
	first, _ := segmentFirst(segs[1])
	tl, err := OpenTail(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	r, err := tl.Next()
	seq := r.Seq
	if err != nil || seq != first {
		t.Fatalf("first record %d (%v), want %d: the first left", seq, err, first)
	}
	drain(t, tl, first+1)
}

// A tail opened before the trail exists finds its first segment.
func TestTailBeforeTheTrail(t *testing.T) {
	dir := t.TempDir()
	tl, err := OpenTail(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	if _, err := tl.Next(); err != io.EOF {
		t.Fatalf("no trail: %v, want EOF", err)
	}
	writeTrail(t, dir, 20)
	if next := drain(t, tl, 1); next != 21 {
		t.Fatalf("read up to %d, want 20", next-1)
	}
}

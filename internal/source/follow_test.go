package source

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

type collector struct {
	mu    sync.Mutex
	lines []string
	last  Position
	idles int // times the follower said it had caught up
}

func (c *collector) idle() {
	c.mu.Lock()
	c.idles++
	c.mu.Unlock()
}

// caughtUp waits until the follower has caught up with the log twice
// more: everything written before the call has been read, and what it
// handed over is in c.lines.
func (c *collector) caughtUp(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	from := c.idles
	c.mu.Unlock()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		c.mu.Lock()
		n := c.idles
		c.mu.Unlock()
		if n >= from+2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the follower never caught up with the log")
		}
	}
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.lines)
}

func (c *collector) handle(l Line) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, string(l.Text))
	c.last = l.Next
	return nil
}

func (c *collector) waitFor(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		got := slices.Clone(c.lines)
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d lines, want %d: %q", len(got), n, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func appendLines(t *testing.T, path string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i < to; i++ {
		fmt.Fprintf(f, "line %d\n", i)
	}
	f.Close()
}

func want(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("line %d", i))
	}
	return out
}

// TestFollowRotationAndTruncation: lines appended, a partial line completed
// later, a rotation with lines written to the old file just before it, and a
// truncation: every line exactly once, in order.
func TestFollowRotationAndTruncation(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.log")
	appendLines(t, log, 0, 5)
	c := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Follower{Path: log, Poll: time.Millisecond}).Run(ctx, Position{}, c.handle, c.idle) }()
	c.waitFor(t, 5)

	f, _ := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("line 5 is ")
	c.caughtUp(t) // it has read the half line, and must not hand it over
	if n := c.count(); n != 5 {
		t.Fatalf("a half-written line was handed over: %d lines", n)
	}
	f.WriteString("whole\n")
	f.Close()
	c.waitFor(t, 6)

	// auditd's rotation: a last write to the old file, rename, a new file
	appendLines(t, log, 6, 8)
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, log+".1", 8, 9) // written through the old descriptor
	appendLines(t, log, 9, 12)
	c.waitFor(t, 12)

	// truncation, once the new file is read to its end
	c.caughtUp(t)
	os.WriteFile(log, []byte("line 12\n"), 0o600)
	got := c.waitFor(t, 13)
	cancel()
	<-done

	w := append(want(0, 5), "line 5 is whole")
	w = append(w, want(6, 13)...)
	if !slices.Equal(got, w) {
		t.Errorf("lines:\n got %q\nwant %q", got, w)
	}
}

// TestFollowResumesAcrossRotation: stopped at a position, the log rotated
// while the follower was down; on restart it finishes the rotated file from
// the position, then reads the new one, nothing repeated.
func TestFollowResumesAcrossRotation(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.log")
	appendLines(t, log, 0, 4)
	c := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Follower{Path: log, Poll: time.Millisecond}).Run(ctx, Position{}, c.handle, nil) }()
	c.waitFor(t, 4)
	cancel()
	<-done
	pos := c.last // what a watcher saves

	// while down: more lines, a rotation, more lines
	appendLines(t, log, 4, 6)
	os.Rename(log, log+".1")
	appendLines(t, log, 6, 9)

	c2 := &collector{}
	ctx, cancel = context.WithCancel(context.Background())
	go func() { done <- (&Follower{Path: log, Poll: time.Millisecond}).Run(ctx, pos, c2.handle, c2.idle) }()
	c2.waitFor(t, 5)
	c2.caughtUp(t) // nothing more comes: no line read twice
	got := c2.waitFor(t, 5)
	cancel()
	<-done
	if !slices.Equal(got, want(4, 9)) {
		t.Errorf("after restart: %q, want %q", got, want(4, 9))
	}
}

func TestTypeName(t *testing.T) {
	for n, want := range map[uint16]string{1300: "SYSCALL", 1302: "PATH", 1327: "PROCTITLE", 1105: "USER_START", 1201: "DAEMON_END", 1006: "LOGIN", 1305: "CONFIG_CHANGE", 65000: "UNKNOWN[65000]"} {
		if got := TypeName(n); got != want {
			t.Errorf("TypeName(%d) = %q, want %q", n, got, want)
		}
	}
}

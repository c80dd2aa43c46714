package trail

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestWritersInterleave: two Writers on one trail (as gotrail watch and
// gotrail install are) appending at once, across segment rotations, keep one
// valid chain with every record in it.
func TestWritersInterleave(t *testing.T) {
	dir := t.TempDir()
	const each = 300
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for wi := range 2 {
		w, err := Open(dir, Options{MaxSegment: 8 << 10})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.Close()
			for i := range each {
				e := sampleEvent(wi*each + i)
				if err := w.Append(e); err != nil {
					errs <- err
					return
				}
				if i%50 == 0 {
					if err := w.Sync(); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seal(t, dir)
	rep, err := Verify(dir, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Problem != nil {
		t.Fatalf("the chain broke: %v", rep.Problem)
	}
	if rep.Records != 2*each || rep.Head.Seq != 2*each {
		t.Fatalf("got %d records, head %d; want %d", rep.Records, rep.Head.Seq, 2*each)
	}
	if rep.Segments < 10 {
		t.Fatalf("only %d segments: the test did not rotate", rep.Segments)
	}
}

// TestWriterProcesses: the same across processes, the way it happens on a
// host: this test binary appends in a child while the parent appends too.
func TestWriterProcesses(t *testing.T) {
	if dir := os.Getenv("GOTRAIL_TRAIL_CHILD"); dir != "" {
		n, _ := strconv.Atoi(os.Getenv("GOTRAIL_TRAIL_N"))
		w, err := Open(dir, Options{MaxSegment: 16 << 10})
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := w.Append(sampleEvent(10000 + i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return
	}
	dir := t.TempDir()
	const n = 400
	w, err := Open(dir, Options{MaxSegment: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var children []*exec.Cmd
	for range 2 {
		c := exec.Command(os.Args[0], "-test.run=^TestWriterProcesses$", "-test.count=1")
		c.Env = append(os.Environ(), "GOTRAIL_TRAIL_CHILD="+dir, "GOTRAIL_TRAIL_N="+strconv.Itoa(n))
		c.Stdout, c.Stderr = os.Stderr, os.Stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		children = append(children, c)
	}
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; i < n; i++ {
		if err := w.Append(sampleEvent(i)); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("too slow")
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range children {
		if err := c.Wait(); err != nil {
			t.Fatalf("child: %v", err)
		}
	}
	seal(t, dir)
	rep, err := Verify(dir, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Problem != nil {
		t.Fatalf("the chain broke: %v", rep.Problem)
	}
	if want := uint64(3 * n); rep.Records != want {
		t.Fatalf("got %d records, want %d", rep.Records, want)
	}
	fmt.Fprintf(os.Stderr, "3 processes, %d records in %d segments\n", rep.Records, rep.Segments)
}

// seal signs a checkpoint of the trail's head, as the watcher does when it
// stops: Verify calls no trail whole that no checkpoint matches.
func seal(t *testing.T, dir string) {
	t.Helper()
	signer, _, _, err := Key(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	w, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Checkpoint(signer, "test"); err != nil {
		t.Fatal(err)
	}
}

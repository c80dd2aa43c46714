// Command collected benchmarks gotrail verify --collected over a simulated
// fleet: HOSTS hosts x RECORDS trail records each, with a signed checkpoint
// every 1000 records, generated into a pipe (nothing sits on disk) and read
// by the real binary, whose wall time and peak RSS (getrusage of the child)
// are reported. Run it at two sizes to see memory not grow with records:
//
//	go run ./bench/collected -bin bin/gotrail -hosts 1000 -records 1000
//	go run ./bench/collected -bin bin/gotrail -hosts 1000 -records 10000
//
// The records are real: one host's events written by trail.Writer, their
// host name changed for each simulated host and every hash of each host's
// chain computed again, as the verifier recomputes it.
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/trail"
)

func main() {
	bin := flag.String("bin", "bin/gotrail", "the gotrail binary to run")
	hosts := flag.Int("hosts", 1000, "simulated hosts")
	records := flag.Int("records", 10000, "records per host")
	every := flag.Int("checkpoint", 1000, "a checkpoint every this many records")
	genOnly := flag.Bool("gen-only", false, "time the generator alone, into io.Discard")
	flag.Parse()
	if err := run(*bin, *hosts, *records, *every, *genOnly); err != nil {
		slog.Error("bench/collected", "err", err)
		os.Exit(1)
	}
}

// fleet generates the stream.
type fleet struct {
	hosts, records, every int
	canons                [][]byte // template records without their trail member
	nameAt                []int    // where the host name is in each
	signer                note.Signer
}

const nameLen = 8 // h0000001: every simulated name the same length as the template's

func hostName(i int) string { return fmt.Sprintf("h%07d", i) }

func run(bin string, hosts, records, every int, genOnly bool) error {
	tmp, err := os.MkdirTemp("", "gotrail-bench-collected-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	f, err := newFleet(tmp, hosts, records, every)
	if err != nil {
		return err
	}
	if genOnly {
		start := time.Now()
		n, err := f.generate(io.Discard)
		fmt.Printf("generator alone: %d bytes in %s (%.0f MB/s)\n", n, time.Since(start).Round(time.Millisecond), float64(n)/time.Since(start).Seconds()/1e6)
		return err
	}
	keys := filepath.Join(tmp, "keys")
	if err := f.writeKeys(keys); err != nil {
		return err
	}
	var out, gc bytes.Buffer
	cmd := exec.Command(bin, "verify", "--collected", "-", "--pubkeys", keys, "--format", "json")
	// the runtime's trace of each GC says the live heap, which is what
	// must not grow with the records (peak RSS adds garbage not yet collected)
	cmd.Env = append(os.Environ(), "GODEBUG=gctrace=1")
	cmd.Stdout, cmd.Stderr = &out, &gc
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	n, gerr := f.generate(stdin)
	stdin.Close()
	werr := cmd.Wait()
	wall := time.Since(start)
	if gerr != nil {
		return gerr
	}
	if werr != nil {
		os.Stderr.Write(gc.Bytes())
		return fmt.Errorf("%s: %w", bin, werr)
	}
	if err := summarize(out.Bytes(), cmd.ProcessState, hosts, records, n, wall); err != nil {
		return err
	}
	gcs, live := liveHeap(gc.Bytes())
	fmt.Printf("  %d GCs; live heap after GC at most %d MB, after the last %d MB\n", gcs, slices.Max(append(live, 0)), append([]int{0}, live...)[len(live)])
	return nil
}

// liveHeap reads the live heap after each GC from gctrace lines:
// "gc N @…: … A->B->C MB, …", C being what was live.
func liveHeap(trace []byte) (gcs int, live []int) {
	re := regexp.MustCompile(`(?m)^gc \d+ .* \d+->\d+->(\d+) MB`)
	for _, m := range re.FindAllSubmatch(trace, -1) {
		n, _ := strconv.Atoi(string(m[1]))
		live = append(live, n)
	}
	return len(live), live
}

func summarize(out []byte, ps *os.ProcessState, hosts, records int, n int64, wall time.Duration) error {
	var rep struct {
		Complete bool
		Hosts    []struct{ Records uint64 }
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		return fmt.Errorf("the report: %w", err)
	}
	total := uint64(0)
	for _, h := range rep.Hosts {
		total += h.Records
	}
	if !rep.Complete || len(rep.Hosts) != hosts || total != uint64(hosts*records) {
		return fmt.Errorf("verify says complete=%v, %d hosts, %d records; want %d hosts, %d records", rep.Complete, len(rep.Hosts), total, hosts, hosts*records)
	}
	ru := ps.SysUsage().(*syscall.Rusage)
	fmt.Printf("verify --collected: %d hosts x %d records = %d records, %.2f GB in %s: %.0f krecords/s, %.0f MB/s; peak RSS %.1f MiB; cpu user %s sys %s\n",
		hosts, records, total, float64(n)/1e9, wall.Round(time.Millisecond), float64(total)/wall.Seconds()/1e3, float64(n)/wall.Seconds()/1e6,
		float64(ru.Maxrss)/1024, time.Duration(ru.Utime.Nano()).Round(time.Millisecond), time.Duration(ru.Stime.Nano()).Round(time.Millisecond))
	return nil
}

// newFleet writes the template records with the real trail.Writer.
func newFleet(tmp string, hosts, records, every int) (*fleet, error) {
	signer, _, _, err := trail.Key(filepath.Join(tmp, "state"), "bench")
	if err != nil {
		return nil, err
	}
	f := &fleet{hosts: hosts, records: records, every: every, signer: signer}
	w, err := trail.Open(filepath.Join(tmp, "state"), trail.Options{})
	if err != nil {
		return nil, err
	}
	defer w.Close()
	for i := range min(records, 1000) {
		if err := w.Append(benchEvent(i)); err != nil {
			return nil, err
		}
	}
	marker := []byte(`"host":{"name":"` + hostName(0) + `"`)
	err = trail.Read(filepath.Join(tmp, "state"), func(line []byte) error {
		r, ok := trail.SplitRecord(line)
		at := bytes.Index(line, marker)
		if !ok || at < 0 {
			return fmt.Errorf("template record %q", line)
		}
		f.canons = append(f.canons, append(bytes.Clone(line[:r.Canon]), '}'))
		f.nameAt = append(f.nameAt, at+len(marker)-nameLen-1)
		return nil
	})
	return f, err
}

func benchEvent(i int) *event.Event {
	who := []string{"alice", "bob", "carol"}[i%3]
	e := &event.Event{
		Time:    event.Time{Time: time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)},
		Event:   event.Meta{ID: fmt.Sprintf("1795637809.%03d:%d", i%1000, i), Action: "write", Outcome: "success"},
		Gotrail: event.Gotrail{Kind: event.KindGoenv, Severity: "medium"},
		Host:    event.Host{Name: hostName(0)},
		User:    event.User{Audit: &event.Ident{ID: "100" + strconv.Itoa(i%3), Name: who}, ID: "0", Name: "root"},
		Process: event.Process{PID: 2292 + i, Executable: "/usr/local/go/bin/go", Name: "go", Args: []string{"go", "env", "-w", "GOPROXY=https://proxy.golang.org,direct"}},
		File:    &event.File{Path: "/home/" + who + "/.config/go/env"},
		Message: who + " wrote ~/.config/go/env with go",
	}
	event.Categorize(e)
	return e
}

func (f *fleet) writeKeys(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, "gotrail-bench")
	if err != nil {
		return err
	}
	if f.signer, err = note.NewSigner(skey); err != nil {
		return err
	}
	for i := range f.hosts {
		if err := os.WriteFile(filepath.Join(dir, hostName(i+1)+".pub"), []byte(vkey+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

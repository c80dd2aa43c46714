// Command gencorpus builds a large auditd log for benchmarks out of real
// recorded audit records.
//
// It reads one or more seed logs (raw auditd log files, any log_format),
// groups their records into events by the msg=audit(SEC.MS:SERIAL) header,
// and writes those events again and again until the requested size is
// reached. Each written event gets a fresh serial and a fresh time, both
// strictly increasing across the whole output; the records of one event are
// written together, in their recorded order. Every other byte of every
// record is kept exactly as recorded, including a node= prefix and the
// ENRICHED part after the 0x1d byte.
//
// Times follow the spacing of the seed (the gap between two consecutive
// events of the seed, at least 1 ms and at most 1 s; 4 ms when a seed
// starts over), or a fixed -step.
//
// The seeds are held in memory (they are small: a real log of a few MB);
// the output is streamed through a large buffer, so memory use does not
// depend on -size.
//
// Usage:
//
//	go run ./bench/gencorpus -size 1G -o /tmp/corpus.log
//	go run ./bench/gencorpus -size 100M -seed a.log -seed b.log -o out.log
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

const defaultSeed = "/work/shared/corpus/host-activity.log"

// record is one log line split around its event id: pre ends with
// "msg=audit(", post starts with the ")" that closes the id and ends with
// the newline.
type record struct {
	pre, post []byte
}

type event struct {
	recs  []record
	fixed int   // bytes of the records without their ids
	gapMS int64 // time between the previous event and this one
}

type seedFlags []string

func (s *seedFlags) String() string     { return strings.Join(*s, ",") }
func (s *seedFlags) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gencorpus:", err)
		os.Exit(2)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("gencorpus", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var seeds seedFlags
	fs.Var(&seeds, "seed", "seed audit log (repeatable; default "+defaultSeed+")")
	sizeArg := fs.String("size", "1G", "size of the corpus: bytes, or a number with K, M, G, T (powers of 1024)")
	out := fs.String("o", "", "output file (- for stdout)")
	step := fs.Int64("step", 0, "fixed time step between events in ms (0: follow the seed's spacing)")
	start := fs.String("start", "", "time of the first event, SEC or SEC.MS (default: the seed's first event)")
	serial := fs.Uint64("serial", 0, "serial of the first event (default: the seed's first event)")
	bufSize := fs.Int("buf", 8<<20, "output buffer size in bytes")
	quiet := fs.Bool("q", false, "do not print the summary")
	maxRecord := fs.Int("max-record", 0, "leave out the seed's events with a record longer than this many bytes (0: keep all); 2000 leaves out the long arguments split into aN[i] parts, which few hosts log")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gencorpus [-size 1G] [-seed FILE]... -o FILE")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *out == "" {
		fs.Usage()
		return errors.New("-o FILE is required")
	}
	size, err := parseSize(*sizeArg)
	if err != nil {
		return err
	}
	if *step < 0 {
		return fmt.Errorf("-step %d: must be >= 0", *step)
	}
	if len(seeds) == 0 {
		seeds = seedFlags{defaultSeed}
	}

	events, firstMS, firstSerial, err := loadSeeds(seeds, *maxRecord, stderr)
	if err != nil {
		return err
	}
	if *step > 0 {
		for i := range events {
			events[i].gapMS = *step
		}
	}
	if *start != "" {
		if firstMS, err = parseStart(*start); err != nil {
			return err
		}
	}
	if *serial != 0 {
		firstSerial = *serial
	}

	t0 := time.Now()
	st, err := writeCorpus(*out, *bufSize, events, size, firstMS, firstSerial)
	if err != nil {
		return err
	}
	if st.events == 0 {
		return fmt.Errorf("-size %s is smaller than the first event (%d bytes)", *sizeArg, events[0].fixed)
	}
	if !*quiet {
		el := time.Since(t0).Seconds()
		fmt.Fprintf(stderr, "gencorpus: wrote %d events, %d records, %d bytes (%.1f MiB) to %s in %.2fs (%.0f MB/s); serials %d..%d\n",
			st.events, st.records, st.bytes, float64(st.bytes)/(1<<20), *out, el,
			float64(st.bytes)/1e6/math.Max(el, 1e-9), firstSerial, st.lastSerial)
	}
	return nil
}

// writeCorpus writes the corpus to out ("-": standard output).
func writeCorpus(out string, bufSize int, events []event, size int64, firstMS int64, firstSerial uint64) (stats, error) {
	var w io.Writer = os.Stdout
	var f *os.File
	if out != "-" {
		var err error
		if f, err = os.Create(out); err != nil {
			return stats{}, err
		}
		w = f
	}
	st, werr := generate(w, bufSize, events, size, firstMS, firstSerial)
	if f != nil {
		if err := f.Close(); werr == nil && err != nil {
			werr = err
		}
	}
	if werr != nil {
		return st, fmt.Errorf("write %s: %w", out, werr)
	}
	return st, nil
}

// loadSeeds reads the seed logs in order, leaving out the events with a
// record over maxRecord bytes (0: none); the first event's time and serial
// start the corpus unless flags say otherwise.
func loadSeeds(seeds seedFlags, maxRecord int, stderr io.Writer) (events []event, firstMS int64, firstSerial uint64, err error) {
	firstMS = -1
	for _, path := range seeds {
		evs, ms, ser, skipped, err := loadSeed(path)
		if err != nil {
			return nil, 0, 0, err
		}
		if skipped > 0 {
			fmt.Fprintf(stderr, "gencorpus: %s: skipped %d lines without a msg=audit(SEC.MS:SERIAL) header\n", path, skipped)
		}
		if maxRecord > 0 {
			evs = dropLong(evs, maxRecord)
		}
		if firstMS < 0 && len(evs) > 0 {
			firstMS, firstSerial = ms, ser
		}
		events = append(events, evs...)
	}
	if len(events) == 0 {
		return nil, 0, 0, fmt.Errorf("no audit records in %s", seeds.String())
	}
	return events, firstMS, firstSerial, nil
}

// dropLong leaves out the events with a record longer than max bytes.
func dropLong(evs []event, max int) []event {
	kept := evs[:0]
	for _, ev := range evs {
		long := false
		for _, r := range ev.recs {
			long = long || len(r.pre)+len(r.post) > max
		}
		if !long {
			kept = append(kept, ev)
		}
	}
	return kept
}

type stats struct {
	events, records, bytes int64
	lastSerial             uint64
}

// generate writes whole events, cycling through events, as long as the
// output stays within size bytes.
func generate(w io.Writer, bufSize int, events []event, size, ms int64, serial uint64) (stats, error) {
	var st stats
	bw := bufio.NewWriterSize(w, bufSize)
	hdr := make([]byte, 0, 64)
	for i := 0; ; i++ {
		ev := &events[i%len(events)]
		if i > 0 {
			ms += ev.gapMS
			serial++
		}
		hdr = strconv.AppendInt(hdr[:0], ms/1000, 10)
		hdr = append(hdr, '.', byte('0'+ms/100%10), byte('0'+ms/10%10), byte('0'+ms%10), ':')
		hdr = strconv.AppendUint(hdr, serial, 10)
		n := int64(ev.fixed + len(ev.recs)*len(hdr))
		if st.bytes+n > size {
			break
		}
		for _, r := range ev.recs {
			bw.Write(r.pre)
			bw.Write(hdr)
			bw.Write(r.post)
		}
		st.events++
		st.records += int64(len(ev.recs))
		st.bytes += n
		st.lastSerial = serial
	}
	return st, bw.Flush()
}

// loadSeed reads an audit log and returns its events in the order of their
// first record, with the time (in ms) and serial of the first event.
func loadSeed(path string) (evs []event, firstMS int64, firstSerial uint64, skipped int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, 0, 0, err
	}
	index := map[string]int{}
	var times []int64
	marker := []byte("msg=audit(")
	for len(data) > 0 {
		var line []byte
		if nl := bytes.IndexByte(data, '\n'); nl >= 0 {
			line, data = data[:nl+1], data[nl+1:]
		} else {
			line, data = append(data[:len(data):len(data)], '\n'), nil
		}
		i := bytes.Index(line, marker)
		if i < 0 {
			skipped++
			continue
		}
		idStart := i + len(marker)
		idEnd := bytes.IndexByte(line[idStart:], ')')
		if idEnd < 0 {
			skipped++
			continue
		}
		idEnd += idStart
		id := line[idStart:idEnd]
		ms, ser, ok := parseID(id)
		if !ok {
			skipped++
			continue
		}
		k, seen := index[string(id)]
		if !seen {
			k = len(evs)
			index[string(id)] = k
			evs = append(evs, event{})
			times = append(times, ms)
			if k == 0 {
				firstMS, firstSerial = ms, ser
			}
		}
		ev := &evs[k]
		ev.recs = append(ev.recs, record{pre: line[:idStart], post: line[idEnd:]})
		ev.fixed += idStart + len(line) - idEnd
	}
	for k := range evs {
		gap := int64(4) // a seed starting over
		if k > 0 {
			gap = min(max(times[k]-times[k-1], 1), 1000)
		}
		evs[k].gapMS = gap
	}
	return evs, firstMS, firstSerial, skipped, nil
}

// parseID parses SEC.MS:SERIAL (MS has three digits).
func parseID(id []byte) (ms int64, serial uint64, ok bool) {
	dot := bytes.IndexByte(id, '.')
	colon := bytes.IndexByte(id, ':')
	if dot <= 0 || colon != dot+4 {
		return 0, 0, false
	}
	sec, err1 := strconv.ParseInt(string(id[:dot]), 10, 64)
	frac, err2 := strconv.ParseInt(string(id[dot+1:colon]), 10, 64)
	ser, err3 := strconv.ParseUint(string(id[colon+1:]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || sec < 0 || frac < 0 {
		return 0, 0, false
	}
	return sec*1000 + frac, ser, true
}

func parseStart(s string) (int64, error) {
	sec, frac, hasFrac := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("-start %q: want SEC or SEC.MS", s)
	}
	ms := n * 1000
	if hasFrac {
		if len(frac) != 3 {
			return 0, fmt.Errorf("-start %q: want three digits of ms", s)
		}
		f, err := strconv.ParseInt(frac, 10, 64)
		if err != nil || f < 0 {
			return 0, fmt.Errorf("-start %q: want SEC or SEC.MS", s)
		}
		ms += f
	}
	return ms, nil
}

// parseSize parses 1G, 100M, 512K, 1.5G, 100MB, 100MiB or a plain number of
// bytes. Units are powers of 1024.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(strings.TrimSuffix(t, "iB"), "B")
	mult := 1.0
	if t != "" {
		switch t[len(t)-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		case 't', 'T':
			mult = 1 << 40
		}
		if mult != 1 {
			t = t[:len(t)-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v <= 0 || math.IsInf(v, 0) || v*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("-size %q: want a size like 1G, 100M, 512K or a number of bytes", s)
	}
	return int64(v * mult), nil
}

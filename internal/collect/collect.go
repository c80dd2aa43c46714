// Package collect proves, at a syslog collector, what each host's trail
// sent it: the files rsyslog wrote of gotrail's messages (a trail record
// whole in each, with payload="trail", and the signed checkpoints) are
// walked host by host, every record's hash and link recomputed as
// internal/trail does for the host's own segments, and each checkpoint's
// signature checked with the host's public key kept at the collector.
//
// It reads a stream: memory depends on the number of hosts, never on the
// number of records. Each host keeps its chain's end, a window of recent
// seq -> hash for checkpoints that arrive late, and at most a few missing
// ranges and problems, counting the rest.
//
// Its neighbours: internal/sink writes the messages (RFC 5424), rsyslog
// stores them (gen rsyslog-collector), internal/trail makes the records
// and checkpoints.
package collect

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Options tune the verifier.
type Options struct {
	// KeyDir holds each host's public key as HOST.pub, in the format
	// gotrail watch writes trail.pub: a note verifier key on one line.
	KeyDir string
	// Window is how many recent records of each host are kept to match a
	// checkpoint that arrives after later records; default 1024. A host's
	// window starts smaller and grows to it as its records need.
	Window int
	// MaxProblems and MaxRanges bound what is listed per host; the rest is
	// counted. Default 32 each.
	MaxProblems, MaxRanges int
	// FromFirst checks each host's chain from the first record the files
	// hold, when the collector's own rotation removed the older files:
	// the records before it are not called missing, and the report says
	// where the check began. Without it the chain must start at seq 1 or
	// after a signed anchor of the host's retention.
	FromFirst bool
}

// The defaults of Options.
const (
	DefaultWindow = 1024
	defaultMax    = 32
	// maxLine is the longest line taken: rsyslog stores at most its
	// maxMessageSize (64 KiB for gotrail's sink) and a header.
	maxLine = 1 << 20
	// maxAssembled is the longest record put together from parts.
	maxAssembled = 16 << 20
	// maxHostName is RFC 5424's longest HOSTNAME: a longer one is no
	// host's, and each name costs a host's state.
	maxHostName = 255
	// maxHosts bounds the hosts of a run, so that a file of made-up host
	// names cannot take the memory of many fleets; beyond it, lines of new
	// names are refused and the run is not complete.
	maxHosts = 100_000
)

// Collector verifies a stream of collected lines, host by host.
type Collector struct {
	opt   Options
	hosts map[string]*host
	last  *host // the host of the line before: runs of one host are common
	rep   Report
	file  string
	line  uint64

	maxHosts int // the constant; a field so that a test reaches it with few hosts
	// refusedNames are the host names refused, by hash (a host name is up
	// to 255 bytes; 8 bytes each bounds what refusing them costs), at most
	// maxHosts of them
	refusedNames map[uint64]struct{}
	seed         maphash.Seed
}

// New makes a Collector.
func New(opt Options) *Collector {
	if opt.Window <= 0 {
		opt.Window = DefaultWindow
	}
	if opt.MaxProblems <= 0 {
		opt.MaxProblems = defaultMax
	}
	if opt.MaxRanges <= 0 {
		opt.MaxRanges = defaultMax
	}
	return &Collector{opt: opt, hosts: map[string]*host{}, maxHosts: maxHosts, seed: maphash.MakeSeed()}
}

// VerifyFiles reads the files in order (a host may go on from one to the
// next, as rotation leaves them; "-" is standard input; gzip is read as
// such) and reports on every host in them.
func VerifyFiles(files []string, opt Options) (*Report, error) {
	c := New(opt)
	for _, name := range files {
		if err := c.readFile(name); err != nil {
			return nil, err
		}
	}
	return c.Finish(), nil
}

func (c *Collector) readFile(name string) error {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("collected: %w", err)
		}
		defer f.Close()
		r = f
	}
	if err := c.Read(name, r); err != nil {
		return fmt.Errorf("collected: read %s: %w", name, err)
	}
	return nil
}

// Read takes the lines of one file, named name in what it reports.
func (c *Collector) Read(name string, r io.Reader) error {
	c.rep.Files = append(c.rep.Files, name)
	c.file, c.line = name, 0
	br := bufio.NewReaderSize(r, 1<<20)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return err
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<20)
	}
	var long []byte
	tooLong := false
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// a line longer than the buffer: gathered up to maxLine, then
			// only its end is waited for
			tooLong = tooLong || len(long)+len(line) > maxLine
			if !tooLong {
				long = append(long, line...)
			}
			continue
		}
		switch {
		case tooLong:
			c.line++
			c.rep.Lines++
			c.rep.TooLong++
			line, tooLong = nil, false
		case len(long) > 0:
			line = append(long, line...)
		}
		long = long[:0]
		if len(line) > 0 {
			c.Line(line)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Line takes one line of the current file (its newline is dropped).
func (c *Collector) Line(line []byte) {
	c.line++
	c.rep.Lines++
	if len(line) > 0 && line[len(line)-1] == '\n' {
		line = line[:len(line)-1]
	}
	if len(line) > maxLine {
		c.rep.TooLong++
		return
	}
	m, ok := parseLine(line)
	switch {
	case !ok:
		c.rep.Skipped++
		return
	case len(m.host) > maxHostName:
		c.rep.LongHostName++
		return
	}
	if h := c.host(m.host); h != nil {
		h.take(&m)
	}
}

// host is the host named name, made at its first line; nil when it would
// be one more than maxHosts, the line refused.
func (c *Collector) host(name []byte) *host {
	if h := c.last; h != nil && h.name == string(name) {
		return h // runs of one host are common
	}
	h := c.hosts[string(name)]
	if h == nil {
		if len(c.hosts) >= c.maxHosts {
			c.refuse(name)
			return nil
		}
		h = newHost(string(name), c)
		c.hosts[h.name] = h
	}
	c.last = h
	return h
}

// refuse counts a line of a host beyond maxHosts, and its host name.
func (c *Collector) refuse(name []byte) {
	if c.rep.Refused == nil {
		c.rep.Refused = &Refused{MaxHosts: c.maxHosts}
		c.refusedNames = map[uint64]struct{}{}
	}
	c.rep.Refused.Lines++
	if len(c.refusedNames) < c.maxHosts {
		c.refusedNames[maphash.Bytes(c.seed, name)] = struct{}{}
		c.rep.Refused.Hosts = uint64(len(c.refusedNames))
	}
}

// where names the line being read.
func (c *Collector) where() string { return c.file + ":" + strconv.FormatUint(c.line, 10) }

// Finish ends the stream: what is still open (a cut-off copy never
// superseded, a record missing its last parts, checkpoints of records
// that never came) is decided, and the report made.
func (c *Collector) Finish() *Report {
	names := make([]string, 0, len(c.hosts))
	for n := range c.hosts {
		names = append(names, n)
	}
	slices.Sort(names)
	c.rep.Complete = len(names) > 0 && c.rep.Refused == nil
	for _, n := range names {
		hr := c.hosts[n].finish()
		c.rep.Hosts = append(c.rep.Hosts, hr)
		c.rep.Complete = c.rep.Complete && hr.Complete
	}
	return &c.rep
}

// keyFile is where a host's public key is, or why it cannot be looked up:
// the name comes from the collected file, and must not walk out of KeyDir.
func (c *Collector) keyFile(host string) (string, error) {
	if host == "" || host == "-" || strings.HasPrefix(host, ".") || strings.ContainsAny(host, `/\`) {
		return "", fmt.Errorf("host name %q cannot name a key file", host)
	}
	return c.opt.KeyDir + string(os.PathSeparator) + host + ".pub", nil
}

package collect

import (
	"bytes"
	"strconv"
)

// msgKind is what a gotrail message of a collector's file carries.
type msgKind uint8

const (
	msgOther      msgKind = iota // a gotrail event without the trail record (payload unset)
	msgRecord                    // SD payload="trail": MSG is a trail line, or part of one
	msgCheckpoint                // MSGID trail.checkpoint: MSG is a signed note, escaped
	msgBroken                    // a gotrail header, then structured data that does not parse
)

// message is one line of a collector's file taken apart in place: its
// fields are slices of the line, valid until the next line is read.
type message struct {
	host []byte
	kind msgKind
	sd   []byte // from the structured data on: what a resent copy repeats
	msg  []byte
	// from the SD element with payload="trail" (records) or any element
	// (checkpoints)
	seq         uint64
	hasSeq      bool
	hash        []byte
	part, parts int // part="I/K" of a split record; 0 when whole
}

const checkpointMsgID = "trail.checkpoint"

// parseLine reads one line as rsyslog stores an RFC 5424 message, in
// RSYSLOG_SyslogProtocol23Format or as the raw message (%rawmsg%, which
// keeps an octet count in front when rsyslog fell back from octet-counted
// framing). ok is false for lines that are not gotrail's.
func parseLine(line []byte) (m message, ok bool) {
	line = skipOctetCount(line)
	if len(line) < 4 || line[0] != '<' {
		return m, false
	}
	end := bytes.IndexByte(line, '>')
	if end < 2 || end > 4 || !digits(line[1:end]) || !bytes.HasPrefix(line[end+1:], []byte("1 ")) {
		return m, false
	}
	rest := line[end+3:]
	var f [5][]byte // TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
	for i := range f {
		sp := bytes.IndexByte(rest, ' ')
		if sp <= 0 {
			return m, false
		}
		f[i], rest = rest[:sp], rest[sp+1:]
	}
	if string(f[2]) != "gotrail" {
		return m, false
	}
	m.host, m.sd = f[1], rest
	msgStart, sdOK := m.readSD(rest)
	switch {
	case !sdOK:
		m.kind = msgBroken
		return m, true
	case msgStart < len(rest):
		m.msg = bytes.TrimPrefix(rest[msgStart:], []byte("\xef\xbb\xbf")) // RFC 5424's optional BOM
	}
	if string(f[4]) == checkpointMsgID {
		m.kind = msgCheckpoint
	}
	return m, true
}

// skipOctetCount drops "LEN " or "LEN" in front of a raw message.
func skipOctetCount(line []byte) []byte {
	i := 0
	for i < len(line) && i < 10 && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	if i == 0 || i == len(line) {
		return line
	}
	if line[i] == ' ' && i+1 < len(line) && line[i+1] == '<' {
		return line[i+1:]
	}
	if line[i] == '<' {
		return line[i:]
	}
	return line
}

func digits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// readSD reads the structured data at the start of b: "-" or SD elements
// (RFC 5424 section 6.3), and returns where MSG starts. It sets the
// record fields from the element that says payload="trail".
func (m *message) readSD(b []byte) (msgStart int, ok bool) {
	if len(b) > 0 && b[0] == '-' {
		return afterSD(b, 1)
	}
	i := 0
	for i < len(b) && b[i] == '[' {
		var e sdElement
		n, ok := e.read(b[i:])
		if !ok {
			return 0, false
		}
		i += n
		switch {
		case e.bad && e.trail:
			return 0, false // gotrail's own element, altered
		case e.bad:
			continue // another element's seq or part, not gotrail's business
		case e.trail || (!m.hasSeq && e.hasSeq):
			m.seq, m.hasSeq, m.hash, m.part, m.parts = e.seq, e.hasSeq, e.hash, e.part, e.parts
		}
		if e.trail {
			m.kind = msgRecord
		}
	}
	if i == 0 {
		return 0, false
	}
	return afterSD(b, i)
}

func afterSD(b []byte, i int) (int, bool) {
	switch {
	case i == len(b):
		return i, true
	case b[i] == ' ':
		return i + 1, true
	}
	return 0, false
}

// sdElement is what gotrail reads of one SD element.
type sdElement struct {
	trail       bool // payload="trail"
	seq         uint64
	hasSeq      bool
	hash        []byte
	part, parts int
	bad         bool // a parameter of gotrail's that does not read
}

// read reads one element, "[SD-ID *(SP PARAM-NAME="VALUE")]", and returns
// its length. Values are escaped as section 6.3.3 says (\" \\ \]).
func (e *sdElement) read(b []byte) (int, bool) {
	i := 1
	for i < len(b) && isNameChar(b[i]) {
		i++
	}
	if i == 1 || i > 33 {
		return 0, false
	}
	for i < len(b) && b[i] == ' ' {
		j := i + 1
		for j < len(b) && isNameChar(b[j]) {
			j++
		}
		if j == i+1 || j-i-1 > 32 || j+1 >= len(b) || b[j] != '=' || b[j+1] != '"' {
			return 0, false
		}
		name := b[i+1 : j]
		v, n, ok := readValue(b[j+2:])
		if !ok {
			return 0, false
		}
		e.param(name, v)
		i = j + 2 + n
	}
	if i >= len(b) || b[i] != ']' {
		return 0, false
	}
	return i + 1, true
}

func isNameChar(c byte) bool { return c > 32 && c < 127 && c != '=' && c != ']' && c != '"' }

// readValue reads a PARAM-VALUE up to its closing quote; raw is the value
// as written (escapes kept), n the bytes read with the quote.
func readValue(b []byte) (raw []byte, n int, ok bool) {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return b[:i], i + 1, true
		}
	}
	return nil, 0, false
}

// param takes the parameters gotrail reads. Their values are digits, hex
// and "trail", never escaped: a seq or part that does not read marks the
// element bad (broken, when it is gotrail's), a hash that is not 64 hex
// digits matches nothing.
func (e *sdElement) param(name, v []byte) {
	switch string(name) {
	case "payload":
		e.trail = string(v) == "trail"
	case "seq":
		n, err := strconv.ParseUint(string(v), 10, 64)
		e.seq, e.hasSeq, e.bad = n, err == nil, e.bad || err != nil
	case "hash":
		e.hash = v
	case "part":
		i, k, ok := bytes.Cut(v, []byte("/"))
		pi, err1 := strconv.Atoi(string(i))
		pk, err2 := strconv.Atoi(string(k))
		if !ok || err1 != nil || err2 != nil || pi < 1 || pi > pk {
			e.bad = true
			return
		}
		e.part, e.parts = pi, pk
	}
}

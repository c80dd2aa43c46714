package collect

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/gotrail/gotrail/internal/trail"
)

// host is what is kept of one host's stream: constant in size whatever
// the number of its records.
type host struct {
	name    string
	c       *Collector
	key     note.Verifier
	rep     HostReport
	missing ranges

	started     bool
	last        uint64   // the highest seq placed
	lastHash    [32]byte // its hash, as the record states it
	lastOK      bool     // lastHash is known
	firstPrev   [32]byte // the prev of the first record, for the anchor it follows
	firstPrevOK bool
	lastMod     uint64 // the seq last counted modified: a record counts once

	ring      []ringEntry // recent seq -> hash, for checkpoints that come late
	future    []seenCheckpoint
	anchors   []seenCheckpoint
	unchecked uint64 // checkpoints not checked for want of a key

	asm    assembly
	orphan struct {
		seq  uint64
		hash string
	}
	pend pending
}

type ringEntry struct {
	seq   uint64
	hash  [32]byte
	whole bool // the record read and checked entirely: see record
}

// seenCheckpoint is a checkpoint that verified, and the line it came on.
type seenCheckpoint struct {
	cp    *trail.Checkpoint
	hash  [32]byte
	where string
}

// maxFuture and maxAnchors bound the checkpoints kept for later: of
// records not arrived yet (the newest count), and anchors of retention.
const (
	maxFuture  = 16
	maxAnchors = 8
	maxNotes   = 16
)

func newHost(name string, c *Collector) *host {
	h := &host{name: name, c: c, missing: ranges{max: c.opt.MaxRanges}}
	h.rep.Host = name
	path, err := c.keyFile(name)
	if err == nil {
		h.rep.KeyFile = path
		h.key, err = loadKey(path)
	}
	if err != nil {
		h.problem(NoKey, 0, "", err.Error()+": nothing this host sent can be proven")
	}
	return h
}

func loadKey(path string) (note.Verifier, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no public key %s (copy the host's trail.pub there)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	return v, nil
}

// take is one gotrail message of this host.
func (h *host) take(m *message) {
	if h.pend.active {
		h.settle(m)
	}
	switch m.kind {
	case msgBroken:
		h.hold(m, msgBroken, "")
	case msgOther:
		h.rep.Counts.Events++
	case msgCheckpoint:
		h.checkpointMsg(m)
	case msgRecord:
		h.recordMsg(m)
	}
}

// at is where a problem is: the given place, or the line being read.
func (h *host) at(where string) string {
	if where != "" {
		return where
	}
	return h.c.where()
}

func (h *host) problem(k Kind, seq uint64, where, text string) {
	if len(h.rep.Problems) >= h.c.opt.MaxProblems {
		h.rep.MoreProblems++
		return
	}
	h.rep.Problems = append(h.rep.Problems, Problem{Kind: k, Seq: seq, Where: where, Text: text})
}

func (h *host) note(text string) {
	if len(h.rep.Notes) < maxNotes {
		h.rep.Notes = append(h.rep.Notes, text)
	}
}

// modified names a record whose content, hash or link does not check; a
// record is counted once however many ways it fails.
func (h *host) modified(seq uint64, where, text string) {
	if seq != h.lastMod || seq == 0 {
		h.rep.Counts.Modified++
		h.lastMod = seq
	}
	h.problem(Modified, seq, h.at(where), fmt.Sprintf("record seq %d %s", seq, text))
}

// recordMsg is a message with payload="trail": a whole record, or a part.
func (h *host) recordMsg(m *message) {
	if !m.hasSeq {
		h.hold(m, msgBroken, "")
		return
	}
	if m.parts > 0 {
		h.part(m)
		return
	}
	h.endAssembly()
	r, ok := trail.SplitRecord(m.msg)
	if !ok {
		// a cut-off copy, if the whole message follows it
		h.hold(m, msgRecord, "")
		return
	}
	h.record(r, m.seq, m.hash, "")
}

// record checks one whole record and places it in the chain.
func (h *host) record(r trail.CollectedRecord, sdSeq uint64, sdHash []byte, where string) {
	named := r.Seq == sdSeq && bytes.Equal(r.Hash, sdHash)
	hashOK := r.HashOK()
	// whole: its structured data names it, its hash recomputes, and its
	// trail member is spelled as the trail writes it; the hash then fixes
	// the line byte for byte, and a second one with that hash is the same
	whole := named && hashOK && canonTail(r)
	if hv, ok := decodeHash(r.Hash); whole && ok && h.again(r.Seq, hv) {
		h.resentWhole(r.Seq, where)
		return // counted, and checked, the first time
	}
	if !named {
		h.modified(r.Seq, where, fmt.Sprintf("is not the one its structured data names (seq %d, hash %.12s): one of them was altered", sdSeq, sdHash))
	}
	if name, ok := lineHost(r); !ok || name != h.name {
		h.rep.Counts.WrongHost++
		what := "names no host"
		if ok {
			what = "names host " + strconv.Quote(name)
		}
		h.problem(WrongHost, r.Seq, h.at(where), fmt.Sprintf("record seq %d, sent as host %q, %s", r.Seq, h.name, what))
	}
	if !hashOK {
		h.modified(r.Seq, where, "was modified: its hash does not match its content")
	}
	h.place(r.Seq, r.Prev, r.Hash, whole, where)
}

// canonTail reports whether the trail member after the hashed part is
// exactly `,"trail":{"seq":N,"prev":"P","hash":"H"}}` with N in its
// shortest digits: the hash covers the rest, not the seq's spelling.
// SplitRecord took the member apart (all digits, 64 hex digits each), so
// its length says whether the seq had leading zeros.
func canonTail(r trail.CollectedRecord) bool {
	const fixed = len(`,"trail":{"seq":`) + len(`,"prev":"`) + 64 + len(`","hash":"`) + 64 + len(`"}}`)
	return len(r.Line)-r.Canon == fixed+len(strconv.FormatUint(r.Seq, 10))
}

// lineHost is host.name of a trail line: the first "host" member, which
// event.AppendJSON writes at the top level before any value from the host.
func lineHost(r trail.CollectedRecord) (string, bool) {
	const key = `,"host":{"name":"`
	i := bytes.Index(r.Line[:r.Canon], []byte(key))
	if i < 0 {
		return "", false
	}
	rest := r.Line[i+len(key) : r.Canon]
	for j := 0; j < len(rest); j++ {
		switch rest[j] {
		case '\\':
			j++
		case '"':
			if bytes.IndexByte(rest[:j], '\\') < 0 {
				return string(rest[:j]), true
			}
			s, err := strconv.Unquote(`"` + string(rest[:j]) + `"`)
			return s, err == nil
		}
	}
	return "", false
}

// unreadable places a record that cannot be read whole (cut, or a part
// missing): named modified, and kept in the seq order with the hash its
// structured data states, so that the next record's link is still checked.
func (h *host) unreadable(seq uint64, hash []byte, where, why string) {
	h.modified(seq, where, why)
	h.place(seq, nil, hash, false, where)
}

package sink

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/gotrail/gotrail/internal/trail"
)

// PayloadTrail is the SD parameter value that marks a message carrying a
// trail record whole.
const PayloadTrail = "trail"

// recordHead is what a trail line says for the syslog header.
type recordHead struct {
	Time string `json:"@timestamp"`
	Host struct {
		Name string `json:"name"`
	} `json:"host"`
	Gotrail struct {
		Kind     string `json:"kind"`
		Severity string `json:"severity"`
	} `json:"gotrail"`
}

// TrailMessages renders one trail record as the RFC 5424 messages that
// carry it (without framing), each at most max bytes:
//
//	<PRI>1 TIMESTAMP HOST gotrail - KIND [SDID payload="trail" seq="N" hash="H"] LINE
//
// LINE is the record exactly as the trail holds it, so that a collector
// recomputes the chain from what it stored. A record that does not fit is
// split into consecutive messages with part="I/K" (from 1) in the SD
// element, each carrying the next slice of LINE, cut between UTF-8
// sequences; LINE is the slices joined in order.
func (f RFC5424) TrailMessages(r trail.Record, max int) ([][]byte, error) {
	var h recordHead
	if err := json.Unmarshal(r.Line, &h); err != nil {
		return nil, fmt.Errorf("trail record %d: %w", r.Seq, err)
	}
	prefix := f.trailPrefix(h, r)
	if len(prefix)+2+len(r.Line) <= max {
		msg := append(append(prefix, "] "...), r.Line...)
		return [][]byte{msg}, nil
	}
	for k := 1; ; {
		// part="I/K": the header grows with the digits of K
		digits := len(strconv.Itoa(k))
		chunk := max - len(prefix) - len(` part="/"] `) - 2*digits
		if chunk < 256 {
			return nil, fmt.Errorf("trail record %d: max_message %d leaves no room after the header", r.Seq, max)
		}
		parts := cut(r.Line, chunk)
		if len(strconv.Itoa(len(parts))) > digits {
			k = len(parts)
			continue
		}
		out := make([][]byte, len(parts))
		for i, p := range parts {
			msg := append([]byte(nil), prefix...)
			msg = append(msg, ` part="`...)
			msg = strconv.AppendInt(msg, int64(i+1), 10)
			msg = append(msg, '/')
			msg = strconv.AppendInt(msg, int64(len(parts)), 10)
			out[i] = append(append(msg, `"] `...), p...)
		}
		return out, nil
	}
}

// cut splits b into slices of at most n bytes, never inside a UTF-8
// sequence.
func cut(b []byte, n int) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := min(n, len(b))
		for j := i; j < len(b) && j > i-4 && j > 0; j-- {
			if b[j]&0xC0 != 0x80 {
				i = j
				break
			}
		}
		out = append(out, b[:i])
		b = b[i:]
	}
	return out
}

// trailPrefix is the message up to the SD element's last parameter.
func (f RFC5424) trailPrefix(h recordHead, r trail.Record) []byte {
	b := f.appendHeader(nil, h.Gotrail.Severity, []byte(h.Time), h.Host.Name, h.Gotrail.Kind)
	b = appendParam(b, "payload", PayloadTrail)
	b = appendParam(b, "seq", strconv.FormatUint(r.Seq, 10))
	return appendParam(b, "hash", r.Hash)
}

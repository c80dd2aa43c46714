package trail

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// What a collector's verifier (internal/collect) needs of the trail's
// format, without copying each line: it reads millions of them from many
// hosts, where Verify reads one host's segments.

// CollectedRecord is one trail line taken apart in place: its fields are
// slices of the line.
type CollectedRecord struct {
	Line  []byte // the whole line, without newline
	Canon int    // where the trail member starts: the hash covers Line[:Canon] + "}"
	Seq   uint64
	Prev  []byte // 64 hex digits as written
	Hash  []byte // 64 hex digits as written
}

// SplitRecord takes a trail line apart as parseLine does, and accepts
// exactly the lines it accepts (FuzzSplitRecord holds them to that).
func SplitRecord(line []byte) (CollectedRecord, bool) {
	i := bytes.LastIndex(line, []byte(trailMarker))
	if i < 0 || !bytes.HasSuffix(line, []byte(`"}}`)) || i+len(trailMarker) > len(line)-3 {
		return CollectedRecord{}, false
	}
	tail := line[i+len(trailMarker) : len(line)-3]
	// tail: SEQ,"prev":"HEX","hash":"HEX"
	seqStr, rest, ok := bytes.Cut(tail, []byte(`,"prev":"`))
	prev, hash, ok2 := bytes.Cut(rest, []byte(`","hash":"`))
	if !ok || !ok2 || len(prev) != 64 || len(hash) != 64 {
		return CollectedRecord{}, false
	}
	seq, err := strconv.ParseUint(string(seqStr), 10, 64)
	if err != nil {
		return CollectedRecord{}, false
	}
	return CollectedRecord{Line: line, Canon: i, Seq: seq, Prev: prev, Hash: hash}, true
}

// HashOK reports whether the record's hash is SHA-256 over its prev (hex)
// and its line without the trail member, as Writer.append makes it.
func (r CollectedRecord) HashOK() bool {
	sum := sha256.New()
	sum.Write(r.Prev)
	sum.Write(r.Line[:r.Canon])
	sum.Write([]byte{'}'})
	var b [sha256.Size]byte
	var h [2 * sha256.Size]byte
	hex.Encode(h[:], sum.Sum(b[:0]))
	return bytes.Equal(h[:], r.Hash)
}

// UnescapeNote undoes the escaping of a note sent on one syslog line
// (sink.AppendSafe), as ReadHeld does.
func UnescapeNote(s string) (string, bool) { return unescape(s) }

// IsNote reports whether s is a checkpoint or an anchor note of gotrail.
func IsNote(s string) bool { return isNote(s) }

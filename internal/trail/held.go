package trail

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// ReadHeld reads the checkpoints (and anchors) a collector kept, from a
// file of lines as they arrived: syslog lines (rsyslog's file output of
// gotrail's RFC 5424 messages, MSGID trail.checkpoint, the note escaped on
// one line), ECS JSON lines (the note in "message"), or the base64 lines of
// a copy of the state directory's checkpoints file. Other lines, and lines
// longer than any note, are skipped. A note that does not verify is not
// used, and named in bad: whoever can write a line into the collector's
// log can add one, but not stop the check with the others.
func ReadHeld(path string, v note.Verifier) (cps []*Checkpoint, bad []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoints held elsewhere: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	for n := 1; ; n++ {
		line, long, rerr := readLine(br, maxHeldLine)
		if rerr != nil && rerr != io.EOF {
			return nil, nil, fmt.Errorf("checkpoints held elsewhere: read %s: %w", path, rerr)
		}
		if msg, ok := heldNote(line); ok && !long {
			c, perr := ParseCheckpoint(msg, v)
			if perr != nil {
				bad = append(bad, fmt.Sprintf("%s:%d: %v", path, n, perr))
			} else {
				cps = append(cps, c)
			}
		}
		if rerr == io.EOF {
			break
		}
	}
	if len(cps) == 0 {
		return nil, bad, fmt.Errorf("checkpoints held elsewhere: %s holds no gotrail checkpoint that verifies (lines of MSGID trail.checkpoint, ECS JSON, or base64 notes)", path)
	}
	return cps, bad, nil
}

// maxHeldLine is the longest line taken as a note: a checkpoint is a few
// hundred bytes, escaped in a syslog line.
const maxHeldLine = 64 << 10

// readLine reads one line of at most max bytes; long reports a longer one,
// whose rest is skipped.
func readLine(br *bufio.Reader, max int) (line string, long bool, err error) {
	var b []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(b)+len(chunk) <= max {
			b = append(b, chunk...)
		} else {
			long = true
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return strings.TrimRight(string(b), "\n"), long, err
	}
}

// heldNote finds a signed note in one line of a collector's file.
func heldNote(line string) ([]byte, bool) {
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "{") {
		var e struct {
			Message string `json:"message"`
		}
		if json.Unmarshal([]byte(line), &e) != nil {
			return nil, false
		}
		return []byte(e.Message), isNote(e.Message)
	}
	for _, title := range []string{checkpointTitle, anchorTitle} {
		if i := strings.Index(line, title+`\n`); i >= 0 {
			msg, ok := unescape(line[i:])
			return []byte(msg), ok && isNote(msg)
		}
	}
	if msg, err := base64.StdEncoding.DecodeString(line); err == nil && isNote(string(msg)) {
		return msg, true
	}
	return nil, false
}

func isNote(s string) bool {
	return strings.HasPrefix(s, checkpointTitle+"\n") || strings.HasPrefix(s, anchorTitle+"\n")
}

// unescape undoes the escaping of gotrail's text and RFC 5424 output
// (sink.AppendSafe): \n \t \r \\ \xHH \uHHHH.
func unescape(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return "", false
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '\\':
			b.WriteByte('\\')
		case 'x', 'u':
			width := 2
			if s[i] == 'u' {
				width = 4
			}
			if i+width >= len(s) {
				return "", false
			}
			n, err := strconv.ParseUint(s[i+1:i+1+width], 16, 32)
			if err != nil {
				return "", false
			}
			if width == 2 {
				b.WriteByte(byte(n))
			} else {
				b.WriteRune(rune(n))
			}
			i += width
		default:
			return "", false
		}
	}
	return b.String(), true
}

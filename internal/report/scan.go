package report

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unsafe"

	"github.com/gotrail/gotrail/internal/event"
)

// A trail line is about 1 KB of which the report reads a tenth. The
// reflection decoder of encoding/json parses all of it at some 30 MB/s a
// core, 30 s for a million events; this scanner picks the fields out and
// skips the rest (auditd.paths, records, env_vars) with IndexByte, about
// ten times as fast. Any line it does not understand goes to
// encoding/json, so a strange line is decoded slowly, never wrongly.

// scanner walks one JSON value at a time; ok turns false at the first
// thing it does not expect.
type scanner struct {
	b     []byte
	i     int
	ok    bool
	arena *[]byte
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// expect consumes c after white space.
func (s *scanner) expect(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	s.ok = false
	return false
}

// peek is the next byte after white space (0 at the end).
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// rawString returns the bytes between the quotes of the string at the
// cursor, escapes as they are.
func (s *scanner) rawString() []byte {
	if !s.expect('"') {
		return nil
	}
	start := s.i
	for {
		j := bytes.IndexByte(s.b[s.i:], '"')
		if j < 0 {
			s.ok = false
			return nil
		}
		end := s.i + j
		n := 0
		for k := end - 1; k >= start && s.b[k] == '\\'; k-- {
			n++
		}
		s.i = end + 1
		if n%2 == 0 {
			return s.b[start:end]
		}
	}
}

// str reads a string value: the line's own bytes, or for a string with
// escapes, its value (undone by encoding/json) in the arena.
func (s *scanner) str() []byte {
	raw := s.rawString()
	if !s.ok || bytes.IndexByte(raw, '\\') < 0 {
		return raw
	}
	var v string
	if json.Unmarshal(s.b[s.i-len(raw)-2:s.i], &v) != nil {
		s.ok = false
		return nil
	}
	return s.keep([]byte(v))
}

// keep copies b into the arena.
func (s *scanner) keep(b []byte) []byte {
	n := len(*s.arena)
	*s.arena = append(*s.arena, b...)
	return (*s.arena)[n:len(*s.arena):len(*s.arena)]
}

var literalEnd = []byte(",}] \t\r\n")

// skip passes over one value of any type.
func (s *scanner) skip() {
	switch s.peek() {
	case '"':
		s.rawString()
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				s.rawString()
				if !s.ok {
					return
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			s.i++
			if depth == 0 {
				return
			}
		}
		s.ok = false
	default:
		start := s.i
		for s.i < len(s.b) && bytes.IndexByte(literalEnd, s.b[s.i]) < 0 {
			s.i++
		}
		if s.i == start {
			s.ok = false
		}
	}
}

// object calls field with each key of the object at the cursor; field
// must consume the value.
func (s *scanner) object(field func(key []byte)) {
	if !s.expect('{') {
		return
	}
	if s.peek() == '}' {
		s.i++
		return
	}
	for s.ok {
		key := s.rawString()
		if !s.ok || !s.expect(':') {
			return
		}
		field(key)
		if !s.ok {
			return
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return
		default:
			s.ok = false
		}
	}
}

// literal reads true, false or a number as its text.
func (s *scanner) literal() string {
	s.ws()
	start := s.i
	s.skip()
	return string(s.b[start:s.i])
}

// command reads process.args into the arena as one command line: exe
// (the binary that ran; argv[0] is whatever the caller chose) and the
// arguments after argv[0].
func (s *scanner) command(exe []byte) []byte {
	if !s.expect('[') {
		return nil
	}
	n := len(*s.arena)
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for i := 0; s.ok; i++ {
		arg := s.rawString()
		if bytes.IndexByte(arg, '\\') >= 0 {
			// not through the arena: the command line is being built there
			var v string
			if json.Unmarshal(s.b[s.i-len(arg)-2:s.i], &v) != nil {
				s.ok = false
				return nil
			}
			arg = []byte(v)
		}
		switch {
		case i == 0 && len(exe) > 0:
			*s.arena = append(*s.arena, exe...)
		case i == 0:
			*s.arena = append(*s.arena, arg...)
		default:
			*s.arena = append(append(*s.arena, ' '), arg...)
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return (*s.arena)[n:len(*s.arena):len(*s.arena)]
		default:
			s.ok = false
		}
	}
	return nil
}

func (s *scanner) ident(id *ident) {
	id.set = true
	s.object(func(k []byte) {
		switch string(k) {
		case "id":
			id.ID = s.str()
		case "name":
			id.Name = s.str()
		default:
			s.skip()
		}
	})
}

// scanView fills v from a line in today's shape; false means the line
// needs encoding/json.
func scanView(line []byte, v *view, arena *[]byte) bool {
	s := &scanner{b: line, ok: true, arena: arena}
	s.object(func(k []byte) {
		switch string(k) {
		case "@timestamp":
			b := s.str()
			t, err := time.Parse(time.RFC3339Nano, unsafe.String(unsafe.SliceData(b), len(b)))
			if err != nil {
				s.ok = false
			}
			v.Time = t
		case "event":
			s.object(func(k []byte) {
				switch string(k) {
				case "id":
					v.ID = s.str()
				case "action":
					v.Action = s.str()
				case "outcome":
					v.Outcome = s.str()
				default:
					s.skip()
				}
			})
		case "gotrail":
			s.gotrail(v)
		case "user":
			s.user(v)
		case "process":
			s.process(v)
		case "file":
			v.HasFile = true
			s.object(func(k []byte) {
				if string(k) == "path" {
					v.File = s.str()
				} else {
					s.skip()
				}
			})
		case "message":
			v.Message = s.str()
		case "trail":
			s.object(func(k []byte) {
				if string(k) == "seq" {
					n, err := strconv.ParseUint(s.literal(), 10, 64)
					s.ok = s.ok && err == nil
					v.Seq, v.HasSeq = n, true
				} else {
					s.skip()
				}
			})
		default:
			s.skip()
		}
	})
	if s.ok {
		s.ws()
		s.ok = s.i == len(s.b)
	}
	return s.ok
}

func (s *scanner) gotrail(v *view) {
	s.object(func(k []byte) {
		switch string(k) {
		case "kind":
			v.Kind = s.str()
		case "severity":
			v.Severity = s.str()
		case "authorized":
			switch s.literal() {
			case "true":
				b := true
				v.Authorized = &b
			case "false":
				b := false
				v.Authorized = &b
			default:
				s.ok = false
			}
		case "policy":
			v.Policy = s.str()
		case "previous_path":
			v.PreviousPath = s.str()
		case "toolchain":
			// rare: one per install, decoded whole
			s.ws()
			start := s.i
			s.skip()
			v.Toolchain = &event.Toolchain{}
			if s.ok && json.Unmarshal(s.b[start:s.i], v.Toolchain) != nil {
				s.ok = false
			}
		default:
			s.skip()
		}
	})
}

func (s *scanner) user(v *view) {
	s.object(func(k []byte) {
		switch string(k) {
		case "audit":
			s.ident(&v.Audit)
		case "effective":
			s.ident(&v.Effective)
		case "id":
			v.UserID = s.str()
		case "name":
			v.UserName = s.str()
		default:
			s.skip()
		}
	})
}

// process reads process.*; executable comes before args in what gotrail
// writes, and a line where it does not is read by encoding/json.
func (s *scanner) process(v *view) {
	s.object(func(k []byte) {
		switch string(k) {
		case "executable":
			if v.Command != nil {
				// args before executable: argv[0] was taken; not an order
				// gotrail writes, so read the slow way
				s.ok = false
			}
			v.Executable = s.str()
		case "name":
			v.PName = s.str()
		case "title":
			v.Title = s.str()
		case "args":
			v.Command = s.command(v.Executable)
		default:
			s.skip()
		}
	})
}

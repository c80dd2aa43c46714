package config

import (
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// The TOML library does not say where a key is, only where a syntax error
// is (and, for a key repeated in an array of tables such as [[sink]], where
// its last definition is). A locator reads the file's lines itself to put a
// line and a [[sink]] number on unknown keys and invalid values. It is not
// a TOML parser: it only has to find the lines of a file that did parse, so
// what it does not understand (a key in an inline table) falls back to the
// line of the nearest key or table it does.

// keyPos is where a key or a table header is.
type keyPos struct {
	key   string // the full dotted key, spelt as toml.Key.String() spells it
	line  int
	array string // the array table ("sink", "policy") the key is in
	n     int    // which element of that array, from 1; 0 outside one
}

type locator struct {
	keys []keyPos
	used []bool // keys already matched to an undecoded key (take)
	// sinkTypes are the types of the [[sink]] entries by number, as far
	// as they are plain words: to name a sink in a syntax error, when the
	// file did not decode.
	sinkTypes map[int]string
}

func newLocator(src string) *locator {
	l := &locator{sinkTypes: map[int]string{}}
	var (
		table  toml.Key
		array  string
		n      int
		counts = map[string]int{}
		ml     string // the closing delimiter of a multi-line string that spans lines
		depth  int    // open brackets of an array or inline table that spans lines
	)
	for i, line := range strings.Split(src, "\n") {
		num := i + 1
		if ml != "" || depth > 0 {
			ml, depth = skipValue(line, ml, depth)
			continue
		}
		t := strings.TrimSpace(line)
		switch {
		case t == "" || t[0] == '#':
		case strings.HasPrefix(t, "[["):
			k, _, ok := parseKey(t[2:], "]]")
			if !ok {
				continue
			}
			table, array = k, k.String()
			counts[array]++
			n = counts[array]
			l.add(keyPos{key: array, line: num, array: array, n: n})
		case t[0] == '[':
			k, _, ok := parseKey(t[1:], "]")
			if !ok {
				continue
			}
			table = k
			// [sink.tls] after a [[sink]] belongs to that sink
			if array == "" || !strings.HasPrefix(k.String(), array+".") {
				array, n = "", 0
			}
			l.add(keyPos{key: k.String(), line: num, array: array, n: n})
		default:
			k, rest, ok := parseKey(t, "=")
			if !ok {
				continue
			}
			full := append(table[:len(table):len(table)], k...).String()
			l.add(keyPos{key: full, line: num, array: array, n: n})
			if full == "sink.type" && array == "sink" {
				if w, ok := plainWord(rest); ok {
					l.sinkTypes[n] = w
				}
			}
			ml, depth = skipValue(rest, "", 0)
		}
	}
	return l
}

func (l *locator) add(p keyPos) {
	l.keys = append(l.keys, p)
	l.used = append(l.used, false)
}

// take finds the first definition of key not yet taken: an undecoded key
// repeated in two [[sink]] entries is listed twice, in the file's order. A
// key the locator did not see (a dotted key's implicit table, a key of an
// inline table) gets the line of the first key below it, else of its
// nearest parent.
func (l *locator) take(key toml.Key) keyPos {
	s := key.String()
	for i, p := range l.keys {
		if !l.used[i] && p.key == s {
			l.used[i] = true
			return p
		}
	}
	for i, p := range l.keys {
		if !l.used[i] && strings.HasPrefix(p.key, s+".") {
			return p
		}
	}
	for k := key; len(k) > 1; {
		k = k[:len(k)-1]
		for _, p := range l.keys {
			if p.key == k.String() {
				return p
			}
		}
	}
	return keyPos{}
}

// line is where key is defined in element n of its array table (any
// element when n is 0); 0 when the locator did not see it.
func (l *locator) line(key string, n int) int {
	for _, p := range l.keys {
		if p.key == key && (n == 0 || p.n == n) {
			return p.line
		}
	}
	return 0
}

// at says which array table element a line is in: the last header or key
// at or above it.
func (l *locator) at(line int) keyPos {
	var last keyPos
	for _, p := range l.keys {
		if p.line > line {
			break
		}
		last = p
	}
	return last
}

// parseKey reads a dotted key (bare, "basic" or 'literal' parts) up to end
// and returns its parts and what follows end.
func parseKey(s, end string) (toml.Key, string, bool) {
	var k toml.Key
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		part, j, ok := keyPart(s, i)
		if !ok {
			return nil, "", false
		}
		k = append(k, part)
		i = j
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		switch {
		case strings.HasPrefix(s[i:], end):
			return k, s[i+len(end):], true
		case i < len(s) && s[i] == '.':
			i++
		default:
			return nil, "", false
		}
	}
}

// keyPart reads one part of a key at s[i:] and returns it and where it ends.
func keyPart(s string, i int) (string, int, bool) {
	if i >= len(s) {
		return "", i, false
	}
	switch s[i] {
	case '"':
		j := i + 1
		for j < len(s) && s[j] != '"' {
			if s[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(s) {
			return "", i, false
		}
		part, err := strconv.Unquote(s[i : j+1])
		if err != nil {
			part = s[i+1 : j] // an escape Go does not know (TOML's \e): near enough
		}
		return part, j + 1, true
	case '\'':
		j := strings.IndexByte(s[i+1:], '\'')
		if j < 0 {
			return "", i, false
		}
		return s[i+1 : i+1+j], i + j + 2, true
	}
	j := i
	for j < len(s) && isBare(s[j]) {
		j++
	}
	return s[i:j], j, j > i
}

func isBare(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// skipValue scans the rest of a line holding a value and says whether a
// multi-line string (its closing delimiter) or brackets are still open at
// its end.
func skipValue(s, ml string, depth int) (string, int) {
	for i := 0; i < len(s); {
		if ml != "" {
			j := strings.Index(s[i:], ml)
			if j < 0 {
				return ml, depth
			}
			i += j + len(ml)
			ml = ""
			continue
		}
		switch c := s[i]; c {
		case '#':
			return "", depth
		case '"', '\'':
			if q := s[i : i+1]; strings.HasPrefix(s[i:], q+q+q) {
				ml = q + q + q
				i += 3
				continue
			}
			j := i + 1
			for j < len(s) && s[j] != c {
				if c == '"' && s[j] == '\\' {
					j++
				}
				j++
			}
			i = j + 1
		case '[', '{':
			depth++
			i++
		case ']', '}':
			depth = max(depth-1, 0)
			i++
		default:
			i++
		}
	}
	return ml, depth
}

// plainWord is the value of `= "word"`, when it is one.
func plainWord(rest string) (string, bool) {
	v := strings.TrimSpace(rest)
	if len(v) < 3 || v[0] != '"' {
		return "", false
	}
	end := strings.IndexByte(v[1:], '"')
	if end < 1 {
		return "", false
	}
	w := v[1 : 1+end]
	for i := 0; i < len(w); i++ {
		if w[i] < 'a' || w[i] > 'z' {
			return "", false
		}
	}
	return w, true
}

package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/BurntSushi/toml"
)

// Error is a problem with the configuration file, placed as well as can
// be: the file, the line (and column for a syntax error), the part of the
// file ([[sink]] #2 (webhook), [audit]) and the key. It never quotes a
// value that could be a secret: a webhook's URL and secret are only ever
// named.
type Error struct {
	File      string
	Line, Col int    // 0 when not known
	Section   string // "[[sink]] #2 (webhook)", "[audit]"; empty at the top level
	Key       string // the key as written in its section
	Msg       string // what is wrong; it names the key

	full string // the key from the top, to find its line
	n    int    // the element of the array table (sink, policy) it is in
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config ")
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
		if e.Col > 0 {
			b.WriteString(":" + strconv.Itoa(e.Col))
		}
	}
	b.WriteString(": ")
	if e.Section != "" {
		b.WriteString(e.Section + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// errorList is several errors on one line, as gotrail reports errors.
type errorList []*Error

func (l errorList) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func (l errorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// section names element n of an array table the way errors do.
func (c *Config) section(array string, n int) string {
	switch {
	case n <= 0:
		return ""
	case array == "sink" && n <= len(c.Sink) && knownType(c.Sink[n-1].Type):
		return fmt.Sprintf("[[sink]] #%d (%s)", n, c.Sink[n-1].Type)
	}
	return fmt.Sprintf("[[%s]] #%d", printable(array), n)
}

func knownType(t string) bool { return t == "syslog" || t == "webhook" }

// unknownKeys reports each key gotrail does not know with its line; the
// keys below an unknown table are not listed again.
func unknownKeys(md toml.MetaData, loc *locator, c *Config) errorList {
	var errs errorList
	var reported []toml.Key
	for _, k := range md.Undecoded() {
		if below(k, reported) {
			continue
		}
		reported = append(reported, k)
		p := loc.take(k)
		e := &Error{Line: p.line, Key: k.String()}
		if p.n > 0 && len(k) > 1 && k[0] == p.array {
			e.Section = c.section(p.array, p.n)
			e.Key = k[1:].String()
		}
		e.Msg = "unknown key " + printable(e.Key)
		errs = append(errs, e)
	}
	return errs
}

// below reports whether k is a key inside one of the tables in parents.
func below(k toml.Key, parents []toml.Key) bool {
	for _, p := range parents {
		if len(p) < len(k) && slices.Equal(p, k[:len(p)]) {
			return true
		}
	}
	return false
}

// printable is s, quoted when it holds a character that could steer a
// terminal (a quoted TOML key may hold anything).
func printable(s string) string {
	for _, r := range s {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) {
			return strconv.QuoteToASCII(s)
		}
	}
	return s
}

// syntax are generic descriptions of the TOML library's syntax errors, by a
// fragment of its message. The message itself is never shown: it quotes
// the text at the error, and a secret may be on that line.
var syntax = []struct{ fragment, says string }{
	{"strings cannot contain newlines", "a string is not closed on its line"},
	{`expected '"'`, "a string is not closed"},
	{`expected "'"`, "a string is not closed"},
	{`expected '"""'`, "a string is not closed"},
	{`expected "'''"`, "a string is not closed"},
	{"invalid escape", `a string holds an invalid escape (write \\ for a backslash, or use a 'literal string')`},
	{"hexadecimal digits after", `a string holds an invalid escape (write \\ for a backslash, or use a 'literal string')`},
	{"control characters", "the file holds a control character"},
	{"invalid UTF-8", "the file is not UTF-8"},
	{"already been defined", "a key or table is defined twice"},
	{"already created", "a key or table is defined twice"},
	{"out of range", "a number is out of range"},
	{"invalid float", "a number is not valid"},
	{"not a binary number", "a number is not valid"},
	{"not an octal number", "a number is not valid"},
	{"not a hexadecimal number", "a number is not valid"},
	{"expected a digit", "a number is not valid"},
	{"invalid datetime", "a date is not valid"},
	{"newlines not allowed within inline tables", "an inline table spans lines"},
	{"expected value", "a value is missing or not valid (strings need quotes)"},
	{"to end with a newline", "unexpected text after a value"},
	{"key name appears blank", "a key is missing before '='"},
	{"expected key separator", "a key has no '=' and value"},
	{"expected '.' or '='", "a key is not followed by '='"},
	{"expected a comma", "an array or inline table lacks a comma or is not closed"},
	{"unexpected EOF", "the file ends in the middle of an item"},
}

// describe is the generic description of a TOML syntax error.
func describe(msg string) string {
	for _, s := range syntax {
		if strings.Contains(msg, s.fragment) {
			return "invalid TOML: " + s.says
		}
	}
	return "invalid TOML"
}

// decodeFailure is the prefix of the TOML library's errors in matching
// values to gotrail's types: "toml: line 3 (last key "sink.rate_limit"): ".
var decodeFailure = regexp.MustCompile(`^toml: line (\d+) \(last key ("(?:[^"\\]|\\.)*")\): `)

// wantType is what the library says the destination was: a word of ours,
// never the file's.
var wantType = regexp.MustCompile(`destination has type (\w+)|expected (table) but found`)

// typeNames say the library's types the way the file would.
var typeNames = map[string]string{
	"integer": "an integer", "string": "a string", "slice": "an array", "boolean": "true or false",
	"float": "a number", "map": "a table", "table": "a table",
}

// decodeError turns an error of toml.Decode into an *Error that places it
// without quoting the file.
func decodeError(path, src string, err error) *Error {
	loc := newLocator(src)
	e := &Error{File: path}
	var perr toml.ParseError
	if errors.As(err, &perr) {
		e.Line, e.Col = perr.Position.Line, perr.Position.Col
		e.Msg = describe(perr.Message)
		e.place(loc, splitKey(perr.LastKey), "near key ")
		return e
	}
	m := decodeFailure.FindStringSubmatch(err.Error())
	if m == nil {
		e.Msg = "not gotrail's configuration: a value of the wrong type"
		return e
	}
	e.Line, _ = strconv.Atoi(m[1])
	key, _ := strconv.Unquote(m[2])
	e.Msg = wrongType(err.Error())
	k := splitKey(key)
	if len(k) > 1 && k[0] == "sink" {
		// the library gives the line of the key's last definition in any
		// [[sink]]: find the sink that failed, then the key's line in it
		if n := failingSink(src); n > 0 {
			if l := loc.line(k.String(), n); l > 0 {
				e.Line = l
			}
		}
	}
	e.place(loc, k, "")
	return e
}

// wrongType describes a decoding error in the file's terms.
func wrongType(msg string) string {
	if strings.Contains(msg, "out of range") {
		return "a number out of range"
	}
	if m := wantType.FindStringSubmatch(msg); m != nil {
		if want, ok := typeNames[m[1]+m[2]]; ok {
			return "a value of the wrong type (want " + want + ")"
		}
	}
	return "a value of the wrong type"
}

// place names the section and key of an error at e.Line from the file's
// lines, and prefixes e.Msg with the key.
func (e *Error) place(loc *locator, k toml.Key, how string) {
	p := loc.at(e.Line)
	if p.n > 0 {
		e.Section = fmt.Sprintf("[[%s]] #%d", printable(p.array), p.n)
		if t := loc.sinkTypes[p.n]; p.array == "sink" && knownType(t) {
			e.Section = fmt.Sprintf("[[sink]] #%d (%s)", p.n, t)
		}
		if len(k) > 0 && k[0] == p.array {
			k = k[1:] // named by the section
		}
	}
	if len(k) == 0 {
		return
	}
	e.Key = k.String()
	if how == "" {
		e.Msg = printable(e.Key) + ": " + e.Msg
	} else {
		e.Msg += " (" + how + printable(e.Key) + ")"
	}
}

// splitKey splits a dotted key as the library prints it (parts with
// characters other than letters, digits, '_' and '-' quoted).
func splitKey(s string) toml.Key {
	if s == "" {
		return nil
	}
	k, _, ok := parseKey(s+"\x00", "\x00")
	if !ok {
		return toml.Key{s}
	}
	return k
}

// failingSink finds which [[sink]] does not decode, from 1; 0 when none
// or the sinks are not an array of tables.
func failingSink(src string) int {
	var f struct {
		Sink []toml.Primitive `toml:"sink"`
	}
	md, err := toml.Decode(src, &f)
	if err != nil {
		return 0
	}
	for i, p := range f.Sink {
		var s Sink
		if md.PrimitiveDecode(p, &s) != nil {
			return i + 1
		}
	}
	return 0
}

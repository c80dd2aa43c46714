package main

import (
	"fmt"
	"io"
	"os"

	"github.com/gotrail/gotrail/internal/sink"
)

// outputFormat resolves --format for the commands that print text or json:
// text on a terminal, json otherwise.
func outputFormat(g *globalOptions, command string, w io.Writer) (string, error) {
	switch g.format {
	case "text", "json":
		return g.format, nil
	case "":
		if f, ok := w.(*os.File); ok && isTerminal(f) {
			return "text", nil
		}
		return "json", nil
	}
	return "", &usageError{fmt.Errorf("%s: --format %q: want text or json", command, g.format)}
}

// safe makes a value from a host's files fit for a terminal: control
// characters and escape sequences are shown escaped, never sent raw.
func safe(s string) string { return string(sink.AppendSafe(nil, s)) }

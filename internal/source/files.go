// Package source says where audit records come from: log files and their
// rotations (plain or gzip), standard input, and (for the daemon) a followed
// audit.log or the kernel's netlink socket. It hands raw bytes to the record
// parser in internal/audit and knows nothing about their meaning.
package source

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// DefaultDir is where auditd writes its logs on Debian and most distributions.
const DefaultDir = "/var/log/audit"

// Input is one stream of audit records.
type Input struct {
	Name string // a path, or "-" for standard input
	// Open returns the records, decompressed when the file is gzip.
	Open func() (io.ReadCloser, error)
}

// Expand turns command-line arguments into inputs: "-" is standard input, a
// directory stands for its audit.log and rotations (audit.log.N, oldest
// first, optionally .gz), a file is itself. No arguments means DefaultDir.
func Expand(args []string, stdin io.Reader) ([]Input, error) {
	if len(args) == 0 {
		args = []string{DefaultDir}
	}
	var inputs []Input
	for _, a := range args {
		if a == "-" {
			inputs = append(inputs, Input{Name: "-", Open: func() (io.ReadCloser, error) {
				return maybeGzip("-", io.NopCloser(stdin))
			}})
			continue
		}
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", a, err)
		}
		if !st.IsDir() {
			inputs = append(inputs, fileInput(a))
			continue
		}
		logs, err := Rotations(a, "audit.log")
		if err != nil {
			return nil, err
		}
		if len(logs) == 0 {
			return nil, fmt.Errorf("input %s: no audit.log or audit.log.N files in this directory", a)
		}
		for _, p := range logs {
			inputs = append(inputs, fileInput(p))
		}
	}
	return inputs, nil
}

// Log returns the inputs of one audit log: the file and its rotations
// (path.N, path.N.gz), oldest first.
func Log(path string) ([]Input, error) {
	logs, err := Rotations(filepath.Dir(path), filepath.Base(path))
	if err != nil {
		return nil, err
	}
	if len(logs) == 0 {
		return nil, fmt.Errorf("input %s: no such log or rotations of it", path)
	}
	inputs := make([]Input, len(logs))
	for i, p := range logs {
		inputs[i] = fileInput(p)
	}
	return inputs, nil
}

// Rotations lists dir/base and its rotations base.N and base.N.gz, oldest
// (highest N) first, as auditd's num_logs rotation leaves them.
func Rotations(dir, base string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read directory %s: %w", dir, err)
	}
	type rot struct {
		n    int
		path string
	}
	var rots []rot
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		if name == base {
			rots = append(rots, rot{0, filepath.Join(dir, name)})
			continue
		}
		rest, ok := strings.CutPrefix(name, base+".")
		if !ok {
			continue
		}
		rest = strings.TrimSuffix(rest, ".gz")
		n, err := strconv.Atoi(rest)
		if err != nil || n <= 0 {
			continue
		}
		rots = append(rots, rot{n, filepath.Join(dir, name)})
	}
	sort.SliceStable(rots, func(i, j int) bool { return rots[i].n > rots[j].n })
	out := make([]string, len(rots))
	for i, r := range rots {
		out[i] = r.path
	}
	return out, nil
}

func fileInput(path string) Input {
	return Input{Name: path, Open: func() (io.ReadCloser, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		return maybeGzip(path, f)
	}}
}

// maybeGzip looks at the first bytes: gzip by its magic, not by the name,
// since rotation scripts name files their own way.
func maybeGzip(name string, rc io.ReadCloser) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(rc, 256*1024)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		rc.Close()
		return nil, err
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return readCloser{zr, closeBoth{zr, rc}}, nil
	}
	return readCloser{br, rc}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

type closeBoth struct{ a, b io.Closer }

func (c closeBoth) Close() error { return errors.Join(c.a.Close(), c.b.Close()) }

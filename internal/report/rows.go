package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// Rows is every change of the period, in the order read. They are written
// to an unlinked temporary file as they come: a period of a million
// changes is a few hundred MB that memory need not hold, and a crash
// leaves nothing behind.
type Rows struct {
	f      *os.File
	w      *bufio.Writer
	enc    *json.Encoder
	n      int64
	alerts int64
}

// NewRows makes an empty spill in dir ("" for the system's temporary
// directory).
func NewRows(dir string) (*Rows, error) {
	f, err := os.CreateTemp(dir, "gotrail-report-*")
	if err != nil {
		return nil, fmt.Errorf("report: spill file: %w", err)
	}
	// unlinked at once: only this process can reach it, and it goes
	// with the process however it ends
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("report: spill file: %w", err)
	}
	w := bufio.NewWriterSize(f, 256<<10)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &Rows{f: f, w: w, enc: enc}, nil
}

// Add appends a row.
func (rs *Rows) Add(r *Row) error {
	if err := rs.enc.Encode(r); err != nil {
		return fmt.Errorf("report: spill file: %w", err)
	}
	rs.n++
	if r.Alert() {
		rs.alerts++
	}
	return nil
}

// Len is the number of rows; Alerts of them unauthorized.
func (rs *Rows) Len() int64    { return rs.n }
func (rs *Rows) Alerts() int64 { return rs.alerts }

// errStop ends an Each early without an error.
var errStop = errors.New("stop")

// Each calls fn with every row in order; fn returning errStop ends it.
func (rs *Rows) Each(fn func(*Row) error) error {
	if err := rs.w.Flush(); err != nil {
		return fmt.Errorf("report: spill file: %w", err)
	}
	if _, err := rs.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("report: spill file: %w", err)
	}
	sc := bufio.NewScanner(rs.f)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for sc.Scan() {
		var r Row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return fmt.Errorf("report: spill file: %w", err)
		}
		if err := fn(&r); err != nil {
			if errors.Is(err, errStop) {
				break
			}
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("report: spill file: %w", err)
	}
	// leave the file positioned for further appends
	if _, err := rs.f.Seek(0, io.SeekEnd); err != nil {
		return fmt.Errorf("report: spill file: %w", err)
	}
	return nil
}

// Close releases the spill file.
func (rs *Rows) Close() error { return rs.f.Close() }

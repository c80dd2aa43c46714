// Package trail is gotrail's tamper-evident local store: events appended as
// JSON lines to segment files in the state directory, each line chained to
// the one before by a SHA-256 hash, with tree heads signed in
// golang.org/x/mod/sumdb/note format every so often, so that history cannot
// be rewritten unnoticed once a signed checkpoint has left the host.
//
// A line is the event exactly as `gotrail events --format json` prints it,
// with "trail":{"seq","prev","hash"} appended as its last member; hash is
// SHA-256 over the previous record's hash (hex) and the line without that
// member. Verification reads the bytes as written, so it never depends on
// parsing and re-encoding an event.
package trail

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gotrail/gotrail/internal/event"
)

// Genesis is the prev of the first record.
var Genesis = strings.Repeat("0", 64)

const (
	dirName     = "trail"
	segPrefix   = "trail-"
	segSuffix   = ".jsonl"
	trailMarker = `,"trail":{"seq":`
	lockName    = "lock"
)

// Head is the end of the chain: the last record's seq and hash.
type Head struct {
	Seq  uint64
	Hash string
}

// Writer appends events to the trail. Not safe for concurrent use by
// goroutines, but several processes may each have one open on the same trail
// (gotrail watch and gotrail install): every append happens under an
// exclusive flock(2) of the trail's lock file, which also holds a generation
// counter that each append increments. A Writer that finds the counter moved
// since its own last append re-reads the head from the newest segment, so
// the chain stays one chain whoever appends.
type Writer struct {
	dir     string
	maxSize int64
	now     func() time.Time

	lock *os.File // trail/lock: flock'd around each append; 8 bytes of generation
	genp *uint64  // the generation in the lock file, mapped shared: no syscall to read or bump
	gmap []byte
	gen  uint64 // the generation this Writer last saw or wrote

	head    Head
	seg     *os.File
	segName string
	segDay  string
	segSize int64
	buf     []byte
}

// Options tune a Writer.
type Options struct {
	MaxSegment int64            // bytes before a new segment; default 64 MiB
	Now        func() time.Time // the clock that names segments by day
}

// Open opens the trail in stateDir for appending, recovering the head from
// the last segment. A last line cut short by a crash (no newline) was never
// acknowledged; it is removed so the chain stays whole.
func Open(stateDir string, opts Options) (*Writer, error) {
	if opts.MaxSegment <= 0 {
		opts.MaxSegment = 64 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	dir := filepath.Join(stateDir, dirName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("trail: create %s: %w", dir, err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("trail: %w", err)
	}
	w := &Writer{dir: dir, maxSize: opts.MaxSegment, now: opts.Now, lock: lock}
	if err := w.mapGeneration(); err != nil {
		lock.Close()
		return nil, err
	}
	if err := w.locked(func() error { return nil }); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// mapGeneration maps the lock file's 8 bytes of generation counter.
func (w *Writer) mapGeneration() error {
	fd := int(w.lock.Fd())
	if err := w.flock(unix.LOCK_EX); err != nil {
		return err
	}
	defer unix.Flock(fd, unix.LOCK_UN)
	fi, err := w.lock.Stat()
	if err != nil {
		return fmt.Errorf("trail: %w", err)
	}
	if fi.Size() < 8 {
		if err := w.lock.Truncate(8); err != nil {
			return fmt.Errorf("trail: %w", err)
		}
	}
	m, err := unix.Mmap(fd, 0, 8, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("trail: map %s: %w", w.lock.Name(), err)
	}
	w.gmap, w.genp = m, (*uint64)(unsafe.Pointer(&m[0]))
	return nil
}

func (w *Writer) flock(how int) error {
	for {
		err := unix.Flock(int(w.lock.Fd()), how)
		if err != unix.EINTR {
			if err != nil {
				return fmt.Errorf("trail: lock %s: %w", w.lock.Name(), err)
			}
			return nil
		}
	}
}

// locked runs fn holding the trail's lock, with the head current: re-read
// when another Writer appended since this one last did (and the first time).
func (w *Writer) locked(fn func() error) error {
	if err := w.flock(unix.LOCK_EX); err != nil {
		return err
	}
	defer unix.Flock(int(w.lock.Fd()), unix.LOCK_UN)
	if gen := atomic.LoadUint64(w.genp); gen != w.gen || w.head.Hash == "" {
		if err := w.load(); err != nil {
			return err
		}
		w.gen = gen
	}
	return fn()
}

// bump records, under the lock and before anything is written, that this
// Writer is about to change the trail. Counting before writing means a crash
// mid-append still tells the other Writers to re-read.
func (w *Writer) bump() {
	w.gen++
	atomic.StoreUint64(w.genp, w.gen)
}

// load reads the head from the newest segment, cutting off a last line left
// partial by a crash: it was never acknowledged.
func (w *Writer) load() error {
	if err := w.closeSegment(); err != nil {
		return err
	}
	w.head = Head{Hash: Genesis}
	w.segName, w.segDay, w.segSize = "", "", 0
	dir := w.dir
	segs, err := segments(dir)
	if err != nil {
		return err
	}
	if len(segs) > 0 {
		last := segs[len(segs)-1]
		head, size, err := recoverHead(last)
		if err != nil {
			return err
		}
		if head != nil {
			w.head = *head
		} else if a, err := readAnchor(dir); err == nil && a != nil && len(segs) == 1 {
			// retention pruned everything before an empty newest segment
			w.head = a.Head
		} else if len(segs) > 1 {
			// the newest segment holds nothing whole: the head is in the one before
			prev, _, err := recoverHead(segs[len(segs)-2])
			if err != nil {
				return err
			}
			if prev != nil {
				w.head = *prev
			}
		}
		w.segName, w.segSize = last, size
		w.segDay = segmentDay(last)
	} else if a, err := readAnchor(dir); err == nil && a != nil {
		w.head = a.Head
	}
	return nil
}

// Head is the current end of the chain.
func (w *Writer) Head() Head { return w.head }

// Append adds e to the trail and sets e.Trail. The line is written with one
// write(2); Sync makes it durable.
func (w *Writer) Append(e *event.Event) error {
	return w.locked(func() error { return w.append(e) })
}

func (w *Writer) append(e *event.Event) error {
	e.Trail = nil
	canon := event.AppendJSON(w.buf[:0], e)
	sum := sha256.New()
	sum.Write([]byte(w.head.Hash))
	sum.Write(canon)
	hash := hex.EncodeToString(sum.Sum(nil))
	seq := w.head.Seq + 1
	line := canon[:len(canon)-1]
	line = append(line, trailMarker...)
	line = strconv.AppendUint(line, seq, 10)
	line = append(line, `,"prev":"`...)
	line = append(line, w.head.Hash...)
	line = append(line, `","hash":"`...)
	line = append(line, hash...)
	line = append(line, "\"}}\n"...)
	w.buf = line
	if len(line) > maxRecord {
		// every reader of the trail stops at this size
		return fmt.Errorf("trail: event %s is %d bytes as a record, over the %d a trail record may have", e.Event.ID, len(line), maxRecord)
	}
	if err := w.rotate(int64(len(line))); err != nil {
		return err
	}
	w.bump()
	if _, err := w.seg.Write(line); err != nil {
		// a short write must not stay: the next record would follow a
		// broken line in the middle of the segment
		if terr := w.seg.Truncate(w.segSize); terr != nil {
			err = errors.Join(err, terr)
		}
		return fmt.Errorf("trail: append to %s: %w", w.segName, err)
	}
	w.segSize += int64(len(line))
	e.Trail = &event.Trail{Seq: seq, Prev: w.head.Hash, Hash: hash}
	w.head = Head{Seq: seq, Hash: hash}
	return nil
}

// rotate opens the segment the next line goes to: a new one each day and
// when the current one would pass the size limit.
func (w *Writer) rotate(n int64) error {
	day := w.now().UTC().Format("20060102")
	if w.seg != nil && day == w.segDay && w.segSize+n <= w.maxSize {
		return nil
	}
	if w.seg == nil && w.segName != "" && day == w.segDay && w.segSize+n <= w.maxSize {
		f, err := os.OpenFile(w.segName, os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("trail: open %s: %w", w.segName, err)
		}
		w.seg = f
		return nil
	}
	if err := w.closeSegment(); err != nil {
		return err
	}
	name := filepath.Join(w.dir, fmt.Sprintf("%s%s-%012d%s", segPrefix, day, w.head.Seq+1, segSuffix))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("trail: create segment: %w", err)
	}
	if err := syncDir(w.dir); err != nil {
		f.Close()
		return err
	}
	w.seg, w.segName, w.segDay, w.segSize = f, name, day, 0
	return nil
}

// Sync makes everything appended so far durable.
func (w *Writer) Sync() error {
	if w.seg == nil {
		return nil
	}
	if err := w.seg.Sync(); err != nil {
		return fmt.Errorf("trail: sync %s: %w", w.segName, err)
	}
	return nil
}

func (w *Writer) closeSegment() error {
	if w.seg == nil {
		return nil
	}
	err := w.seg.Sync()
	if cerr := w.seg.Close(); err == nil {
		err = cerr
	}
	w.seg = nil
	if err != nil {
		return fmt.Errorf("trail: close %s: %w", w.segName, err)
	}
	return nil
}

// Close syncs and closes the current segment.
func (w *Writer) Close() error {
	err := w.closeSegment()
	if w.gmap != nil {
		unix.Munmap(w.gmap)
		w.gmap, w.genp = nil, nil
	}
	if w.lock != nil {
		if cerr := w.lock.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("trail: %w", cerr)
		}
		w.lock = nil
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("trail: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("trail: sync %s: %w", dir, err)
	}
	return nil
}

// segments lists the segment files in order: names sort by day, then by
// their first seq (zero-padded).
func segments(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("trail: read %s: %w", dir, err)
	}
	var out []string
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && strings.HasPrefix(n, segPrefix) && strings.HasSuffix(n, segSuffix) {
			out = append(out, filepath.Join(dir, n))
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(segmentKey(a), segmentKey(b)) })
	return out, nil
}

// segmentKey orders segments by first seq, whatever day they carry.
func segmentKey(name string) string {
	base := strings.TrimSuffix(filepath.Base(name), segSuffix)
	if i := strings.LastIndexByte(base, '-'); i >= 0 {
		return base[i+1:] + base[:i]
	}
	return base
}

func segmentDay(name string) string {
	base := strings.TrimPrefix(filepath.Base(name), segPrefix)
	day, _, _ := strings.Cut(base, "-")
	return day
}

// recoverHead reads the last whole line of a segment; a partial last line
// is cut off. It returns nil when the segment holds no whole line. It reads
// from the end, so that a Writer catching up with another stays cheap.
func recoverHead(name string) (*Head, int64, error) {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("trail: read %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("trail: read %s: %w", name, err)
	}
	size := fi.Size()
	for window := int64(64 << 10); ; window *= 4 {
		off := max(size-window, 0)
		data := make([]byte, size-off)
		if _, err := f.ReadAt(data, off); err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, fmt.Errorf("trail: read %s: %w", name, err)
		}
		nl := bytes.LastIndexByte(data, '\n')
		if nl < 0 && off > 0 {
			continue // a line longer than the window
		}
		end := int64(nl + 1)
		if off+end < size {
			if err := f.Truncate(off + end); err != nil {
				return nil, 0, fmt.Errorf("trail: cut the partial last line of %s: %w", name, err)
			}
			size = off + end
		}
		if nl < 0 {
			return nil, 0, nil
		}
		start := bytes.LastIndexByte(data[:nl], '\n') + 1
		if start == 0 && off > 0 {
			continue // the start of the line is before the window
		}
		r, err := parseLine(data[start:nl])
		if err != nil {
			return nil, 0, fmt.Errorf("trail: %s: last record: %w", name, err)
		}
		return &Head{Seq: r.seq, Hash: r.hash}, size, nil
	}
}

// record is one line taken apart.
type record struct {
	canon []byte // the line without its trail member
	seq   uint64
	prev  string
	hash  string
}

var errNoTrail = errors.New("no trail member at the end of the line")

func parseLine(line []byte) (record, error) {
	i := bytes.LastIndex(line, []byte(trailMarker))
	if i < 0 || !bytes.HasSuffix(line, []byte(`"}}`)) {
		return record{}, errNoTrail
	}
	tail := string(line[i+len(trailMarker) : len(line)-3])
	// tail: SEQ,"prev":"HEX","hash":"HEX"
	seqStr, rest, ok := strings.Cut(tail, `,"prev":"`)
	prev, hash, ok2 := strings.Cut(rest, `","hash":"`)
	seq, err := strconv.ParseUint(seqStr, 10, 64)
	if !ok || !ok2 || err != nil || len(prev) != 64 || len(hash) != 64 {
		return record{}, errNoTrail
	}
	canon := make([]byte, 0, i+1)
	canon = append(append(canon, line[:i]...), '}')
	return record{canon: canon, seq: seq, prev: prev, hash: hash}, nil
}

// Read calls fn with each line of the trail, in order, for readers such as
// `gotrail events --trail`.
func Read(stateDir string, fn func(line []byte) error) error {
	segs, err := segments(filepath.Join(stateDir, dirName))
	if err != nil {
		return err
	}
	for _, s := range segs {
		f, err := os.Open(s)
		if err != nil {
			return fmt.Errorf("trail: %w", err)
		}
		br := bufio.NewReaderSize(f, 1<<20)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 1 && line[len(line)-1] == '\n' {
				if ferr := fn(line[:len(line)-1]); ferr != nil {
					f.Close()
					return ferr
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Close()
				return fmt.Errorf("trail: read %s: %w", s, err)
			}
		}
		f.Close()
	}
	return nil
}

// ReadAfter calls fn with the lines of the records after seq, reading only
// the segments that can hold them (segment names carry their first seq).
func ReadAfter(stateDir string, seq uint64, fn func(line []byte) error) error {
	segs, err := segments(filepath.Join(stateDir, dirName))
	if err != nil {
		return err
	}
	start := 0
	for i, s := range segs {
		if first, ok := segmentFirst(s); ok && first <= seq+1 {
			start = i
		}
	}
	for _, s := range segs[start:] {
		f, err := os.Open(s)
		if err != nil {
			return fmt.Errorf("trail: %w", err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
		for sc.Scan() {
			r, err := parseLine(sc.Bytes())
			if err != nil || r.seq <= seq {
				continue
			}
			if err := fn(sc.Bytes()); err != nil {
				f.Close()
				return err
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return fmt.Errorf("trail: read %s: %w", s, err)
		}
	}
	return nil
}

func segmentFirst(name string) (uint64, bool) {
	base := strings.TrimSuffix(filepath.Base(name), segSuffix)
	i := strings.LastIndexByte(base, '-')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseUint(base[i+1:], 10, 64)
	return n, err == nil
}

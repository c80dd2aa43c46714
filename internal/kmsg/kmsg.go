// Package kmsg reads the audit records the kernel wrote to its own log
// (/dev/kmsg, what dmesg shows) because no audit daemon was registered to
// take them. Those are the serials a restart of auditd leaves out of
// audit.log: the old daemon unregistering, the new one setting the kernel
// up, and anything else that happened between the two.
//
// The kernel prints them only as its printk rate limit allows (ten lines
// in five seconds by default) and only for as long as its ring buffer
// keeps them, so a record not found here is not evidence of anything.
package kmsg

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Path is the kernel log's device.
const Path = "/dev/kmsg"

// Record is one audit line of the kernel's log.
type Record struct {
	Type   int    // the record type's number: 1305 is CONFIG_CHANGE
	Sec    int64  // its audit time, whole seconds
	Serial uint64 // its event serial
	Body   string // the fields, after "): ", as the kernel printed them
}

// Parse reads one line of /dev/kmsg:
//
//	PRI,SEQ,USEC,FLAGS;audit: type=1305 audit(1796296546.727:1111581): op=set audit_pid=0 …
//
// It reports false for any other line, including the device's
// continuation lines (" KEY=VALUE"), lines of other subsystems and lines
// written to /dev/kmsg from user space: PRI is facility*8+level, and the
// kernel gives what a process writes a facility of 1 (LOG_USER) at least,
// so only the kernel's own lines have one below 8.
func Parse(line string) (Record, bool) {
	line = strings.TrimRight(line, "\n")
	prefix, msg, ok := strings.Cut(line, ";")
	if !ok {
		return Record{}, false
	}
	pri, _, _ := strings.Cut(prefix, ",")
	if p, ok := number(pri, 8); !ok || p >= 8 {
		return Record{}, false
	}
	rest, ok := strings.CutPrefix(msg, "audit: type=")
	if !ok {
		return Record{}, false
	}
	typ, rest, ok := strings.Cut(rest, " audit(")
	if !ok {
		return Record{}, false
	}
	stamp, body, ok := strings.Cut(rest, "): ")
	if !ok {
		if stamp, ok = strings.CutSuffix(rest, ")"); !ok {
			return Record{}, false
		}
	}
	when, serial, _ := strings.Cut(stamp, ":")
	secs, milli, dot := strings.Cut(when, ".")
	t, okT := number(typ, 31)
	sec, okS := number(secs, 63)
	n, okN := number(serial, 64)
	if _, okM := number(milli, 16); !okT || t == 0 || !okS || !okN || (dot && !okM) {
		return Record{}, false
	}
	return Record{Type: int(t), Sec: int64(sec), Serial: n, Body: body}, true
}

// number parses s, decimal digits only (no sign, no space), into a value
// of at most bits bits.
func number(s string, bits int) (uint64, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, bits)
	return n, err == nil
}

// maxRead bounds what Find reads: the kernel's ring buffer is at most 32
// MiB (CONFIG_LOG_BUF_SHIFT 25), so this is the whole of any of them, and
// a path that is not the device cannot make Find read forever.
const maxRead = 64 << 20

// maxOverwritten bounds how often the kernel may overwrite the record Find
// stands at (a log written faster than it is read) before Find gives up.
const maxOverwritten = 1000

// Find returns the audit records of the kernel log at path whose serials
// lie in [from, to] and whose audit time lies in [notBefore, notAfter]:
// serials repeat, in a log of an earlier boot and after the kernel's 32-bit
// counter wraps, so the caller bounds the time the records it looks for
// can have. It reads what the log holds now, without waiting for more:
// through the descriptor itself, since Go's poller would wait at the
// device's end for a record to come.
func Find(path string, from, to uint64, notBefore, notAfter int64) (map[uint64][]Record, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("kernel log: open %s: %w", path, err)
	}
	defer unix.Close(fd)
	found := map[uint64][]Record{}
	take := func(line []byte) {
		if r, ok := Parse(string(line)); ok && r.Serial >= from && r.Serial <= to && r.Sec >= notBefore && r.Sec <= notAfter {
			found[r.Serial] = append(found[r.Serial], r)
		}
	}
	// one read of the device is one record, up to 8 KiB (the kernel's
	// CONSOLE_EXT_LOG_MAX), and a smaller buffer makes the read fail; a
	// file read so holds many lines, the last maybe cut by the buffer
	buf := make([]byte, 16<<10)
	var pending []byte
	read, overwritten := 0, 0
	skipping := false // the rest of a line too long to be a record
	for read < maxRead {
		n, err := unix.Read(fd, buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EPIPE && overwritten < maxOverwritten:
			// the record the reader stood at was overwritten: it goes on
			// from the oldest one kept
			overwritten++
			continue
		case err == unix.EAGAIN || (err == nil && n == 0):
			if !skipping {
				take(pending)
			}
			return found, nil
		case err != nil:
			return found, fmt.Errorf("kernel log: read %s: %w", path, err)
		}
		read += n
		pending = append(pending, buf[:n]...)
		for {
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				break
			}
			if !skipping {
				take(pending[:i])
			}
			pending, skipping = pending[i+1:], false
		}
		if len(pending) > len(buf) {
			// a line longer than any record: not one, up to its end
			pending, skipping = pending[:0], true
		}
	}
	return found, nil
}

// TypeName is the name auditd gives a record type's number, for the types
// a restart of auditd leaves in the kernel's log; "type N" for the others.
func TypeName(n int) string {
	if name, ok := typeNames[n]; ok {
		return name
	}
	return "type " + strconv.Itoa(n)
}

var typeNames = map[int]string{
	1100: "USER_AUTH", 1101: "USER_ACCT", 1103: "CRED_ACQ", 1104: "CRED_DISP",
	1105: "USER_START", 1106: "USER_END", 1107: "USER_AVC", 1110: "CRED_REFR",
	1112: "USER_LOGIN", 1130: "SERVICE_START", 1131: "SERVICE_STOP",
	1300: "SYSCALL", 1302: "PATH", 1305: "CONFIG_CHANGE", 1306: "SOCKADDR",
	1307: "CWD", 1309: "EXECVE", 1320: "EOE", 1327: "PROCTITLE", 1335: "EVENT_LISTENER",
}

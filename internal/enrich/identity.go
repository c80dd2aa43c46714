package enrich

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gotrail/gotrail/internal/hostfs"
	"golang.org/x/sys/unix"
)

// startSlack is how much later than its exec a process may seem to have
// started and still be the one that ran: the start time is in clock ticks
// (10 ms) and audit's time in ms.
const startSlack = 20 * time.Millisecond

// Identify checks that process pid is still the one whose exec of exe an
// audit event recorded at execAt: started no later than that, and running
// exe, or a go binary it exec'd since (a wrapper script's exec of the real
// go, go switching toolchains: the same process, and the environment it
// handed on). A pid reused since (a restart that reads old events again)
// would lend another process's environment to the event: false evidence.
// It returns an error wrapping ErrGone that says what runs there instead.
func (p Proc) Identify(pid int, exe string, execAt time.Time) error {
	start, err := p.started(pid)
	if err != nil {
		return fmt.Errorf("pid %d: %w", pid, ErrGone)
	}
	if start.After(execAt.Add(startSlack)) {
		return fmt.Errorf("pid %d: %w: the pid now belongs to a process started %s after the exec",
			pid, ErrGone, start.Sub(execAt).Round(time.Millisecond))
	}
	if exe == "" {
		return nil
	}
	now, err := os.Readlink(p.path(strconv.Itoa(pid), "exe"))
	if err != nil {
		return fmt.Errorf("pid %d: %w", pid, ErrGone)
	}
	if now = strings.TrimSuffix(now, " (deleted)"); now != exe && !goBinary(now) {
		return fmt.Errorf("pid %d: %w: it runs %s now, not %s", pid, ErrGone, now, exe)
	}
	return nil
}

// started is when process pid started: the boot time of /proc/stat plus
// the start time in clock ticks of /proc/PID/stat (field 22).
func (p Proc) started(pid int) (time.Time, error) {
	stat, err := os.ReadFile(p.path(strconv.Itoa(pid), "stat"))
	if err != nil {
		return time.Time{}, err
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return time.Time{}, fmt.Errorf("pid %d: unreadable stat", pid)
	}
	// after "pid (comm)": state is field 3, starttime field 22
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 20 {
		return time.Time{}, fmt.Errorf("pid %d: short stat", pid)
	}
	ticks, err := strconv.ParseInt(fields[19], 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("pid %d: stat starttime: %w", pid, err)
	}
	boot, err := p.bootTime()
	if err != nil {
		return time.Time{}, err
	}
	// USER_HZ is 100 on every Linux the kernel ABI allows userspace to see
	return boot.Add(time.Duration(ticks) * (time.Second / 100)), nil
}

// goBinary reports whether exe is a go command or gofmt.
func goBinary(exe string) bool {
	b := exe[strings.LastIndexByte(exe, '/')+1:]
	return b == "go" || b == "gofmt"
}

// bootTime is when the machine booted, in wall time. For this host it is
// the wall clock less CLOCK_BOOTTIME, to the nanosecond: /proc/stat's btime
// is whole seconds, which would let a pid reused within a second pass.
func (p Proc) bootTime() (time.Time, error) {
	if hostfs.IsThisMachine(p.Root) {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err == nil {
			return time.Now().Add(-time.Duration(ts.Nano())), nil
		}
	}
	data, err := os.ReadFile(p.path("stat"))
	if err != nil {
		return time.Time{}, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			sec, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("/proc/stat btime: %w", err)
			}
			return time.Unix(sec, 0), nil
		}
	}
	return time.Time{}, fmt.Errorf("/proc/stat has no btime")
}

// RedactProxyURLs hides the userinfo of every URL in a Go variable's value
// (GOPROXY, GOSUMDB…), where a proxy URL is a base, never a path with an @
// in it: everything between :// and the last @ before the next URL goes.
// Tokens hold /, , and spaces that a URL parser or a split on GOPROXY's
// separators would take for the end of the userinfo.
func RedactProxyURLs(v string) string {
	if !strings.Contains(v, "@") {
		return v
	}
	var b strings.Builder
	for {
		i := strings.Index(v, "://")
		if i < 0 {
			b.WriteString(v)
			return b.String()
		}
		b.WriteString(v[:i+3])
		v = v[i+3:]
		end := strings.Index(v, "://")
		if end < 0 {
			end = len(v)
		}
		if at := strings.LastIndexByte(v[:end], '@'); at >= 0 {
			b.WriteString("xxxxx")
			v = v[at:]
		}
	}
}

package install

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gotrail/gotrail/internal/atomicfile"
	"github.com/gotrail/gotrail/internal/enrich"
	"github.com/gotrail/gotrail/internal/event"
)

// Who is the person and process behind an install, as gotrail can tell
// from inside it: the kernel's login uid (kept across su and sudo) is the
// strong evidence; SUDO_USER comes from the environment.
type Who struct {
	Host     string
	Kernel   string
	UID      string
	User     string
	EUID     string
	EUser    string
	AUID     string // "" when the process has no login
	AUser    string
	Session  string
	SudoUID  string
	SudoUser string
	PID      int
	PPID     int
	Exe      string
	Args     []string
	Cwd      string
}

// CurrentWho describes this process; name maps a uid to a user name.
func CurrentWho(host string, name func(uid uint32) string) Who {
	w := Who{Host: host, PID: os.Getpid(), PPID: os.Getppid(), Args: os.Args}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		w.Kernel = unix.ByteSliceToString(u.Release[:]) + " " + unix.ByteSliceToString(u.Version[:])
	}
	uid, euid := os.Getuid(), os.Geteuid()
	w.UID, w.User = strconv.Itoa(uid), name(uint32(uid))
	if euid != uid {
		w.EUID, w.EUser = strconv.Itoa(euid), name(uint32(euid))
	}
	if b, err := os.ReadFile("/proc/self/loginuid"); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" && s != "4294967295" {
			w.AUID = s
			if n, err := strconv.ParseUint(s, 10, 32); err == nil {
				w.AUser = name(uint32(n))
			}
		}
	}
	if b, err := os.ReadFile("/proc/self/sessionid"); err == nil {
		if s := strings.TrimSpace(string(b)); s != "4294967295" {
			w.Session = s
		}
	}
	w.SudoUID, w.SudoUser = os.Getenv("SUDO_UID"), os.Getenv("SUDO_USER")
	w.Exe, _ = os.Executable()
	w.Cwd, _ = os.Getwd()
	return w
}

// Event is the toolchain.install event of the attempt: outcome success or
// failure, severity info for a success, high for a refused download (an
// alert), medium for any other failure.
func (r *Result) Event(w Who, at time.Time) *event.Event {
	at = at.UTC().Truncate(time.Millisecond)
	e := &event.Event{
		Time:  event.Time{Time: at},
		Event: event.Meta{ID: fmt.Sprintf("install:%s:%d", at.Format("20060102T150405.000Z"), w.PID), Action: r.Action},
		Gotrail: event.Gotrail{Kind: event.KindInstall,
			Toolchain: &event.Toolchain{Version: r.Version, Source: r.Source, URL: r.URL, ArchiveSHA256: r.ArchiveSHA256,
				ModuleHash: r.ModuleHash, SumDB: r.SumDB, Dir: r.Dir, Link: r.Link, Previous: r.Previous, Manifest: r.Manifest}},
		Host:   event.Host{Name: w.Host},
		User:   event.User{ID: w.UID, Name: w.User},
		Auditd: event.Auditd{Session: w.Session},
		Process: event.Process{PID: w.PID, Executable: w.Exe, Name: filepath.Base(w.Exe),
			Args: w.Args, Title: strings.Join(w.Args, " "), WorkingDirectory: w.Cwd},
	}
	if w.PPID != 0 {
		e.Process.Parent = &event.ProcessRef{PID: w.PPID}
	}
	if w.Kernel != "" {
		e.Host.OS = &event.HostOS{Kernel: w.Kernel}
	}
	if w.AUID != "" {
		e.User.Audit = &event.Ident{ID: w.AUID, Name: w.AUser}
	}
	if w.EUID != "" {
		e.User.Effective = &event.Ident{ID: w.EUID, Name: w.EUser}
	}
	if w.SudoUID != "" || w.SudoUser != "" {
		e.Gotrail.Sudo = &event.Ident{ID: w.SudoUID, Name: w.SudoUser}
	}
	if r.Dir != "" {
		e.File = &event.File{Path: r.Dir}
	}
	r.describe(e, w)
	redactEvent(e)
	event.Categorize(e)
	return e
}

// describe sets the outcome, severity and message: who did what, from
// where, verified by what, or why it failed.
func (r *Result) describe(e *event.Event, w Who) {
	login := e.LoginName()
	who := login
	if who == "" {
		who = "?"
	}
	if e.User.Audit == nil {
		who += " (no login)"
	} else if as := e.EffectiveName(); as != "" && as != login {
		who += " (as " + as + ")"
	}
	if w.SudoUser != "" && e.User.Audit == nil {
		who += " (sudo from " + w.SudoUser + ")"
	}
	version := r.Version
	if version == "" {
		version = "the latest Go"
	}
	from := hostOf(r.URL)
	verified := ""
	if r.SumDB != nil {
		verified = " (verified by " + r.SumDB.Name + ")"
	} else if r.Source == "dl" && r.ArchiveSHA256 != "" {
		verified = " (sha256 from the go.dev/dl index)"
	}
	switch {
	case r.Err == nil && r.Action == "rollback":
		e.Event.Outcome, e.Gotrail.Severity = "success", "info"
		e.Message = fmt.Sprintf("%s rolled %s back to %s (%s), away from %s", who, r.Link, version, r.Dir, r.Previous)
	case r.Err == nil:
		e.Event.Outcome, e.Gotrail.Severity = "success", "info"
		e.Message = fmt.Sprintf("%s installed %s into %s from %s%s", who, version, r.Dir, from, verified)
		if len(r.Created) > 0 {
			e.Message += "; created " + strings.Join(r.Created, ", ") + " (mode 0755)"
		}
	case r.Refused():
		e.Event.Outcome, e.Gotrail.Severity = "failure", "high"
		e.Gotrail.Toolchain.Error = r.Err.Error()
		e.Message = fmt.Sprintf("%s was refused %s from %s: %v", who, version, from, r.Err)
	default:
		e.Event.Outcome, e.Gotrail.Severity = "failure", "medium"
		e.Gotrail.Toolchain.Error = r.Err.Error()
		if r.Action == "rollback" {
			e.Message = fmt.Sprintf("%s failed to roll back %s: %v", who, r.Link, r.Err)
		} else {
			e.Message = fmt.Sprintf("%s failed to install %s: %v", who, version, r.Err)
		}
	}
}

// redactEvent hides a proxy's credentials (GOPROXY=https://user:secret@…)
// wherever the record names a URL: the trail and every sink get it.
func redactEvent(e *event.Event) {
	tc := e.Gotrail.Toolchain
	tc.URL, tc.Error = redactText(tc.URL), redactText(tc.Error)
	if tc.SumDB != nil {
		tc.SumDB.URL = redactText(tc.SumDB.URL)
	}
	e.Message = redactText(e.Message)
}

// redactText hides the userinfo of the proxy URLs in s. A URL install
// fetches is the proxy's base (where a token may hold / and @) and a path
// of its own with @ in it (golang.org/toolchain/@v/…): the base is
// redacted as a Go variable is, the path kept.
func redactText(s string) string {
	fields := strings.Split(s, " ")
	for i, f := range fields {
		if !strings.Contains(f, "://") {
			continue
		}
		cut := len(f)
		for _, p := range []string{"/golang.org/toolchain", "/sumdb/"} {
			if j := strings.Index(f, p); j >= 0 && j < cut {
				cut = j
			}
		}
		fields[i] = enrich.RedactProxyURLs(f[:cut]) + f[cut:]
	}
	return strings.Join(fields, " ")
}

func hostOf(u string) string {
	if u == "" {
		return "nowhere (nothing was downloaded)"
	}
	s := strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	h, _, _ := strings.Cut(s, "/")
	if i := strings.LastIndexByte(h, '@'); i >= 0 {
		h = h[i+1:] // the host, never a proxy's credentials
	}
	return h
}

// KeepRecord writes the event to STATE_DIR/installs/ and removes records
// older than retention (0 keeps them for good), as [retention] install says.
func KeepRecord(stateDir string, e *event.Event, retention time.Duration, now time.Time) error {
	dir := filepath.Join(stateDir, "installs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	name := fmt.Sprintf("%s-%d.json", e.Time.UTC().Format("20060102T150405.000Z"), e.Process.PID)
	if err := atomicfile.Write(filepath.Join(dir, name), append(event.AppendJSON(nil, e), '\n'), 0o600); err != nil {
		return err
	}
	if retention <= 0 {
		return nil
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, p := range old {
		if fi, err := os.Stat(p); err == nil && now.Sub(fi.ModTime()) > retention {
			os.Remove(p)
		}
	}
	return nil
}

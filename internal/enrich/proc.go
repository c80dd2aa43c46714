package enrich

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Proc reads live facts about processes from /proc under a root.
type Proc struct {
	Root string // "" or "/" for this host
}

// ErrGone is returned when the process exited before it could be read.
var ErrGone = errors.New("process already gone")

// secretWords mark variables never recorded, whatever their prefix.
var secretWords = []string{"TOKEN", "PASSWORD", "PASSWD", "SECRET", "KEY", "CREDENTIAL", "AUTH", "COOKIE", "PRIVATE_KEY"}

// GoVariable reports whether an environment variable is one gotrail keeps
// for a go process: every GO* and CGO_*, PATH, CC, CXX and LD_PRELOAD, less
// anything whose name looks like a secret (GOAUTH carries credentials).
func GoVariable(name string) bool {
	if !(strings.HasPrefix(name, "GO") || strings.HasPrefix(name, "CGO_") ||
		name == "PATH" || name == "CC" || name == "CXX" || name == "LD_PRELOAD") {
		return false
	}
	for _, w := range secretWords {
		if strings.Contains(name, w) {
			return false
		}
	}
	return true
}

// ErrEmptyEnv: /proc/PID/environ read empty, as it does for a process that
// is exiting (or one started with no environment at all).
var ErrEmptyEnv = errors.New("its environment read empty: exiting, or started with none")

// GoEnv reads the Go variables of process pid from /proc/PID/environ: the
// environment it was started with (a process's own setenv is invisible).
func (p Proc) GoEnv(pid int) (map[string]string, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("pid %d: %w", pid, ErrGone)
	}
	root := p.Root
	if root == "" {
		root = "/"
	}
	path := filepath.Join(root, "proc", strconv.Itoa(pid), "environ")
	data, err := os.ReadFile(path)
	// ESRCH: a zombie, exited but not reaped yet
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, os.ErrProcessDone) || errors.Is(err, syscall.ESRCH) {
		return nil, fmt.Errorf("pid %d: %w", pid, ErrGone)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) == 0 {
		// an exiting process's environ reads empty too: the event says
		// which of the two it could be, never that it had no Go variables
		if p.exited(pid) {
			return nil, fmt.Errorf("pid %d: %w", pid, ErrGone)
		}
		return nil, fmt.Errorf("pid %d: %w", pid, ErrEmptyEnv)
	}
	env := map[string]string{}
	for _, kv := range bytes.Split(data, []byte{0}) {
		k, v, ok := bytes.Cut(kv, []byte("="))
		if ok && GoVariable(string(k)) {
			env[string(k)] = RedactProxyURLs(string(v))
		}
	}
	return env, nil
}

func (p Proc) path(parts ...string) string {
	root := p.Root
	if root == "" {
		root = "/"
	}
	return filepath.Join(append([]string{root, "proc"}, parts...)...)
}

// exited reports whether pid is gone or a zombie (state Z or X in
// /proc/PID/stat, after the command name in parentheses).
func (p Proc) exited(pid int) bool {
	stat, err := os.ReadFile(p.path(strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return true
	}
	return stat[i+2] == 'Z' || stat[i+2] == 'X'
}

// Gone reports whether the process pid (a decimal string, as audit records
// write it) has exited: its /proc entry is no more.
func (p Proc) Gone(pid string) bool {
	if _, err := strconv.Atoi(pid); err != nil {
		return false
	}
	_, err := os.Lstat(p.path(pid))
	return errors.Is(err, fs.ErrNotExist)
}

// Exe is the program a process runs (/proc/PID/exe), "" when unreadable.
func (p Proc) Exe(pid int) string {
	if pid <= 0 {
		return ""
	}
	exe, err := os.Readlink(p.path(strconv.Itoa(pid), "exe"))
	if err != nil {
		return ""
	}
	return exe
}

// InService reports whether this process runs in a systemd service's
// cgroup (its /proc/self/cgroup names a .service): the manager starts the
// service again only once the cgroup is empty, and may kill what is left
// of it when the main process exits.
func (p Proc) InService() bool {
	data, err := os.ReadFile(p.path("self", "cgroup"))
	return err == nil && strings.Contains(string(data), ".service")
}

// Name is a process's command name (/proc/PID/comm), "" when gone.
func (p Proc) Name(pid int) string {
	if pid <= 0 {
		return ""
	}
	data, err := os.ReadFile(p.path(strconv.Itoa(pid), "comm"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// ContainerID finds the container a process runs in from its cgroup path
// (docker-ID.scope, /docker/ID, cri-containerd-ID.scope, libpod-ID…): the
// 64 hex digits of the runtime's id, or "" on the host.
func (p Proc) ContainerID(pid int) string {
	if pid <= 0 {
		return ""
	}
	data, err := os.ReadFile(p.path(strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return ""
	}
	return containerID(string(data))
}

func containerID(cgroup string) string {
	for _, line := range strings.Split(cgroup, "\n") {
		for _, seg := range strings.Split(line, "/") {
			seg = strings.TrimSuffix(seg, ".scope")
			if i := strings.LastIndexAny(seg, "-:"); i >= 0 {
				seg = seg[i+1:]
			}
			if len(seg) == 64 && isHex(seg) {
				return seg
			}
		}
	}
	return ""
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

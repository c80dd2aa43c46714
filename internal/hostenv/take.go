package hostenv

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gotrail/gotrail/internal/enrich"
	"github.com/gotrail/gotrail/internal/hostfs"
	"github.com/gotrail/gotrail/internal/rules"
	"github.com/gotrail/gotrail/internal/shellchain"
)

// Host is what a snapshot or a check looks at: the host under Root, its
// login users and their simulated logins.
type Host struct {
	FS     hostfs.FS
	Info   shellchain.HostInfo
	Names  *enrich.Names
	Found  *rules.Host
	Logins []Login // each login user, simulated
	// Toolchains are the go binaries on the users' PATHs and in the usual
	// places, one per real binary.
	Toolchains []Toolchain

	bins map[string]GoBinary
}

// Login is one login user: the passwd entry, the Go environment its
// simulated login gives, and the simulation itself.
type Login struct {
	User   shellchain.User
	Env    UserEnv
	Result *shellchain.Result
}

// Users are the Go environments of the login users, in order.
func (host *Host) Users() []UserEnv {
	out := make([]UserEnv, len(host.Logins))
	for i, l := range host.Logins {
		out[i] = l.Env
	}
	return out
}

// GoBinary is ReadGoBinary, once per path: every user's PATH may name the
// same go.
func (host *Host) GoBinary(p string) GoBinary {
	b, ok := host.bins[p]
	if !ok {
		b = ReadGoBinary(host.FS, p)
		host.bins[p] = b
	}
	return b
}

// Load reads the host under root and simulates the login of each login
// user, or of only the named ones.
func Load(ctx context.Context, root, hostname string, only []string) (*Host, error) {
	h := hostfs.New(root)
	found, err := rules.Discover(root, nil)
	if err != nil {
		return nil, err
	}
	host := &Host{FS: h, Info: HostInfo(h, hostname), Names: enrich.NewNames(root), Found: found, bins: map[string]GoBinary{}}
	var names []string
	for _, u := range found.Users {
		names = append(names, u.Name)
	}
	if len(only) > 0 {
		names = only
	}
	for _, name := range names {
		u, err := shellchain.LookupUser(h, name)
		if err != nil {
			return nil, err
		}
		ue, res, err := Inspect(ctx, h, u, host.Info, host.Names)
		if err != nil {
			return nil, err
		}
		host.Logins = append(host.Logins, Login{User: u, Env: ue, Result: res})
	}
	host.Toolchains = host.toolchains()
	return host, nil
}

// HostInfo is what uname and hostname say; for another root, the host
// name comes from its /etc/hostname.
func HostInfo(h hostfs.FS, hostname string) shellchain.HostInfo {
	var info shellchain.HostInfo
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		info = shellchain.HostInfo{
			Hostname: unix.ByteSliceToString(u.Nodename[:]),
			Sysname:  unix.ByteSliceToString(u.Sysname[:]),
			Release:  unix.ByteSliceToString(u.Release[:]),
			Version:  unix.ByteSliceToString(u.Version[:]),
			Machine:  unix.ByteSliceToString(u.Machine[:]),
		}
	}
	if h.Root != "/" {
		if data, err := h.ReadFile("/etc/hostname"); err == nil {
			info.Hostname = strings.TrimSpace(string(data))
		}
	}
	if hostname != "" {
		info.Hostname = hostname
	}
	return info
}

func (host *Host) toolchains() []Toolchain {
	var out []Toolchain
	add := func(p, user string) {
		b := host.GoBinary(p)
		i := slices.IndexFunc(out, func(t Toolchain) bool { return t.Real == b.Real && b.Real != "" })
		if i < 0 {
			out = append(out, Toolchain{GoBinary: b})
			i = len(out) - 1
		}
		if user != "" && !slices.Contains(out[i].OnPath, user) {
			out[i].OnPath = append(out[i].OnPath, user)
		}
	}
	for _, l := range host.Logins {
		ue := l.Env
		for _, pe := range ue.Path {
			if pe.Go != "" {
				add(pe.Go, ue.Name)
			}
		}
	}
	for _, g := range host.Found.GOROOTs {
		add(g.Path+"/bin/go", "")
	}
	return out
}

// Take makes a snapshot of the host, hashing each toolchain's GOROOT.
func Take(ctx context.Context, host *Host, now time.Time) (*Snapshot, error) {
	s := &Snapshot{Format: 1, Host: host.Info.Hostname, Kernel: host.Info.Release, Arch: host.Info.Machine, Time: now.UTC(), Users: host.Users()}
	if host.FS.Root != "/" {
		s.Root = host.FS.Root
	}
	// who took it is a user of this machine, whatever --root is
	local := enrich.NewNames("/")
	s.TakenBy.UID = os.Getuid()
	s.TakenBy.Name, _ = local.UserName(uint32(s.TakenBy.UID))
	if data, err := os.ReadFile("/proc/self/loginuid"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 32); err == nil && n != 4294967295 {
			id := int(n)
			s.TakenBy.LoginUID = &id
			s.TakenBy.Login, _ = local.UserName(uint32(n))
		}
	}
	s.Toolchains = slices.Clone(host.Toolchains)
	for i := range s.Toolchains {
		t := &s.Toolchains[i]
		if t.GOROOT == "" {
			continue
		}
		ge := ReadGoEnvFileState(host.FS, t.GOROOT+"/go.env", host.Names, nil)
		t.GoEnv = &ge
		d, n, err := Digest(ctx, host.FS, t.GOROOT)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			t.Error = err.Error()
			continue
		}
		t.Digest, t.Files = d, n
	}
	return s, nil
}

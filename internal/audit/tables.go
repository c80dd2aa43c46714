package audit

import (
	"embed"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// The syscall tables are auditd's own (`ausyscall ARCH --dump`, auditd
// 3.0.9), so names match what ausearch -i prints. Regenerate with
// `go generate ./internal/audit`.
//
//go:generate sh -c "for a in x86_64 i386 aarch64; do ausyscall $a --dump | tail -n +2 > tables/syscalls_$a.tsv; done"
//go:embed tables/*.tsv
var tableFS embed.FS

// Arch is an audit architecture: the arch= field of SYSCALL records
// (AUDIT_ARCH_* in linux/audit.h).
type Arch uint32

const (
	ArchX86_64  Arch = 0xc000003e
	ArchI386    Arch = 0x40000003
	ArchAarch64 Arch = 0xc00000b7
	ArchArm     Arch = 0x40000028
	ArchPPC64LE Arch = 0xc0000015
	ArchS390X   Arch = 0x80000016
	ArchRiscv64 Arch = 0xc00000f3
)

var archNames = map[Arch]string{
	ArchX86_64: "x86_64", ArchI386: "i386", ArchAarch64: "aarch64",
	ArchArm: "armeb", ArchPPC64LE: "ppc64le", ArchS390X: "s390x", ArchRiscv64: "riscv64",
}

// ParseArch reads the hex arch= value.
func ParseArch(s string) (Arch, bool) {
	if n, ok := parseUint32(s, 16); ok {
		return Arch(n), true
	}
	n, err := strconv.ParseUint(s, 16, 32)
	return Arch(n), err == nil
}

// parseUint32 is strconv.ParseUint(s, base, 32) for base 8, 10 or 16 where
// that cannot overflow (as many digits as a 32-bit value has, less one for
// 8 and 10): the arch, mode and syscall of most records, which strconv's
// general parse made a tenth of the sketch's work. ok is false for
// anything else, which the caller gives to strconv for its answer.
func parseUint32(s string, base uint64) (n uint64, ok bool) {
	most := 8
	if base != 16 {
		most = 9
	}
	if len(s) == 0 || len(s) > most {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		d := uint64(digitValue[s[i]])
		if d >= base {
			return 0, false
		}
		n = n*base + d
	}
	return n, true
}

// digitValue is a byte's value as a digit of base 16 or less, 0xff if it is
// none: both cases of hex, as strconv takes them.
var digitValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c], t[c-'a'+'A'] = byte(c-'a'+10), byte(c-'a'+10)
	}
	return t
}()

// String is the name auditd uses, or the hex value for an unknown arch.
func (a Arch) String() string {
	if a == ArchX86_64 { // most hosts': no look-up
		return "x86_64"
	}
	if n, ok := archNames[a]; ok {
		return n
	}
	return strconv.FormatUint(uint64(a), 16)
}

var (
	syscallOnce   sync.Once
	syscallTables map[Arch][]string
	syscallErr    error
	// syscallsX86_64 is syscallTables[ArchX86_64], for most hosts' records
	// without a map look-up
	syscallsX86_64 []string
)

func loadSyscalls() {
	syscallTables = make(map[Arch][]string)
	for arch, file := range map[Arch]string{ArchX86_64: "x86_64", ArchI386: "i386", ArchAarch64: "aarch64"} {
		data, err := tableFS.ReadFile("tables/syscalls_" + file + ".tsv")
		if err != nil {
			syscallErr = fmt.Errorf("syscall table %s: %w", file, err)
			return
		}
		var names []string
		for ln, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			num, name, ok := strings.Cut(line, "\t")
			n, err := strconv.Atoi(num)
			if !ok || err != nil || n < 0 || n > 4096 {
				syscallErr = fmt.Errorf("syscall table %s line %d: malformed %q", file, ln+1, line)
				return
			}
			for len(names) <= n {
				names = append(names, "")
			}
			names[n] = name
		}
		syscallTables[arch] = names
	}
	syscallsX86_64 = syscallTables[ArchX86_64]
}

// SyscallName names syscall number n on arch; ok is false when the table
// lacks it (then the number is returned, as ausearch does).
func SyscallName(arch Arch, n uint64) (string, bool) {
	syscallOnce.Do(loadSyscalls)
	if syscallErr != nil {
		// a broken embedded table (a build defect, caught by the tests):
		// fall back to numbers rather than half a table
		return strconv.FormatUint(n, 10), false
	}
	t := syscallsX86_64
	if arch != ArchX86_64 {
		t = syscallTables[arch]
	}
	if n < uint64(len(t)) && t[n] != "" {
		return t[n], true
	}
	return strconv.FormatUint(n, 10), false
}

// ErrnoName names a negative exit code (-2 -> ENOENT). Linux uses the same
// errno numbers on x86_64, i386 and aarch64.
func ErrnoName(exit int64) (string, bool) {
	if exit >= 0 || exit < -4095 {
		return "", false
	}
	name := unix.ErrnoName(syscall.Errno(-exit))
	return name, name != ""
}

// FileMode renders a mode= value the way ausearch -i does: "file,755",
// "dir,sticky,777".
func FileMode(octal string) (string, bool) {
	m, ok := parseUint32(octal, 8)
	if !ok {
		var err error
		if m, err = strconv.ParseUint(octal, 8, 32); err != nil {
			return "", false
		}
	}
	kind, k := fileKind(m)
	if m&(unix.S_ISUID|unix.S_ISGID|unix.S_ISVTX) == 0 {
		// the common case, rendered once: a PATH record has a mode or two
		return commonModes()[k][m&0o777], true
	}
	return renderMode(kind, m), true
}

// fileKinds are the kinds of file a mode names, as ausearch words them;
// the first is a mode of no known kind.
var fileKinds = [...]string{"", "file", "dir", "link", "character-device", "block-device", "fifo", "socket"}

func fileKind(m uint64) (string, int) {
	k := 0
	switch m & unix.S_IFMT {
	case unix.S_IFREG:
		k = 1
	case unix.S_IFDIR:
		k = 2
	case unix.S_IFLNK:
		k = 3
	case unix.S_IFCHR:
		k = 4
	case unix.S_IFBLK:
		k = 5
	case unix.S_IFIFO:
		k = 6
	case unix.S_IFSOCK:
		k = 7
	}
	return fileKinds[k], k
}

// commonModes are the renderings of every kind and permission without
// set-id or sticky bits.
var commonModes = sync.OnceValue(func() *[len(fileKinds)][0o1000]string {
	var t [len(fileKinds)][0o1000]string
	for k, kind := range fileKinds {
		for p := range uint64(0o1000) {
			t[k][p] = renderMode(kind, p)
		}
	}
	return &t
})

func renderMode(kind string, m uint64) string {
	var b strings.Builder
	if kind != "" {
		b.WriteString(kind)
		b.WriteByte(',')
	}
	if m&unix.S_ISUID != 0 {
		b.WriteString("suid,")
	}
	if m&unix.S_ISGID != 0 {
		b.WriteString("sgid,")
	}
	if m&unix.S_ISVTX != 0 {
		b.WriteString("sticky,")
	}
	p := m & 0o777
	b.WriteByte(byte('0' + p>>6))
	b.WriteByte(byte('0' + p>>3&7))
	b.WriteByte(byte('0' + p&7))
	return b.String()
}

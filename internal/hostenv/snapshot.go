package hostenv

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/gotrail/gotrail/internal/hostfs"
	"github.com/gotrail/gotrail/internal/install"
	"github.com/gotrail/gotrail/internal/shellchain"
)

// Snapshot is the state of a host's Go environment at one time.
type Snapshot struct {
	Format     int         `json:"format"`
	Host       string      `json:"host"`
	Kernel     string      `json:"kernel"`
	Arch       string      `json:"arch"`
	Time       time.Time   `json:"time"`
	TakenBy    TakenBy     `json:"taken_by"`
	Root       string      `json:"root,omitempty"`
	Toolchains []Toolchain `json:"toolchains"`
	Users      []UserEnv   `json:"users"`
}

// TakenBy is who took a snapshot.
type TakenBy struct {
	UID      int    `json:"uid"`
	Name     string `json:"name,omitempty"`
	LoginUID *int   `json:"login_uid,omitempty"`
	Login    string `json:"login,omitempty"`
}

// Toolchain is a go binary and the tree of its GOROOT.
type Toolchain struct {
	GoBinary
	// Digest is dirhash's h1: over the GOROOT's files (symbolic links by
	// their target), so a changed, added or removed file changes it.
	Digest string   `json:"digest,omitempty"`
	Files  int      `json:"files,omitempty"`
	OnPath []string `json:"on_path_of,omitempty"` // the users whose login PATH has it
	// GoEnv is $GOROOT/go.env, the toolchain's own defaults.
	GoEnv *GoEnvFile `json:"go_env,omitempty"`
}

// UserEnv is one login user's Go environment.
type UserEnv struct {
	Name  string           `json:"name"`
	UID   int              `json:"uid"`
	Shell string           `json:"shell"`
	Mode  string           `json:"mode"`
	Go    *GoBinary        `json:"go"`
	Env   map[string]Value `json:"env"`
	Path  []PathEntry      `json:"path"`
	Chain []ChainFileState `json:"chain"`
	// GoEnvFiles are the user's GOENV file and the go.env of the
	// toolchain on their PATH, with what each value they set does.
	GoEnvFiles []GoEnvFile             `json:"go_env_files,omitempty"`
	Unresolved []shellchain.Unresolved `json:"unresolved,omitempty"`
	Problems   []string                `json:"problems,omitempty"`
}

// PathEntry is a directory of a login PATH.
type PathEntry struct {
	Dir    string `json:"dir"`
	Exists bool   `json:"exists"`
	Owner  string `json:"owner,omitempty"`
	Group  string `json:"group,omitempty"`
	Mode   string `json:"mode,omitempty"`
	Go     string `json:"go,omitempty"` // a go command in it
}

// ChainFileState is a file of the login chain.
type ChainFileState struct {
	Path   string `json:"path"`
	From   string `json:"from,omitempty"`
	Exists bool   `json:"exists"`
	Owner  string `json:"owner,omitempty"`
	Group  string `json:"group,omitempty"`
	Mode   string `json:"mode,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// Owners names uids and gids.
type Owners interface {
	UserName(uint32) (string, bool)
	GroupName(uint32) (string, bool)
}

// Inspect simulates u's login (login and interactive, as an SSH session
// is) and describes the Go environment it gives.
func Inspect(ctx context.Context, h hostfs.FS, u shellchain.User, host shellchain.HostInfo, names Owners) (UserEnv, *shellchain.Result, error) {
	res, err := shellchain.Simulate(ctx, shellchain.Options{FS: h, User: u, Login: true, Interactive: true, Host: host, Track: Tracked, Resource: true})
	if err != nil {
		return UserEnv{}, nil, err
	}
	env, bin := GoEnv(h, res)
	ue := UserEnv{Name: u.Name, UID: u.UID, Shell: res.Shell, Mode: res.Mode, Go: bin, Env: env, Unresolved: res.Unresolved, Problems: res.Problems}
	for _, dir := range strings.Split(res.Vars["PATH"].Value, ":") {
		pe := PathEntry{Dir: dir}
		if fi, err := h.Stat(dir); err == nil && fi.IsDir() {
			pe.Exists = true
			pe.Owner, pe.Group = ownerNames(fi, names)
			pe.Mode = hostfs.Mode(fi.Mode())
			if p, ok := LookPath(h, dir, "go"); ok {
				pe.Go = p
			}
		}
		ue.Path = append(ue.Path, pe)
	}
	seen := map[string]bool{}
	for _, f := range res.Files {
		key := f.Path + "\x00" + f.From
		if seen[key] {
			continue
		}
		seen[key] = true
		cs := ChainFileState{Path: f.Path, From: f.From}
		if fi, err := h.Stat(f.Path); err == nil {
			cs.Exists = true
			cs.Owner, cs.Group = ownerNames(fi, names)
			cs.Mode = hostfs.Mode(fi.Mode())
			if data, err := h.ReadFile(f.Path); err == nil {
				cs.SHA256 = sha256Hex(data)
			}
		}
		ue.Chain = append(ue.Chain, cs)
	}
	ue.GoEnvFiles = goEnvFiles(h, env, names)
	return ue, res, nil
}

// goEnvFiles are the Go env files the go command of a user reads: the
// GOENV file (unless GOENV=off) and $GOROOT/go.env.
func goEnvFiles(h hostfs.FS, env map[string]Value, names Owners) []GoEnvFile {
	var out []GoEnvFile
	if p := env["GOENV"].Value; strings.HasPrefix(p, "/") {
		out = append(out, ReadGoEnvFileState(h, p, names, env))
	}
	if gr := env["GOROOT"].Value; strings.HasPrefix(gr, "/") {
		out = append(out, ReadGoEnvFileState(h, gr+"/go.env", names, env))
	}
	return out
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func ownerNames(fi fs.FileInfo, names Owners) (string, string) {
	uid, gid := hostfs.Owner(fi)
	u, ok := names.UserName(uid)
	if !ok {
		u = strconv.FormatUint(uint64(uid), 10)
	}
	g, ok := names.GroupName(gid)
	if !ok {
		g = strconv.FormatUint(uint64(gid), 10)
	}
	return u, g
}

// Digest hashes the GOROOT tree at goroot in parallel and returns its h1:
// digest (dirhash.Hash1's format: the SHA-256 of "sum  name" lines; a
// symbolic link is summed as its target, a special file as its type) and
// the number of files. The hashing is gotrail install's manifest, so a
// snapshot and a manifest agree on every file.
func Digest(ctx context.Context, h hostfs.FS, goroot string) (string, int, error) {
	if err := ctx.Err(); err != nil {
		return "", 0, err
	}
	real, err := h.Resolve(goroot) // never a link out of the root
	if err != nil {
		return "", 0, fmt.Errorf("digest %s: %w", goroot, err)
	}
	entries, err := install.BuildManifest(h.Abs(real))
	if err != nil {
		return "", 0, fmt.Errorf("digest %s: %w", goroot, err)
	}
	sum := sha256.New()
	for _, e := range entries {
		fileSum := e.SHA256
		if fileSum == "" { // a symbolic link or a special file
			s := sha256.Sum256([]byte(e.Mode + " " + e.Link))
			fileSum = hex.EncodeToString(s[:])
		}
		fmt.Fprintf(sum, "%s  %s\n", fileSum, e.Path)
	}
	return "h1:" + base64.StdEncoding.EncodeToString(sum.Sum(nil)), len(entries), nil
}

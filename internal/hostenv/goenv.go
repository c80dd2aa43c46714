// Package hostenv describes a host's Go environment as the go command of
// each login user sees it, with where every value comes from: the login
// chain (file:line), the Go env file (`go env -w`), $GOROOT/go.env or the
// go command's built-in default. It takes snapshots of that state and
// compares them.
package hostenv

import (
	"bytes"
	"debug/buildinfo"
	"errors"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/gotrail/gotrail/internal/hostfs"
	"github.com/gotrail/gotrail/internal/shellchain"
)

// Variables are the settings of the go command that gotrail reports.
var Variables = []string{
	"CC", "CGO_CFLAGS", "CGO_CPPFLAGS", "CGO_CXXFLAGS", "CGO_ENABLED", "CGO_FFLAGS", "CGO_LDFLAGS", "CXX",
	"GO111MODULE", "GOAUTH", "GOBIN", "GOCACHE", "GOCACHEPROG", "GODEBUG", "GOENV", "GOEXPERIMENT",
	"GOFIPS140", "GOFLAGS", "GOINSECURE", "GOMODCACHE", "GONOPROXY", "GONOSUMDB", "GOPATH",
	"GOPRIVATE", "GOPROXY", "GOROOT", "GOSUMDB", "GOTELEMETRY", "GOTMPDIR", "GOTOOLCHAIN", "GOVCS", "GOWORK",
}

// Tracked says which variables a login simulation for the Go environment
// records steps for.
func Tracked(name string) bool {
	return name == "PATH" || name == "HOME" || name == "XDG_CONFIG_HOME" || name == "XDG_CACHE_HOME" ||
		slices.Contains(Variables, name)
}

// Source is where a value comes from.
type Source struct {
	// Kind is login (the login chain or pam_env), goenv (the Go env file
	// that `go env -w` writes), go.env ($GOROOT/go.env), binary (where the
	// go binary is) or default (the go command's built-in default).
	Kind string `json:"kind"`
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
}

func (s Source) String() string {
	switch {
	case s.File != "" && s.Line > 0:
		return s.File + ":" + strconv.Itoa(s.Line)
	case s.File != "":
		return s.File
	}
	return s.Kind
}

// Value is a setting and its source.
type Value struct {
	Value  string `json:"value"`
	Source Source `json:"source"`
}

// EnvFileEntry is one KEY=VALUE line of a Go env file.
type EnvFileEntry struct {
	Value string
	Line  int
}

// ReadGoEnvFile reads a Go env file as the go command does: KEY=VALUE
// lines whose key starts with A-Z, nothing trimmed or unquoted, the last
// line for a key winning.
func ReadGoEnvFile(h hostfs.FS, file string) (map[string]EnvFileEntry, error) {
	data, err := h.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m := map[string]EnvFileEntry{}
	for n, line := range bytes.Split(data, []byte("\n")) {
		i := bytes.IndexByte(line, '=')
		if i < 0 || line[0] < 'A' || 'Z' < line[0] {
			continue
		}
		m[string(line[:i])] = EnvFileEntry{Value: string(line[i+1:]), Line: n + 1}
	}
	return m, nil
}

// GoBinary is a go command found on a PATH or in the usual places.
type GoBinary struct {
	Path    string `json:"path"`
	Real    string `json:"real"`
	Version string `json:"version,omitempty"`
	GOROOT  string `json:"goroot,omitempty"`
	Error   string `json:"error,omitempty"`
}

// ReadGoBinary describes the go binary at p: its version from its build
// information (nothing is run) and the GOROOT it would use, the directory
// above its bin when that holds a toolchain.
func ReadGoBinary(h hostfs.FS, p string) GoBinary {
	b := GoBinary{Path: p}
	real, err := h.Resolve(p)
	if err != nil {
		b.Error = err.Error()
		return b
	}
	b.Real = real
	// a FIFO or a device named go would hang or never end the read
	if fi, err := h.Lstat(real); err != nil || !fi.Mode().IsRegular() {
		b.Error = "not a regular file"
		if err != nil {
			b.Error = err.Error()
		}
	} else if info, err := buildinfo.ReadFile(h.Abs(real)); err == nil {
		b.Version = info.GoVersion
	} else {
		// the error names the file under the root; say it with the host's path
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		b.Error = "no Go build information: " + err.Error()
	}
	if dir := path.Dir(real); path.Base(dir) == "bin" {
		root := path.Dir(dir)
		if h.IsDir(root+"/pkg/tool") || h.IsDir(root+"/src/runtime") || h.Exists(root+"/go.env") {
			b.GOROOT = root
		}
	}
	return b
}

// LookPath finds name on a PATH under the root.
func LookPath(h hostfs.FS, pathList, name string) (string, bool) {
	for _, dir := range strings.Split(pathList, ":") {
		if !strings.HasPrefix(dir, "/") {
			continue
		}
		p := path.Join(dir, name)
		if fi, err := h.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// GoEnv resolves what the go command found first on the login's PATH would
// use for each of Variables, in the go command's order: the environment,
// then the Go env file, then $GOROOT/go.env, then its defaults.
func GoEnv(h hostfs.FS, res *shellchain.Result) (map[string]Value, *GoBinary) {
	out := map[string]Value{}
	login := func(name string) (Value, bool) {
		// the go command takes an empty variable as not set (cfg.Getenv)
		v, ok := res.Vars[name]
		if !ok || !v.Exported || v.Value == "" {
			return Value{}, false
		}
		src := Source{Kind: "login"}
		if steps := res.StepsOf(name); len(steps) > 0 {
			last := steps[len(steps)-1]
			src.File, src.Line = last.File, last.Line
		}
		return Value{Value: v.Value, Source: src}, true
	}
	for _, name := range Variables {
		if v, ok := login(name); ok {
			out[name] = v
		}
	}
	home := res.Vars["HOME"].Value

	// GOENV: the environment, else $XDG_CONFIG_HOME/go/env, else ~/.config/go/env
	// os.UserConfigDir: a relative XDG_CONFIG_HOME is an error, and the go
	// command then reads no env file at all
	if _, ok := out["GOENV"]; !ok {
		cfg := home + "/.config"
		if x, ok := res.Vars["XDG_CONFIG_HOME"]; ok && x.Exported && x.Value != "" {
			cfg = x.Value
		}
		if strings.HasPrefix(cfg, "/") {
			out["GOENV"] = Value{Value: cfg + "/go/env", Source: Source{Kind: "default"}}
		}
	}
	if envFile := out["GOENV"].Value; envFile != "off" && envFile != "" {
		if m, err := ReadGoEnvFile(h, envFile); err == nil {
			for k, e := range m {
				if _, set := out[k]; !set && k != "GOENV" {
					out[k] = Value{Value: e.Value, Source: Source{Kind: "goenv", File: envFile, Line: e.Line}}
				}
			}
		}
	}

	var bin *GoBinary
	pathList := res.Vars["PATH"].Value
	if p, ok := LookPath(h, pathList, "go"); ok {
		b := ReadGoBinary(h, p)
		bin = &b
	}
	if _, ok := out["GOROOT"]; !ok && bin != nil && bin.GOROOT != "" {
		out["GOROOT"] = Value{Value: bin.GOROOT, Source: Source{Kind: "binary", File: bin.Path}}
	}
	if gr, ok := out["GOROOT"]; ok {
		if m, err := ReadGoEnvFile(h, gr.Value+"/go.env"); err == nil {
			for k, e := range m {
				if _, set := out[k]; !set && k != "GOROOT" {
					out[k] = Value{Value: e.Value, Source: Source{Kind: "go.env", File: gr.Value + "/go.env", Line: e.Line}}
				}
			}
		}
	}

	defaults(h, out, res, home, pathList)
	return out, bin
}

// defaults fills in the go command's own defaults for what nothing set.
func defaults(h hostfs.FS, out map[string]Value, res *shellchain.Result, home, pathList string) {
	def := func(k, v string) {
		if _, ok := out[k]; !ok {
			out[k] = Value{Value: v, Source: Source{Kind: "default"}}
		}
	}
	def("GOPATH", home+"/go")
	gopath, _, _ := strings.Cut(out["GOPATH"].Value, ":")
	def("GOMODCACHE", gopath+"/pkg/mod")
	cache := home + "/.cache"
	if x, ok := res.Vars["XDG_CACHE_HOME"]; ok && x.Exported && strings.HasPrefix(x.Value, "/") {
		cache = x.Value
	}
	def("GOCACHE", cache+"/go-build")
	def("GOPROXY", "https://proxy.golang.org,direct")
	def("GOSUMDB", "sum.golang.org")
	// with GOTOOLCHAIN set nowhere (go.env of Go 1.21+ sets it), the go
	// command does not switch toolchains at all
	def("GOTOOLCHAIN", "")
	def("GONOPROXY", out["GOPRIVATE"].Value)
	def("GONOSUMDB", out["GOPRIVATE"].Value)
	def("GOFLAGS", "")
	def("GOINSECURE", "")
	def("GOPRIVATE", "")
	cgo := "0"
	if _, ok := LookPath(h, pathList, "gcc"); ok {
		cgo = "1"
	}
	def("CGO_ENABLED", cgo)
	def("CC", "gcc")
	def("CXX", "g++")
}

// GoEnvFile is a Go env file as a snapshot keeps it: a user's GOENV file
// (what `go env -w` writes) or a toolchain's $GOROOT/go.env.
type GoEnvFile struct {
	Path   string `json:"path"`
	Exists bool   `json:"exists"`
	Owner  string `json:"owner,omitempty"`
	Group  string `json:"group,omitempty"`
	Mode   string `json:"mode,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// Error says why a file that is there could not be read (a FIFO).
	Error string `json:"error,omitempty"`
	// Values are what the file sets, in line order.
	Values []GoEnvValue `json:"values,omitempty"`
}

// GoEnvValue is one setting of a Go env file. For a user, InEffect says
// whether the go command takes it, and ShadowedBy where the value it takes
// instead comes from (the login chain wins over the GOENV file, which wins
// over go.env). A toolchain's go.env lists its values without a verdict:
// that is each user's.
type GoEnvValue struct {
	Name       string  `json:"name"`
	Value      string  `json:"value"`
	Line       int     `json:"line"`
	InEffect   *bool   `json:"in_effect,omitempty"`
	ShadowedBy *Source `json:"shadowed_by,omitempty"`
}

// ReadGoEnvFileState describes the Go env file at p: owner, mode, digest
// and the values it sets; when env is not nil, each value's verdict for the
// user whose resolved environment env is. The go command ignores GOENV in
// a Go env file and GOROOT in go.env; so does this.
func ReadGoEnvFileState(h hostfs.FS, p string, names Owners, env map[string]Value) GoEnvFile {
	f := GoEnvFile{Path: p}
	fi, err := h.Stat(p)
	if err != nil {
		return f
	}
	f.Exists = true
	f.Owner, f.Group = ownerNames(fi, names)
	f.Mode = hostfs.Mode(fi.Mode())
	data, err := h.ReadFile(p)
	if err != nil {
		f.Error = err.Error()
		return f
	}
	f.SHA256 = sha256Hex(data)
	m, _ := ReadGoEnvFile(h, p)
	for name, e := range m {
		if name == "GOENV" || name == "GOROOT" && path.Base(p) == "go.env" {
			continue
		}
		v := GoEnvValue{Name: name, Value: e.Value, Line: e.Line}
		if env != nil {
			cur, known := env[name]
			in := !known || cur.Source.File == p && cur.Source.Line == e.Line
			v.InEffect = &in
			if !in {
				src := cur.Source
				v.ShadowedBy = &src
			}
		}
		f.Values = append(f.Values, v)
	}
	slices.SortFunc(f.Values, func(a, b GoEnvValue) int { return a.Line - b.Line })
	return f
}

package shellchain

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"golang.org/x/sys/unix"

	"github.com/gotrail/gotrail/internal/hostfs"
	"github.com/gotrail/gotrail/internal/testutil/integration"
)

// The comparison with real bash: each fixture chain is bind-mounted over
// /etc and /home in a private mount namespace (unshare -m), where this
// test binary runs again as a child. The child simulates alice's login and
// then runs real bash as alice (setpriv) in the same namespace, so both
// read exactly the same files; the parent compares their variables.

const childEnv = "GOTRAIL_SHELLCHAIN_CHILD"

var compared = []string{"PATH", "GOPATH", "GOPROXY", "GOFLAGS", "GOROOT", "GOSUMDB", "GONOSUMDB", "GOTOOLCHAIN", "GOENV",
	"SYSTEM_RC", "GOARCH_HINT", "GOBIN_NAME", "HAVE_SH", "NO_SUCH"}

var initialEnv = map[string]string{"HOME": "/home/alice", "USER": "alice", "LOGNAME": "alice", "SHELL": "/bin/bash", "PATH": "/usr/local/bin:/usr/bin:/bin"}

func TestMain(m *testing.M) {
	if root := os.Getenv(childEnv); root != "" {
		if err := child(root, os.Getenv(childEnv+"_MODE")); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childVar is a variable as seen at the end of a login.
type childVar struct {
	Set      bool
	Value    string
	Exported bool
}

func child(root, mode string) error {
	for _, p := range []string{"etc/passwd", "etc/group", "etc/profile", "etc/bash.bashrc", "etc/profile.d", "home", "opt"} {
		src := filepath.Join(root, p)
		if _, err := os.Stat(src); err != nil {
			continue
		}
		if err := unix.Mount(src, "/"+p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s over /%s: %w", src, p, err)
		}
	}
	login, interactive := strings.Contains(mode, "login"), strings.Contains(mode, "interactive")
	h := hostfs.New("/")
	u, err := LookupUser(h, "alice")
	if err != nil {
		return err
	}
	res, err := Simulate(context.Background(), Options{FS: h, User: u, Login: login, Interactive: interactive, Env: initialEnv,
		Host: HostInfo{Hostname: "h", Sysname: "Linux", Machine: uname()}})
	if err != nil {
		return err
	}
	sim := map[string]childVar{}
	for _, name := range compared {
		if v, ok := res.Vars[name]; ok {
			sim[name] = childVar{Set: true, Value: v.Value, Exported: v.Exported}
		}
	}

	script := `for v in ` + strings.Join(compared, " ") + `; do if [ "${!v+set}" ]; then printf '%s=%s\0' "$v" "${!v}"; fi; done; printf '\0'; /usr/bin/env -0`
	args := []string{"--reuid=1000", "--regid=1000", "--clear-groups", "/usr/bin/env", "-i"}
	for k, v := range initialEnv {
		args = append(args, k+"="+v)
	}
	args = append(args, "/bin/bash")
	if login {
		args = append(args, "-l")
	}
	if interactive {
		args = append(args, "-i")
	}
	args = append(args, "-c", script)
	cmd := exec.Command("setpriv", args...)
	cmd.Dir = "/home/alice"
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("bash: %v: %s", err, errb.String())
	}
	setPart, envPart, _ := bytes.Cut(out.Bytes(), []byte("\x00\x00"))
	real := map[string]childVar{}
	for _, kv := range strings.Split(string(setPart), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			real[k] = childVar{Set: true, Value: v}
		}
	}
	for _, kv := range strings.Split(string(envPart), "\x00") {
		if k, _, ok := strings.Cut(kv, "="); ok {
			if v, ok := real[k]; ok {
				v.Exported = true
				real[k] = v
			}
		}
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"sim": sim, "bash": real, "unresolved": res.Unresolved, "problems": res.Problems})
}

func uname() string {
	var u unix.Utsname
	unix.Uname(&u)
	return unix.ByteSliceToString(u.Machine[:])
}

// writeChain writes base.txtar and then the fixture into a new root.
func writeChain(t *testing.T, name string) string {
	t.Helper()
	root := t.TempDir()
	for _, n := range []string{"base", name} {
		a, err := txtar.ParseFile(filepath.Join("testdata", "chains", n+".txtar"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range a.Files {
			p := filepath.Join(root, f.Name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			os.Chmod(p, 0o755)
		}
		if strings.HasPrefix(p, filepath.Join(root, "home", "alice")) && os.Getuid() == 0 {
			os.Lchown(p, 1000, 1000)
		}
		return nil
	})
	return root
}

func TestAgainstBash(t *testing.T) {
	integration.Require(t, "root, for bash in a private mount namespace", integration.Root())
	for _, bin := range []string{"unshare", "setpriv", "bash"} {
		integration.Tool(t, bin, map[string]string{"unshare": "util-linux", "setpriv": "util-linux", "bash": "bash"}[bin])
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "chains", "*.txtar"))
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		if name == "base" {
			continue
		}
		for _, mode := range []string{"login", "login interactive", "interactive"} {
			t.Run(name+"/"+strings.ReplaceAll(mode, " ", "+"), func(t *testing.T) {
				root := writeChain(t, name)
				cmd := exec.Command("unshare", "-m", "--propagation", "private", os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), childEnv+"="+root, childEnv+"_MODE="+mode)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("child: %v\n%s", err, stderr.String())
				}
				var got struct {
					Sim, Bash  map[string]childVar
					Unresolved []Unresolved
					Problems   []string
				}
				if err := json.Unmarshal(out, &got); err != nil {
					t.Fatalf("child output %q: %v", out, err)
				}
				if len(got.Unresolved) > 0 {
					t.Errorf("unresolved commands in a fixture that has none: %v", got.Unresolved)
				}
				for _, v := range compared {
					s, b := got.Sim[v], got.Bash[v]
					if s != b {
						t.Errorf("%s: simulated %+v, bash %+v", v, s, b)
					}
				}
				if t.Failed() {
					t.Logf("problems: %v", got.Problems)
				}
				if !slices.ContainsFunc(compared, func(v string) bool { return got.Bash[v].Set && v != "PATH" }) && name != "early-return" {
					t.Logf("note: bash set nothing but PATH in %s", mode)
				}
			})
		}
	}
}

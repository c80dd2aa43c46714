package shellchain

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/hostfs"
)

func writeRoot(t testing.TB, files map[string]string) hostfs.FS {
	t.Helper()
	root := t.TempDir()
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return hostfs.New(root)
}

var alice = User{Name: "alice", UID: 1000, GID: 1000, Home: "/home/alice", Shell: "/bin/bash", GroupName: "alice", Groups: []Group{{"alice", 1000}}}

func TestPamEnv(t *testing.T) {
	h := writeRoot(t, map[string]string{
		"etc/pam.d/sshd": "@include common-session\n",
		"etc/pam.d/common-session": "session required pam_env.so user_readenv=1\n" +
			"session required pam_env.so readenv=1 envfile=/etc/default/locale\n",
		"etc/security/pam_env.conf": "# comment\n" +
			"GOPATH DEFAULT=@{HOME}/go\n" +
			"GOBIN DEFAULT=${GOPATH}/bin OVERRIDE=${NOPE}\n" +
			"EDITOR OVERRIDE=\"vim -u NONE\"\n" +
			"REMOVED\n",
		"etc/environment": "PATH=\"/usr/local/bin:/usr/bin\"\n" +
			"export GOPROXY=https://proxy.example.com\n" +
			"  # indented comment\n" +
			"LITERAL=$HOME/bin\n" +
			"not a line\n",
		"etc/default/locale":          "LANG=C.UTF-8\n",
		"home/alice/.pam_environment": "GOFLAGS DEFAULT=-mod=readonly\n",
	})
	env := map[string]string{"REMOVED": "x", "HOME": "/home/alice"}
	as := PamEnv(h, alice, env)
	want := map[string]string{
		"HOME": "/home/alice", "GOPATH": "/home/alice/go", "GOBIN": "/home/alice/go/bin", "EDITOR": "vim -u NONE",
		"PATH": "/usr/local/bin:/usr/bin", "GOPROXY": "https://proxy.example.com", "LITERAL": "$HOME/bin",
		"GOFLAGS": "-mod=readonly", "LANG": "C.UTF-8",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if _, ok := env["REMOVED"]; ok {
		t.Errorf("REMOVED should be unset: a line with neither DEFAULT nor OVERRIDE removes the variable")
	}
	i := slices.IndexFunc(as, func(a Assignment) bool { return a.Var == "LITERAL" })
	if i < 0 || as[i].File != "/etc/environment" || as[i].Line != 4 {
		t.Errorf("LITERAL assignment: %+v", as)
	}
	i = slices.IndexFunc(as, func(a Assignment) bool { return a.Var == "GOFLAGS" })
	if i < 0 || as[i].File != "/home/alice/.pam_environment" {
		t.Errorf("user_readenv=1 should read ~/.pam_environment: %+v", as)
	}
}

func TestPamEnvDefaultsWithoutPAM(t *testing.T) {
	h := writeRoot(t, map[string]string{"etc/environment": "GOPROXY=direct\n", "home/alice/.pam_environment": "GOSUMDB DEFAULT=off\n"})
	env := map[string]string{}
	PamEnv(h, alice, env)
	if env["GOPROXY"] != "direct" {
		t.Errorf("/etc/environment not read: %v", env)
	}
	if _, ok := env["GOSUMDB"]; ok {
		t.Errorf("~/.pam_environment read although user_readenv is off by default")
	}
}

func simulate(t *testing.T, h hostfs.FS, track string) *Result {
	t.Helper()
	res, err := Simulate(context.Background(), Options{FS: h, User: alice, Login: true, Interactive: true,
		Host:  HostInfo{Hostname: "web-01.example.com", Sysname: "Linux", Release: "6.1.0", Machine: "x86_64"},
		Track: func(n string) bool { return n == track }})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestSteps(t *testing.T) {
	h := writeRoot(t, map[string]string{
		"etc/passwd":               "alice:x:1000:1000::/home/alice:/bin/bash\n",
		"etc/login.defs":           "ENV_PATH PATH=/usr/bin:/bin\n",
		"etc/environment":          "GOPROXY=https://a.example\n",
		"etc/profile":              "export GOPROXY=\"$GOPROXY,direct\"\nfor f in /etc/profile.d/*.sh; do . \"$f\"; done\n",
		"etc/profile.d/b.sh":       "case \"$(hostname -s)\" in\nweb-*) GOPROXY=https://web.example ;;\nesac\n",
		"home/alice/.bash_profile": "setproxy() {\n  GOPROXY=\"$1\"\n}\nsetproxy \"https://$(whoami).example\"\nexport GOPROXY=\"$(corp-proxy-url)\"\n",
	})
	res := simulate(t, h, "GOPROXY")
	type step struct {
		where, before, after string
	}
	var got []step
	for _, s := range res.StepsOf("GOPROXY") {
		b, a := "-", "-"
		if s.Before != nil {
			b = *s.Before
		}
		if s.After != nil {
			a = *s.After
		}
		got = append(got, step{fmt.Sprintf("%s:%d", s.File, s.Line), b, a})
	}
	want := []step{
		{"/etc/environment:1", "-", "https://a.example"},
		{"/etc/profile:1", "https://a.example", "https://a.example,direct"},
		{"/etc/profile.d/b.sh:2", "https://a.example,direct", "https://web.example"},
		{"/home/alice/.bash_profile:2", "https://web.example", "https://alice.example"},
		{"/home/alice/.bash_profile:5", "https://alice.example", ""},
	}
	if !slices.Equal(got, want) {
		t.Errorf("steps:\n got %v\nwant %v", got, want)
	}
	last := res.StepsOf("GOPROXY")[len(res.StepsOf("GOPROXY"))-1]
	if len(last.DependsOn) != 1 || !strings.Contains(last.DependsOn[0], "corp-proxy-url") {
		t.Errorf("the last step should depend on corp-proxy-url: %v", last.DependsOn)
	}
	if len(res.Unresolved) != 1 || res.Unresolved[0] != (Unresolved{"/home/alice/.bash_profile", 5, "corp-proxy-url"}) {
		t.Errorf("unresolved: %v", res.Unresolved)
	}
}

func TestNothingRunsOrIsWritten(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	h := writeRoot(t, map[string]string{
		"etc/passwd":               "alice:x:1000:1000::/home/alice:/bin/bash\n",
		"home/alice/.bash_profile": "touch " + marker + "\necho x > " + marker + "\n/bin/sh -c 'echo y > " + marker + "'\nexec /bin/true\n",
	})
	res := simulate(t, h, "PATH")
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the simulation ran a command or wrote a file")
	}
	if len(res.Unresolved) != 3 {
		t.Errorf("want touch, sh and exec unresolved: %v", res.Unresolved)
	}
}

func TestProblems(t *testing.T) {
	h := writeRoot(t, map[string]string{
		"etc/passwd":               "alice:x:1000:1000::/home/alice:/bin/bash\n",
		"home/alice/.bash_profile": "export GOPATH=/a\n. ~/.broken\nexport GOFLAGS=-v\n",
		"home/alice/.broken":       "if then fi (\n",
	})
	res := simulate(t, h, "GOPATH")
	if v, _ := res.Value("GOFLAGS"); v != "-v" {
		t.Errorf("a broken sourced file should not stop the rest: GOFLAGS=%q", v)
	}
	if len(res.Problems) == 0 || !strings.Contains(strings.Join(res.Problems, "\n"), "/home/alice/.broken:1") {
		t.Errorf("problems should name the broken file and line: %v", res.Problems)
	}
}

func TestRegrow(t *testing.T) {
	h := writeRoot(t, map[string]string{
		"etc/passwd":         "alice:x:1000:1000::/home/alice:/bin/bash\n",
		"etc/profile":        "PATH=/usr/bin:/bin\nexport PATH\n. /etc/profile.d/a.sh\n. /etc/profile.d/b.sh\n",
		"etc/profile.d/a.sh": "PATH=\"$PATH:/opt/a\"\n",
		"etc/profile.d/b.sh": "case :$PATH: in *:/opt/b:*) ;; *) PATH=\"$PATH:/opt/b\";; esac\n",
	})
	res, err := Simulate(context.Background(), Options{FS: h, User: alice, Login: true, Resource: true})
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, r := range res.Regrows {
		files = append(files, r.File)
	}
	if !slices.Contains(files, "/etc/profile.d/a.sh") || slices.Contains(files, "/etc/profile.d/b.sh") {
		t.Errorf("regrows: %v", files)
	}
}

func TestEndlessLoopStops(t *testing.T) {
	h := writeRoot(t, map[string]string{
		"etc/passwd":               "alice:x:1000:1000::/home/alice:/bin/bash\n",
		"home/alice/.bash_profile": "export GOPATH=/before\nwhile :; do\n  GOFLAGS=x\ndone\nexport GOPATH=/after\n",
	})
	res := simulate(t, h, "GOPATH")
	if v, _ := res.Value("GOPATH"); v != "/before" {
		t.Errorf("GOPATH = %q, want the value before the loop", v)
	}
	if !strings.Contains(strings.Join(res.Problems, "\n"), "stopped after 50000 statements (a loop that does not end?) at /home/alice/.bash_profile:2") {
		t.Errorf("problems: %v", res.Problems)
	}
}

// FuzzSimulate feeds arbitrary text as a login file: the simulation ends,
// without a panic, and never runs or writes anything.
func FuzzSimulate(f *testing.F) {
	for _, seed := range []string{
		"export PATH=\"$PATH:/x\"\n",
		"f() { f; }; f\n",
		"for i in 1 2 3; do PATH=$PATH:$i; done\n",
		"case $- in *i*) ;; *) return;; esac\nexport -n PATH\n",
		"eval \"$(dircolors -b)\"\n. /etc/nothere\nsource\n",
		"x=$(( 1 / 0 ))\nexit 3\n",
		"cat <<EOF\n$(id)\nEOF\nread -r a < /etc/passwd\n",
		"\x1b[31m\x00\xff",
		"${!x}",
		"declare -A m; m[k]=v; export GOFLAGS=${m[k]}",
	} {
		f.Add(seed)
	}
	h := writeRoot(f, map[string]string{"etc/passwd": "alice:x:1000:1000::/home/alice:/bin/bash\n", "home/alice/.bash_profile": ""})
	f.Fuzz(func(t *testing.T, script string) {
		if err := os.WriteFile(h.Abs("/home/alice/.bash_profile"), []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if _, err := Simulate(ctx, Options{FS: h, User: alice, Login: true, Interactive: true, Resource: true}); err != nil && ctx.Err() != nil {
			t.Fatalf("did not end: %v", err)
		}
	})
}

// FuzzPamEnv feeds arbitrary pam_env.conf and /etc/environment text.
func FuzzPamEnv(f *testing.F) {
	f.Add("GOPATH DEFAULT=@{HOME}/go OVERRIDE=${X}\nA\\\n B\n", "export A=\"b\"\nC='d\n=x\n")
	f.Add("X DEFAULT=\"unterminated", "\x00=\xff")
	h := writeRoot(f, map[string]string{"etc/passwd": "alice:x:1000:1000::/home/alice:/bin/bash\n"})
	f.Fuzz(func(t *testing.T, conf, envfile string) {
		os.MkdirAll(h.Abs("/etc/security"), 0o755)
		os.WriteFile(h.Abs("/etc/security/pam_env.conf"), []byte(conf), 0o644)
		os.WriteFile(h.Abs("/etc/environment"), []byte(envfile), 0o644)
		env := map[string]string{}
		for _, a := range PamEnv(h, alice, env) {
			if a.Line < 1 || a.Var == "" {
				t.Fatalf("assignment without a place or name: %+v", a)
			}
		}
	})
}

// Which file a shell reads can depend on a variable an earlier file set.
func TestChainVariables(t *testing.T) {
	h := writeRoot(t, map[string]string{
		"etc/passwd":             "alice:x:1000:1000::/home/alice:/bin/sh\n",
		"etc/profile":            "export PATH=/usr/bin\n",
		"home/alice/.profile":    "ENV=$HOME/.shrc; export ENV\n",
		"home/alice/.shrc":       "export GOPATH=/from/shrc\n",
		"etc/zsh/zshenv":         "export ZDOTDIR=$HOME/.zsh\n",
		"home/alice/.zsh/.zshrc": "export GOPATH=/from/zdotdir\n",
		"home/alice/.zshrc":      "export GOPATH=/wrong\n",
	})
	for _, tt := range []struct{ shell, want string }{{"sh", "/from/shrc"}, {"zsh", "/from/zdotdir"}} {
		res, err := Simulate(context.Background(), Options{FS: h, User: alice, Shell: tt.shell, Login: true, Interactive: true})
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := res.Value("GOPATH"); v != tt.want {
			t.Errorf("%s: GOPATH = %q, want %q", tt.shell, v, tt.want)
		}
	}
}

// A plain user cannot read another's files: the simulation says so
// instead of treating them as missing.
func TestUnreadable(t *testing.T) {
	h := writeRoot(t, map[string]string{
		"etc/passwd":               "alice:x:1000:1000::/home/alice:/bin/bash\n",
		"home/alice/.bash_profile": "export GOPATH=/secret\n",
	})
	os.Chmod(h.Abs("/home/alice/.bash_profile"), 0o600)
	os.Chown(h.Abs("/home/alice/.bash_profile"), 0, 0)
	res := simulate(t, h, "GOPATH")
	i := slices.IndexFunc(res.Files, func(f ChainFile) bool { return f.Path == "/home/alice/.bash_profile" })
	if i < 0 || res.Files[i].Error == "" || res.Files[i].Missing {
		t.Fatalf("files: %+v", res.Files)
	}
	if !strings.Contains(strings.Join(res.Problems, "\n"), "cannot read /home/alice/.bash_profile") {
		t.Errorf("problems: %v", res.Problems)
	}
	if _, ok := res.Value("GOPATH"); ok {
		t.Errorf("a file alice cannot read was read")
	}
}

// Each row is what Debian's pam_env.so (Linux-PAM 1.5.2) did with the line,
// run through libpam against a private configuration.
func TestPamEnvLikeLinuxPAM(t *testing.T) {
	tests := []struct {
		name, conf, envfile string
		want                map[string]*string // nil value: unset
	}{
		{"conf ${VAR} reads only what pam_env set", "PATH DEFAULT=${PATH}:/opt/go/bin\nGOPATH DEFAULT=${HOME}/gopath\n", "",
			map[string]*string{"PATH": ptr(":/opt/go/bin"), "GOPATH": ptr("/gopath")}},
		{"conf DEFAULT=\"\" defines empty", "EMPTYQ DEFAULT=\"\"\n", "", map[string]*string{"EMPTYQ": ptr("")}},
		{"conf DEFAULT expanding to nothing defines empty", "EMPTYX DEFAULT=${NOPE}\n", "", map[string]*string{"EMPTYX": ptr("")}},
		{"conf single quotes are characters", "SQ DEFAULT='single'\n", "", map[string]*string{"SQ": ptr("'single'")}},
		{"conf unknown option ignores the line", "TYPO DEFAULT=x OVERIDE=y\n", "", map[string]*string{"TYPO": nil}},
		{"conf empty OVERRIDE falls back to DEFAULT", "A DEFAULT=d OVERRIDE=${NOPE}\n", "", map[string]*string{"A": ptr("d")}},
		{"conf @{HOME} and escapes", "B DEFAULT=@{HOME}/x\\${Y}\n", "", map[string]*string{"B": ptr("/home/alice/x${Y}")}},
		{"env # ends the line", "", "GOPROXY=https://goproxy.cn,direct # mirror\n", map[string]*string{"GOPROXY": ptr("https://goproxy.cn,direct ")}},
		{"env key must be a name", "", "BAD-KEY=1\nGOOD_1=2\n", map[string]*string{"BAD-KEY": nil, "GOOD_1": ptr("2")}},
		{"env opening quote without a closing one", "", "Q=\"a\n", map[string]*string{"Q": ptr("a")}},
		{"env continuation: the backslash becomes a space", "", "LONG=a\\\n   b\n", map[string]*string{"LONG": ptr("a b")}},
		{"env no expansion", "", "P=$HOME/bin\n", map[string]*string{"P": ptr("$HOME/bin")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := writeRoot(t, map[string]string{"etc/security/pam_env.conf": tt.conf, "etc/environment": tt.envfile})
			env := map[string]string{"HOME": "/home/alice", "PATH": "/usr/bin:/bin"}
			PamEnv(h, alice, env)
			for k, want := range tt.want {
				got, ok := env[k]
				switch {
				case want == nil && ok && k != "PATH":
					t.Errorf("%s = %q, want unset", k, got)
				case want != nil && (!ok || got != *want):
					t.Errorf("%s = %q (set %v), want %q", k, got, ok, *want)
				}
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestPamControlInBrackets(t *testing.T) {
	h := writeRoot(t, map[string]string{
		"etc/pam.d/sshd":              "session [success=ok default=ignore] pam_env.so user_readenv=1\n",
		"home/alice/.pam_environment": "GOFLAGS DEFAULT=-v\n",
	})
	env := map[string]string{}
	PamEnv(h, alice, env)
	if env["GOFLAGS"] != "-v" {
		t.Fatalf("the pam_env.so line with a bracketed control was missed: %v", env)
	}
}

// A TMPDIR from the host's files must not let a profile write through the
// interpreter's own temporary files (it opens them without the open
// handler), and process substitutions are never run.
func TestNoWriteThroughTMPDIR(t *testing.T) {
	target := t.TempDir()
	h := writeRoot(t, map[string]string{
		"etc/passwd":      "alice:x:1000:1000::/home/alice:/bin/bash\n",
		"etc/environment": "TMPDIR=" + target + "\n",
		"etc/profile": "echo pwned > \"$TMPDIR/sh-interp-evil\"\necho more >> \"$TMPDIR/sh-interp-evil\"\n" +
			"source <(echo export GOPATH=/from-procsubst)\ncat > >(tee " + target + "/x)\n" +
			"( umask 000 )\nx=$(umask 0; echo)\n",
	})
	res := simulate(t, h, "TMPDIR")
	entries, _ := os.ReadDir(target)
	if len(entries) != 0 {
		t.Fatalf("the simulation wrote %v into TMPDIR", entries)
	}
	if v, _ := res.Value("TMPDIR"); v != target {
		t.Errorf("TMPDIR = %q, want the login's %q", v, target)
	}
	if _, ok := res.Value("GOPATH"); ok {
		t.Errorf("a process substitution was run")
	}
	n := 0
	for _, u := range res.Unresolved {
		if u.Command == "process substitution (not run)" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("want 2 process substitutions unresolved: %v", res.Unresolved)
	}
	for _, f := range res.Files {
		if strings.Contains(f.Path, "sh-interp") {
			t.Errorf("a FIFO in the chain: %v", f.Path)
		}
	}
	if res.Umask != nil {
		t.Errorf("umask in a subshell changed the login's: %+v", res.Umask)
	}
}

// set -e: a failing test in an && list does not end the shell, in bash or
// here.
func TestErrexit(t *testing.T) {
	h := writeRoot(t, map[string]string{
		"etc/passwd":               "alice:x:1000:1000::/home/alice:/bin/bash\n",
		"home/alice/.bash_profile": "set -euo pipefail\n[ -d /nonexistent ] && PATH=/bad\nif false; then :; fi\nexport GOPATH=/after\nset +e\nfalse\nexport GOFLAGS=-v\n",
	})
	res := simulate(t, h, "GOPATH")
	if v, _ := res.Value("GOPATH"); v != "/after" {
		t.Errorf("GOPATH = %q; problems %v", v, res.Problems)
	}
	if v, _ := res.Value("GOFLAGS"); v != "-v" {
		t.Errorf("GOFLAGS = %q", v)
	}
}

// TestHugeLoginFile: a login file of more than a MiB is read up to its
// first MiB, and the result says so; a sparse 3 GiB one costs no more.
func TestHugeLoginFile(t *testing.T) {
	pad := strings.Repeat("# padding of a login file nobody reads\n", maxShellFile/30)
	h := writeRoot(t, map[string]string{
		"etc/passwd":               "alice:x:1000:1000::/home/alice:/bin/bash\n",
		"home/alice/.bash_profile": "export GOPROXY=first\n. ~/.huge\n" + pad + "export GOFLAGS=-toolexec=/tmp/x\n",
	})
	huge, err := os.Create(filepath.Join(h.Root, "home/alice/.huge"))
	if err != nil {
		t.Fatal(err)
	}
	huge.WriteString("export GOSUMDB=off\n")
	if err := huge.Truncate(3 << 30); err != nil {
		t.Fatal(err)
	}
	huge.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res := simulate(t, h, "GOPROXY")
	runtime.ReadMemStats(&after)
	if v, _ := res.Value("GOPROXY"); v != "first" {
		t.Errorf("GOPROXY = %q, want what the first MiB set", v)
	}
	if v, ok := res.Value("GOFLAGS"); ok {
		t.Errorf("GOFLAGS = %q from beyond the first MiB", v)
	}
	probs := strings.Join(res.Problems, "\n")
	for _, f := range []string{"/home/alice/.bash_profile", "/home/alice/.huge"} {
		if !strings.Contains(probs, "read only the first 1 MiB of "+f) {
			t.Errorf("problems do not say %s was cut: %v", f, res.Problems)
		}
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 256<<20 {
		t.Errorf("simulating a 3 GiB login file allocated %d MiB", got>>20)
	}
}

// TestSubshellFunctionRecursionEnds: f() ( f ) has a body without braces,
// which ran no marker, so nothing counted its calls and the simulation
// never ended (FuzzSimulate found 0()0;0).
func TestSubshellFunctionRecursionEnds(t *testing.T) {
	h := writeRoot(t, map[string]string{
		"etc/passwd":          "alice:x:1000:1000::/home/alice:/bin/bash\n",
		"home/alice/.profile": "f() ( f )\nf\nexport GOPROXY=after\n",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Simulate(ctx, Options{FS: h, User: alice, Login: true, Track: func(n string) bool { return n == "GOPROXY" }})
	if err != nil {
		t.Fatalf("Simulate: %v", err)
	}
	if v, _ := res.Value("GOPROXY"); v != "after" {
		t.Errorf("GOPROXY = %q, want the value set after the runaway functions", v)
	}
}

package rules

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/testutil/integration"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fixtureRoot builds a host filesystem: users with and without login
// shells, a user without a home, a zsh user, three toolchains (one behind a
// symlink, one a Debian package reached through /usr/bin/go, one in ~/sdk),
// a merged /usr, and missing files.
func fixtureRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/bash\n" +
			"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" +
			"postgres:x:101:104::/var/lib/postgresql:/bin/bash\n" +
			"alice:x:1000:1000::/home/alice:/bin/bash\n" +
			"bob:x:1001:1001::/home/bob:/usr/bin/zsh\n" +
			"svc:x:1002:1002::/home/svc:/usr/sbin/nologin\n" +
			"ghost:x:1003:1003::/home/ghost:/bin/bash\n" +
			"nobody:x:65534:65534::/nonexistent:/bin/bash\n",
		"etc/shells":                               "/bin/bash\n/usr/bin/bash\n/usr/bin/zsh\n",
		"etc/login.defs":                           "UID_MIN\t\t\t 1000\nUID_MAX 60000\nENV_PATH\tPATH=/usr/local/bin:/usr/bin:/bin\n",
		"etc/environment":                          "PATH=\"/usr/local/sbin:/usr/local/bin:/usr/bin:/opt/tools/bin\"\n",
		"etc/profile":                              "",
		"etc/profile.d/go.sh":                      "export PATH=$PATH:/usr/local/go/bin\n",
		"usr/local/go1.22.5/bin/go":                "",
		"usr/local/go1.22.5/bin/gofmt":             "",
		"usr/local/go1.22.5/go.env":                "GOPROXY=https://proxy.golang.org,direct\n",
		"usr/lib/go-1.19/bin/go":                   "",
		"home/alice/sdk/go1.23.0/bin/go":           "",
		"home/alice/.config/go/env":                "GOPROXY=direct\n",
		"home/alice/.bashrc":                       "",
		"home/alice/go/bin/hello":                  "",
		"home/bob/.zshrc":                          "",
		"usr/sbin/auditctl":                        "",
		"home/svc/.bashrc":                         "",
		"usr/local/go1.22.5/src/runtime/extern.go": "",
	}
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"root", "usr/bin", "usr/games", "etc/audit/rules.d", "etc/security"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	links := map[string]string{
		"usr/local/go": "go1.22.5",
		"usr/bin/go":   "../lib/go-1.19/bin/go",
		"bin":          "usr/bin",
		"sbin":         "/usr/sbin", // absolute: must resolve inside the root
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestDiscover(t *testing.T) {
	root := fixtureRoot(t)
	host, err := Discover(root, []string{"/srv/not-a-goroot"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range host.Users {
		names = append(names, u.Name)
	}
	if want := []string{"root", "alice", "bob", "ghost"}; !slices.Equal(names, want) {
		t.Errorf("users %q, want %q (no service accounts, no nologin)", names, want)
	}
	var goroots []string
	for _, g := range host.GOROOTs {
		goroots = append(goroots, g.Path+" "+strings.Join(g.Links, ","))
	}
	want := []string{"/home/alice/sdk/go1.23.0 ", "/usr/lib/go-1.19 ", "/usr/local/go1.22.5 /usr/local/go"}
	if !slices.Equal(goroots, want) {
		t.Errorf("GOROOTs %q, want %q", goroots, want)
	}
	wantDirs := []string{"/usr/bin", "/usr/games", "/usr/sbin", "/home/alice/go/bin"}
	if !slices.Equal(host.PathDirs, wantDirs) {
		t.Errorf("PATH dirs %q, want %q (real paths, existing only)", host.PathDirs, wantDirs)
	}
}

func TestGenerateGolden(t *testing.T) {
	root := fixtureRoot(t)
	host, err := Discover(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	plan := Generate(host)
	got := Render(plan.Groups)
	if strings.Contains(got, root) {
		t.Fatalf("a rule names the fixture root %s: paths must be as the host sees them", root)
	}
	golden := filepath.Join("testdata", "fixture.rules")
	if *update {
		os.WriteFile(golden, []byte(got), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("rules differ from %s (go test -update rewrites it):\n%s", golden, got)
	}
	// the file reads back as the plan it renders: what the keeper starts from
	active, watched := parseRulesFile(want)
	if !slices.EqualFunc(active, All(plan.Groups), func(a, b Rule) bool { return a.String() == b.String() }) {
		t.Errorf("%s reads back as %d active rules, want the plan's %d", golden, len(active), len(All(plan.Groups)))
	}
	for _, r := range Pending(plan.Groups) {
		if !watched[r.Watch] {
			t.Errorf("%s reads back without the pending watch of %s", golden, r.Watch)
		}
	}
	var dirs []string
	for _, d := range plan.Dirs {
		dirs = append(dirs, d.Path)
	}
	if want := []string{"/root/.config", "/root/.config/go", "/home/bob/.config", "/home/bob/.config/go"}; !slices.Equal(dirs, want) {
		t.Errorf("dirs to create %q, want %q", dirs, want)
	}
	for _, r := range All(plan.Groups) {
		for _, bad := range []string{"/home/svc", "/var/lib/postgresql", "/home/ghost/", "-w /home/alice -p", "-w /root -p"} {
			if strings.Contains(r.String()+" ", bad) {
				t.Errorf("rule %q watches %s", r, bad)
			}
		}
	}
}

func TestInstallUnderRoot(t *testing.T) {
	integration.Need(t, "root, to give ~/.config to the image's users", integration.Root())
	root := fixtureRoot(t)
	host, _ := Discover(root, nil)
	plan := Generate(host)
	file, err := Install(root, plan)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("rules file %s: %v, mode %v", file, err, fi.Mode())
	}
	if b, _ := os.ReadFile(file); string(b) != Render(plan.Groups) {
		t.Error("rules file differs from the rendering")
	}
	if fi, err := os.Stat(filepath.Join(root, "home/bob/.config/go")); err != nil || !fi.IsDir() {
		t.Errorf("~bob/.config/go not created: %v", err)
	}
	// installing again replaces the file and keeps the directories
	if _, err := Install(root, plan); err != nil {
		t.Fatalf("second install: %v", err)
	}
}

func TestCompare(t *testing.T) {
	exp := []Rule{
		{Watch: "/etc/profile", Perm: "wa", Key: KeyProfile},
		{Arch: "b64", Syscalls: []string{"execve", "execveat"}, Fields: []string{"exe=/usr/local/go/bin/go"}, Key: KeyExec},
	}
	loaded := []string{
		"-a always,exit -F arch=b64 -S execve,execveat -F exe=/usr/local/go/bin/go -F key=gotrail-exec",
		"-w /etc/old -p wa -k gotrail-profile",
		"-w /etc/shadow -p wa -k identity", // not ours
	}
	d := Compare(exp, loaded)
	if !slices.Equal(d.Missing, []string{"-w /etc/profile -p wa -k gotrail-profile"}) || !slices.Equal(d.Extra, []string{"-w /etc/old -p wa -k gotrail-profile"}) {
		t.Errorf("Compare = %+v", d)
	}
	if r := exp[1].DeleteArgs(); r[0] != "-d" || exp[0].DeleteArgs()[0] != "-W" {
		t.Errorf("DeleteArgs: %q %q", r, exp[0].DeleteArgs())
	}
}

func TestParseStatus(t *testing.T) {
	st, err := parseStatus([]byte("enabled 2\nfailure 1\npid 1234\nrate_limit 0\nbacklog_limit 8192\nlost 7\nbacklog 3\nbacklog_wait_time 60000\nloginuid_immutable 0 unlocked\n"))
	if err != nil || st != (Status{Enabled: 2, PID: 1234, Backlog: 3, BacklogLimit: 8192, Lost: 7}) {
		t.Errorf("parseStatus = %+v, %v", st, err)
	}
	if _, err := parseStatus([]byte("garbage")); err == nil {
		t.Error("garbage parsed")
	}
}

func TestParseLoaded(t *testing.T) {
	for _, r := range []Rule{
		{Watch: "/etc/profile", Perm: "wa", Key: KeyProfile},
		{Arch: "b32", Syscalls: []string{"execve", "execveat"}, Fields: []string{"exe=/usr/local/go/bin/go"}, Key: KeyExec},
	} {
		got, ok := ParseLoaded(r.String())
		if !ok || got.String() != r.String() {
			t.Errorf("ParseLoaded(%q) = %+v, %v", r.String(), got, ok)
		}
	}
	for _, line := range []string{"-w /etc/shadow -p wa -k identity", "-a always,exit -F arch=b64 -S adjtimex -F key=time-change", "garbage"} {
		if _, ok := ParseLoaded(line); ok {
			t.Errorf("ParseLoaded(%q) took a rule that is not gotrail's", line)
		}
	}
}

// fakeLoader is a Loader with a set answer.
type fakeLoader struct {
	enabled int
	loadErr error
	loaded  []string
}

func (k *fakeLoader) Status() (Status, error) { return Status{Enabled: k.enabled}, nil }
func (k *fakeLoader) Load(file string) (string, error) {
	k.loaded = append(k.loaded, file)
	return "augenrules --load", k.loadErr
}

// TestApply: immutable rules are refused before anything is written; a
// load that fails says the file was written; an image is written, not
// loaded.
func TestApply(t *testing.T) {
	plan := &Plan{Groups: []Group{{Title: "Login chain", Rules: []Rule{{Watch: "/etc/profile", Perm: "wa", Key: KeyProfile}}}}}
	tests := []struct {
		name    string
		kernel  *fakeLoader
		wantErr string
		written bool
		how     string
	}{
		{"this host", &fakeLoader{enabled: 1}, "", true, "augenrules --load"},
		{"immutable", &fakeLoader{enabled: 2}, "immutable", false, ""},
		{"load fails", &fakeLoader{enabled: 1, loadErr: errors.New("exit status 1")}, "but loading failed: exit status 1", true, ""},
		{"an image", nil, "", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			os.MkdirAll(filepath.Join(root, "etc"), 0o755)
			var k Loader
			if tt.kernel != nil {
				k = tt.kernel
			}
			a, err := Apply(root, plan, k)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Apply: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Apply: %v, want %q", err, tt.wantErr)
			}
			_, serr := os.Stat(filepath.Join(root, RulesFile))
			if (serr == nil) != tt.written {
				t.Errorf("rules file written: %v, want %v", serr == nil, tt.written)
			}
			if a.LoadedWith != tt.how {
				t.Errorf("LoadedWith %q, want %q", a.LoadedWith, tt.how)
			}
		})
	}
}

// TestDiscoverGlobHome: a home of pattern characters over links to "."
// is a name, not a pattern: Discover ends at once.
func TestDiscoverGlobHome(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/l/*/*/*/*/*/*/*/*:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/shells"), []byte("/bin/sh\n"), 0o644)
	os.MkdirAll(filepath.Join(root, "l/sdk/go1/bin"), 0o755)
	os.WriteFile(filepath.Join(root, "l/sdk/go1/bin/go"), nil, 0o755)
	for _, c := range "abcdefghij" {
		os.Symlink(".", filepath.Join(root, "l", string(c)))
	}
	done := make(chan error, 1)
	go func() { _, err := Discover(root, nil); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Discover expanded the home as a pattern")
	}
}

func TestParseRule(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   bool
	}{
		{"-w /home/bob/.config/go/env -p wa -k gotrail-goenv", true},
		{"-a always,exit -F arch=b64 -S execve,execveat -F path=/usr/local/go/bin/go -F key=gotrail-exec", true},
		{"-a always,exit -F arch=b64 -S setxattr -F key=gotrail-audit", true},
		{"-w /etc/profile -p wa", false},                     // no key
		{"-w  /etc/profile -p wa -k gotrail-profile", false}, // not as rendered
		{"-W /etc/profile -p wa -k gotrail-profile", false},  // a deletion
		{"-a never,task -F arch=b64 -S execve -F key=x", false},
		{"-a always,exit -F arch=b64 -S execve -F path=/x -F uid=0", false}, // no key last
		{"-a always,exit -F b64 -S execve -F path=/x -F key=k", false},
		{"-a always,exit -F arch=b64 -S execve -F path=/x -k key", false},
		{"## gotrail: audit rules", false},
		{"", false},
	} {
		r, ok := ParseRule(tc.line)
		if ok != tc.ok || (ok && r.String() != tc.line) {
			t.Errorf("ParseRule(%q) = %q, %v; want ok %v", tc.line, r, ok, tc.ok)
		}
	}
}

// FuzzParseRule: no line panics it, and what it takes renders back as the
// line and parses again as the same rule.
func FuzzParseRule(f *testing.F) {
	data, _ := os.ReadFile(filepath.Join("testdata", "fixture.rules"))
	for _, line := range strings.Split(string(data), "\n") {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, ok := ParseRule(line)
		if !ok {
			return
		}
		if r.String() != line {
			t.Fatalf("ParseRule(%q) took %q", line, r)
		}
		if again, ok := ParseRule(r.String()); !ok || again.String() != line {
			t.Fatalf("%q does not parse again: %q %v", line, again, ok)
		}
	})
}

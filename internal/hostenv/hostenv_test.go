package hostenv

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/dirhash"

	"github.com/gotrail/gotrail/internal/hostfs"
	"github.com/gotrail/gotrail/internal/shellchain"
)

func writeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if filepath.Base(filepath.Dir(name)) == "bin" {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

var base = map[string]string{
	"etc/passwd":                "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n",
	"etc/group":                 "root:x:0:\nalice:x:1000:\n",
	"etc/login.defs":            "ENV_PATH PATH=/usr/local/go/bin:/usr/bin\n",
	"usr/local/go/bin/go":       "#!/bin/sh\n",
	"usr/local/go/pkg/tool/.k":  "",
	"usr/local/go/go.env":       "# defaults\nGOPROXY=https://proxy.golang.org,direct\nGOSUMDB=sum.golang.org\nGOTOOLCHAIN=auto\n",
	"home/alice/.config/go/env": "GOPRIVATE=corp.example.com\nGOFLAGS=-v\nGOFLAGS=-mod=readonly\n",
	"home/alice/.profile":       "export GOPROXY=https://goproxy.example.com\nGOSUMDB=off\n",
	"usr/bin/.keep":             "",
}

// The go command's order: environment, Go env file, $GOROOT/go.env, default.
func TestGoEnvProvenance(t *testing.T) {
	root := writeRoot(t, base)
	h := hostfs.New(root)
	u, err := shellchain.LookupUser(h, "alice")
	if err != nil {
		t.Fatal(err)
	}
	res, err := shellchain.Simulate(context.Background(), shellchain.Options{FS: h, User: u, Login: true, Track: Tracked})
	if err != nil {
		t.Fatal(err)
	}
	env, bin := GoEnv(h, res)
	if bin == nil || bin.Path != "/usr/local/go/bin/go" || bin.GOROOT != "/usr/local/go" {
		t.Fatalf("go binary: %+v", bin)
	}
	tests := []struct {
		name, value string
		src         Source
	}{
		{"GOPROXY", "https://goproxy.example.com", Source{"login", "/home/alice/.profile", 1}},
		// set but not exported: the go command does not see it
		{"GOSUMDB", "sum.golang.org", Source{"go.env", "/usr/local/go/go.env", 3}},
		{"GOFLAGS", "-mod=readonly", Source{"goenv", "/home/alice/.config/go/env", 3}},
		{"GOPRIVATE", "corp.example.com", Source{"goenv", "/home/alice/.config/go/env", 1}},
		{"GOTOOLCHAIN", "auto", Source{"go.env", "/usr/local/go/go.env", 4}},
		{"GOROOT", "/usr/local/go", Source{"binary", "/usr/local/go/bin/go", 0}},
		{"GOPATH", "/home/alice/go", Source{Kind: "default"}},
		{"GOMODCACHE", "/home/alice/go/pkg/mod", Source{Kind: "default"}},
		{"GOENV", "/home/alice/.config/go/env", Source{Kind: "default"}},
	}
	for _, tt := range tests {
		if got := env[tt.name]; got.Value != tt.value || got.Source != tt.src {
			t.Errorf("%s = %+v, want %q from %+v", tt.name, got, tt.value, tt.src)
		}
	}
}

func TestDigestIsDirhash(t *testing.T) {
	root := writeRoot(t, map[string]string{"g/bin/go": "x", "g/src/a.go": "package a", "g/VERSION": "go1.2"})
	got, n, err := Digest(context.Background(), hostfs.New(root), "/g")
	if err != nil {
		t.Fatal(err)
	}
	want, err := dirhash.HashDir(filepath.Join(root, "g"), "", dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}
	if got != want || n != 3 {
		t.Fatalf("digest %s (%d files), dirhash %s", got, n, want)
	}
}

func TestSnapshotDiff(t *testing.T) {
	root := writeRoot(t, base)
	state := t.TempDir()
	take := func() *Snapshot { return takeSnapshot(t, root) }
	a := take()
	if _, err := Save(state, a); err != nil {
		t.Fatal(err)
	}
	if d := Diff(a, take()); len(d) != 0 {
		t.Fatalf("nothing changed, diff says %+v", d)
	}
	os.WriteFile(filepath.Join(root, "home/alice/.config/go/env"), []byte("GOSUMDB=off\n"), 0o644)
	os.WriteFile(filepath.Join(root, "usr/local/go/VERSION"), []byte("go1.99\n"), 0o644)
	b := take()
	if _, err := Save(state, b); err != nil {
		t.Fatal(err)
	}
	var items []string
	for _, c := range Diff(a, b) {
		items = append(items, c.Item)
	}
	for _, want := range []string{"user alice env GOSUMDB", "user alice env GOPRIVATE", "toolchain /usr/local/go/bin/go digest"} {
		if !slices.Contains(items, want) {
			t.Errorf("diff lacks %q: %v", want, items)
		}
	}
	saved, _ := Saved(state)
	if len(saved) != 2 {
		t.Fatalf("saved: %v", saved)
	}
	back, err := Read(saved[0])
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(a, back); len(d) != 0 {
		t.Fatalf("a saved snapshot reads back different: %+v", d)
	}
	if n, err := Prune(state, 1, time.Now().Add(48*time.Hour)); err != nil || n != 2 {
		t.Fatalf("prune: %d %v", n, err)
	}
}

func TestReadGoBinaryVersion(t *testing.T) {
	goroot := os.Getenv("GOROOT")
	if goroot == "" {
		goroot = "/usr/local/go"
	}
	b := ReadGoBinary(hostfs.New("/"), filepath.Join(goroot, "bin", "go"))
	if b.Version == "" || b.GOROOT == "" {
		t.Fatalf("the real go binary: %+v", b)
	}
}

// An exported empty variable is not set for the go command (cfg.Getenv):
// the Go env file and go.env still apply. Checked against real go env.
func TestGoEnvEmptyIsUnset(t *testing.T) {
	files := map[string]string{}
	for k, v := range base {
		files[k] = v
	}
	files["home/alice/.profile"] = "export GOPROXY= GOENV= GOROOT= GOTOOLCHAIN=\n"
	files["home/alice/.config/go/env"] = "GOSUMDB=off\n"
	h := hostfs.New(writeRoot(t, files))
	u, _ := shellchain.LookupUser(h, "alice")
	res, err := shellchain.Simulate(context.Background(), shellchain.Options{FS: h, User: u, Login: true, Track: Tracked})
	if err != nil {
		t.Fatal(err)
	}
	env, _ := GoEnv(h, res)
	for name, want := range map[string]string{"GOPROXY": "https://proxy.golang.org,direct", "GOSUMDB": "off", "GOROOT": "/usr/local/go", "GOTOOLCHAIN": "auto"} {
		if env[name].Value != want {
			t.Errorf("%s = %+v, want %q", name, env[name], want)
		}
	}
}

// With no go.env (Go before 1.21, or a trimmed one) GOTOOLCHAIN is set
// nowhere and the go command never switches toolchains.
func TestGoEnvNoGoEnvFile(t *testing.T) {
	files := map[string]string{}
	for k, v := range base {
		if k != "usr/local/go/go.env" {
			files[k] = v
		}
	}
	h := hostfs.New(writeRoot(t, files))
	u, _ := shellchain.LookupUser(h, "alice")
	res, _ := shellchain.Simulate(context.Background(), shellchain.Options{FS: h, User: u, Login: true, Track: Tracked})
	env, _ := GoEnv(h, res)
	if v := env["GOTOOLCHAIN"]; v.Value != "" || v.Source.Kind != "default" {
		t.Errorf("GOTOOLCHAIN = %+v", v)
	}
}

// TestSnapshotShadowedGoEnv: a value of the Go env file that a login file
// shadows changes nothing the login sees, but the snapshot keeps it and the
// diff names the file and the value; a Go env file appearing and going
// shows too.
func TestSnapshotShadowedGoEnv(t *testing.T) {
	files := maps.Clone(base)
	files["home/alice/.config/go/env"] = "GOPROXY=https://proxy.corp.example.com\nGOFLAGS=-mod=mod\n"
	files["etc/passwd"] += "bob:x:1001:1001::/home/bob:/bin/bash\n"
	files["home/bob/.profile"] = ""
	root := writeRoot(t, files)
	take := func() *Snapshot { return takeSnapshot(t, root) }
	a := take()
	var alice UserEnv
	for _, u := range a.Users {
		if u.Name == "alice" {
			alice = u
		}
	}
	if len(alice.GoEnvFiles) != 2 {
		t.Fatalf("alice's Go env files: %+v", alice.GoEnvFiles)
	}
	f := alice.GoEnvFiles[0]
	if f.Path != "/home/alice/.config/go/env" || !f.Exists || f.SHA256 == "" || len(f.Values) != 2 {
		t.Fatalf("alice's GOENV file: %+v", f)
	}
	proxy, flags := f.Values[0], f.Values[1]
	if proxy.Name != "GOPROXY" || *proxy.InEffect || proxy.ShadowedBy == nil || proxy.ShadowedBy.String() != "/home/alice/.profile:1" {
		t.Errorf("GOPROXY of the Go env file, shadowed by .profile: %+v", proxy)
	}
	if flags.Name != "GOFLAGS" || !*flags.InEffect || flags.ShadowedBy != nil {
		t.Errorf("GOFLAGS of the Go env file, in effect: %+v", flags)
	}

	os.WriteFile(filepath.Join(root, "home/alice/.config/go/env"), []byte("GOPROXY=direct\nGOFLAGS=-mod=mod\n"), 0o644)
	os.MkdirAll(filepath.Join(root, "home/bob/.config/go"), 0o755)
	os.WriteFile(filepath.Join(root, "home/bob/.config/go/env"), []byte("GOSUMDB=off\n"), 0o644)
	b := take()
	got := map[string]Change{}
	for _, c := range Diff(a, b) {
		got[c.Item] = c
	}
	if _, ok := got["user alice env GOPROXY"]; ok {
		t.Errorf("the login's GOPROXY did not change, the diff says it did: %+v", got)
	}
	c, ok := got["user alice goenv /home/alice/.config/go/env GOPROXY"]
	if !ok || *c.Before != "https://proxy.corp.example.com (shadowed by /home/alice/.profile:1)" || *c.After != "direct (shadowed by /home/alice/.profile:1)" {
		t.Errorf("the shadowed GOPROXY change: %+v (diff %v)", c, slices.Collect(maps.Keys(got)))
	}
	if c, ok := got["user bob goenv /home/bob/.config/go/env"]; !ok || *c.Before != "missing" || c.After == nil {
		t.Errorf("bob's Go env file appearing: %+v", c)
	}
	if c, ok := got["user bob goenv /home/bob/.config/go/env GOSUMDB"]; !ok || c.Before != nil || *c.After != "off (in effect)" {
		t.Errorf("bob's new GOSUMDB: %+v", c)
	}
	if c, ok := got["toolchain /usr/local/go/bin/go go.env GOSUMDB"]; ok {
		t.Errorf("go.env did not change: %+v", c)
	}
}

// takeSnapshot loads the host under root and takes its snapshot now.
func takeSnapshot(t *testing.T, root string) *Snapshot {
	t.Helper()
	host, err := Load(context.Background(), root, "fixture", nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Take(context.Background(), host, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

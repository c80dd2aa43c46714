package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gotrail/gotrail/internal/rules"
	"github.com/gotrail/gotrail/internal/testutil/auditdtest"
)

// TestRulesRecordCost measures how many audit records a `go build` of a
// small module and a login produce under the generated rules, and fails if
// the rules turn noisy (they must never watch all execs or whole homes).
// The README quotes the numbers this test logs.
func TestRulesRecordCost(t *testing.T) {
	auditdtest.Required(t)
	goBin := goBinary(t)
	const user, uid = "gotrailcost", 4301
	home := addLoginUser(t, user, uid)
	mod := filepath.Join(home, "hello")
	os.MkdirAll(mod, 0o755)
	os.WriteFile(mod+"/go.mod", []byte("module hello\n\ngo 1.21\n"), 0o644)
	os.WriteFile(mod+"/main.go", []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n"), 0o644)
	exec.Command("chown", "-R", user+":"+user, home).Run()

	a := auditdtest.Start(t)
	host, err := rules.Discover("/", nil)
	if err != nil {
		t.Fatal(err)
	}
	plan := rules.Generate(host)
	for _, r := range rules.All(plan.Groups) {
		if strings.Contains(r.String(), "/.config/go/env") {
			if _, err := os.Stat(filepath.Dir(r.Watch)); err != nil {
				continue // created only by --install
			}
		}
		a.AddRule(t, r.Args()...)
	}
	self := auditdtest.Login{AUID: uid, UID: uid, GID: uid}
	count := func(what string, cmd *exec.Cmd) int {
		t.Helper()
		a.Sync(t)
		before := bytes.Count(a.Snapshot(), []byte("\n"))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := auditdtest.StartAs(self, cmd); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, out.String())
		}
		a.Sync(t)
		// minus the sync marker's own record
		n := bytes.Count(a.Snapshot(), []byte("\n")) - before - 1
		t.Logf("%s: %d audit records", what, n)
		return n
	}
	// warm the build cache first: the steady state is what a host sees
	env := []string{"HOME=" + home, "PATH=/usr/bin:/bin", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "GOPROXY=off"}
	warm := exec.Command(goBin, "build", "-o", "/dev/null", ".")
	warm.Dir, warm.Env = mod, env
	count("go build (cold cache)", warm)
	build := exec.Command(goBin, "build", "-o", "/dev/null", ".")
	build.Dir, build.Env = mod, env
	if n := count("go build (warm cache)", build); n > 200 {
		t.Errorf("a go build produced %d records: the rules are noisy", n)
	}
	login := exec.Command("/bin/bash", "-l", "-c", "true")
	login.Dir, login.Env = home, []string{"HOME=" + home, "USER=" + user}
	if n := count("bash login shell", login); n > 50 {
		t.Errorf("a login produced %d records: the rules are noisy", n)
	}
}

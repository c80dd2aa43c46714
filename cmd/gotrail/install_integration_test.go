package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/trail"

	"github.com/gotrail/gotrail/internal/testutil/integration"
)

// realToolchain is the release the integration test installs for real: a
// small one (64 MB as a module zip, the smallest of 1.21 to 1.25).
const realToolchain = "1.25.0"

// goEnv is `go env NAME` of the go running the tests.
func goEnv(t *testing.T, name string) string {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// installEvents reads the toolchain.install events of a trail.
func installEvents(t *testing.T, state string) []event.Event {
	var out []event.Event
	err := trail.Read(state, func(line []byte) error {
		var e event.Event
		if err := json.Unmarshal(line, &e); err != nil {
			return err
		}
		if e.Gotrail.Kind == event.KindInstall {
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func listNames(t *testing.T, dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestInstallRealToolchain installs a real toolchain from the real module
// proxy, proved by the real checksum database; checks its files with
// verify --toolchain, before and after one is changed; then has a local
// proxy serve a forged toolchain while the checksum database stays the real
// one (reached through the real proxy): refused, nothing left, the
// installed toolchain untouched, the failure in the trail.
func TestInstallRealToolchain(t *testing.T) {
	integration.Require(t, "the real module proxy and checksum database (a toolchain download)", nil)
	bin := buildGotrail(t)
	goproxy, gosumdb := goEnv(t, "GOPROXY"), goEnv(t, "GOSUMDB")
	work := t.TempDir()
	// a prefix that does not exist yet, two levels deep: made as mkdir -p
	prefix, state := filepath.Join(work, "opt", "prefix"), filepath.Join(work, "state")
	empty := filepath.Join(work, "empty.toml")
	os.WriteFile(empty, nil, 0o600)
	run := func(env []string, args ...string) (string, string, int) {
		cmd := exec.Command(bin, append([]string{"--config", empty, "--state-dir", state}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String(), code
	}
	env := []string{"GOPROXY=" + goproxy, "GOSUMDB=" + gosumdb}

	start := time.Now()
	out, errOut, code := run(env, "install", realToolchain, "--prefix", prefix)
	if code != 0 {
		t.Fatalf("install: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("real install of go%s through %s in %s:\n%s", realToolchain, goproxy, time.Since(start).Round(time.Millisecond), out)
	if !strings.Contains(out, "created: "+filepath.Dir(prefix)+" (mode 0755") || !strings.Contains(out, "created: "+prefix+" (mode 0755") {
		t.Errorf("install did not say it made the prefix:\n%s", out)
	}
	if fi, err := os.Stat(prefix); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("prefix %s: %v %v", prefix, fi, err)
	}
	goBin := filepath.Join(prefix, "go", "bin", "go")
	v, err := exec.Command(goBin, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(v), "go version go"+realToolchain+" ") {
		t.Fatalf("%s version: %s %v", goBin, v, err)
	}
	evs := installEvents(t, state)
	if len(evs) != 1 || evs[0].Event.Outcome != "success" || evs[0].Gotrail.Toolchain == nil || evs[0].Gotrail.Toolchain.SumDB == nil ||
		!strings.HasPrefix(evs[0].Gotrail.Toolchain.SumDB.TreeHead, "go.sum database tree\n") || !strings.Contains(evs[0].Message, "(verified by sum.golang.org)") {
		t.Fatalf("events: %+v", evs)
	}

	out, errOut, code = run(nil, "verify", "--toolchain", "--prefix", prefix)
	if code != 0 || !strings.HasPrefix(out, "toolchain ok: ") {
		t.Fatalf("verify --toolchain: exit %d\n%s%s", code, out, errOut)
	}
	changed := filepath.Join(prefix, "go"+realToolchain, "src", "fmt", "print.go")
	f, err := os.OpenFile(changed, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\n// changed\n")
	f.Close()
	out, errOut, code = run(nil, "verify", "--toolchain", filepath.Join(prefix, "go"))
	if code != 1 || out != "changed: "+changed+" (content)\n" || !strings.Contains(errOut, "0 added, 1 changed, 0 removed") {
		t.Fatalf("verify --toolchain after a change: exit %d\n%s%s", code, out, errOut)
	}

	// a local proxy with a forged toolchain for a real release; the real
	// proxy after it serves the checksum database (this one answers 404
	// for /sumdb/…/supported)
	const forgedVersion = "1.24.0"
	mv := "v0.0.1-go" + forgedVersion + ".linux-amd64"
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	w, _ := zw.Create("golang.org/toolchain@" + mv + "/bin/go")
	w.Write([]byte("#!/bin/sh\necho pwned\n"))
	zw.Close()
	served := 0
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/golang.org/toolchain/@v/"+mv+".zip" {
			served++
			w.Write(zbuf.Bytes())
			return
		}
		http.NotFound(w, r)
	}))
	defer local.Close()
	before := listNames(t, prefix)
	out, errOut, code = run([]string{"GOPROXY=" + local.URL + "," + goproxy, "GOSUMDB=" + gosumdb}, "install", forgedVersion, "--prefix", prefix)
	if code != 1 || !strings.Contains(errOut, "does not match the checksum database sum.golang.org") || served != 1 {
		t.Fatalf("forged toolchain: exit %d, served %d\n%s%s", code, served, out, errOut)
	}
	t.Logf("forged toolchain refused: %s", strings.TrimSpace(errOut))
	if after := listNames(t, prefix); !slices.Equal(before, after) {
		t.Fatalf("the prefix changed: %v -> %v", before, after)
	}
	if dst, _ := os.Readlink(filepath.Join(prefix, "go")); dst != "go"+realToolchain {
		t.Fatalf("PREFIX/go -> %s", dst)
	}
	if v, err := exec.Command(goBin, "version").CombinedOutput(); err != nil || !strings.Contains(string(v), realToolchain) {
		t.Fatalf("after the refusal: %s %v", v, err)
	}
	evs = installEvents(t, state)
	last := evs[len(evs)-1]
	if len(evs) != 2 || last.Event.Outcome != "failure" || last.Gotrail.Severity != "high" ||
		!strings.Contains(last.Gotrail.Toolchain.Error, "does not match the checksum database") || last.Gotrail.Toolchain.SumDB == nil {
		t.Fatalf("failure event: %+v", last)
	}
	if rep, err := trail.Verify(state, trail.VerifyOptions{}); err != nil || rep.Problem != nil || rep.Records != 2 {
		t.Fatalf("trail: %+v %v", rep, err)
	}
}

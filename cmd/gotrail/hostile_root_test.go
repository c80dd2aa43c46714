package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// imageFiles are the files the commands that take --root read from an
// image: identity, login chain, Go env files, toolchain, audit rules.
var imageFiles = []string{
	"etc/hostname", "etc/group", "etc/shells", "etc/login.defs", "etc/environment",
	"etc/security/pam_env.conf", "etc/profile", "etc/profile.d/go.sh", "etc/bash.bashrc",
	"root/.profile", "root/.bashrc", "home/alice/.profile", "home/alice/.bashrc",
	"home/alice/.bash_profile", "home/alice/.pam_environment", "home/alice/.config/go/env",
	"usr/local/go/go.env", "usr/local/go/VERSION", "usr/local/go/bin/go", "usr/local/go/bin/gofmt",
}

// secretText parses as every format the commands read, so that a leak of
// it shows whichever reader let it through.
const secretText = "HOSTSECRET:x:0:0:HOSTSECRET:/root:/bin/bash\nGOPROXY=https://HOSTSECRET.example\nexport GOFLAGS=-HOSTSECRET\nUID_MIN 0\n"

// runRootCommands runs every command that reads --root over img and
// returns all they printed and every error, each within a time limit.
func runRootCommands(t *testing.T, img string) string {
	t.Helper()
	state := t.TempDir()
	corpus, _ := filepath.Abs("../../internal/audit/testdata/host-activity.log")
	cfg := filepath.Join(t.TempDir(), "gotrail.toml")
	os.WriteFile(cfg, nil, 0o600)
	var all strings.Builder
	for _, args := range [][]string{
		{"events", "--format", "json", corpus},
		{"events", "--format", "text", corpus},
		{"check", "--format", "json", "--fail-on", "none"},
		{"check", "--format", "text", "--fail-on", "none"},
		{"explain", "GOPROXY", "--user", "alice", "--format", "json"},
		{"explain", "GOFLAGS", "--user", "root"},
		{"snapshot"},
		{"snapshot", "--save"},
		{"diff", "--format", "text"},
		{"rules"},
		{"rules", "--check"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var out bytes.Buffer
		root := newRootCmd()
		root.SetArgs(append([]string{"--root", img, "--config", cfg, "--state-dir", state}, args...))
		root.SetOut(&out)
		root.SetErr(&out)
		done := make(chan error, 1)
		go func() { done <- root.ExecuteContext(ctx) }()
		select {
		case err := <-done:
			if err != nil {
				out.WriteString("\nerror: " + err.Error())
			}
		case <-time.After(40 * time.Second):
			t.Fatalf("gotrail %s --root %s did not end", strings.Join(args, " "), img)
		}
		cancel()
		all.WriteString("$ gotrail " + strings.Join(args, " ") + "\n" + out.String() + "\n")
	}
	return all.String()
}

// TestRootNeverReachesHost: an image whose every file is a link to a file
// of this machine (by absolute name, and by a relative one climbing out)
// gets none of that file's bytes into any command's output.
func TestRootNeverReachesHost(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(secretText), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, how := range []string{"absolute", "climbing"} {
		for _, passwd := range []string{"real", "link"} {
			t.Run(how+"/passwd-"+passwd, func(t *testing.T) {
				img := t.TempDir()
				files := append([]string{"etc/passwd"}, imageFiles...)
				if passwd == "real" {
					os.MkdirAll(filepath.Join(img, "etc"), 0o755)
					os.WriteFile(filepath.Join(img, "etc/passwd"), []byte("root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n"), 0o644)
					files = files[1:]
				}
				for _, f := range files {
					p := filepath.Join(img, f)
					os.MkdirAll(filepath.Dir(p), 0o755)
					target := secret
					if how == "climbing" {
						target = strings.Repeat("../", strings.Count(f, "/")+8) + strings.TrimPrefix(secret, "/")
					}
					if err := os.Symlink(target, p); err != nil {
						t.Fatal(err)
					}
				}
				out := runRootCommands(t, img)
				if strings.Contains(out, "HOSTSECRET") {
					i := strings.Index(out, "HOSTSECRET")
					t.Errorf("a host file's bytes reached the output:\n...%s...", out[max(0, i-600):min(len(out), i+200)])
				}
			})
		}
	}
}

// TestRootFIFOsAndDevices: FIFOs and devices where an image has files make
// no command hang or read for ever; what could not be read is named.
func TestRootFIFOsAndDevices(t *testing.T) {
	img := t.TempDir()
	os.MkdirAll(filepath.Join(img, "etc"), 0o755)
	os.WriteFile(filepath.Join(img, "etc/passwd"), []byte("root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n"), 0o644)
	os.MkdirAll(filepath.Join(img, "dev"), 0o755)
	for i, f := range imageFiles {
		p := filepath.Join(img, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if i%3 == 2 {
			// a device node needs root; a link to the machine's /dev/zero
			// is what an image can hold without it, and hostfs keeps it in
			// the image: the image's dev/zero is a FIFO too
			if err := os.Symlink("/dev/zero", p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(img, "dev/zero"), 0o666); err != nil {
		t.Fatal(err)
	}
	out := runRootCommands(t, img)
	for _, want := range []string{
		"/etc/profile: not a regular file (a FIFO)",               // check, explain, snapshot
		"/home/alice/.config/go/env: not a regular file (a FIFO)", // snapshot's Go env files
		"/usr/local/go/go.env: not a regular file (a FIFO)",
		`"error": "not a regular file"`, // the go binary
	} {
		if !strings.Contains(out, want) {
			t.Errorf("nothing says %q:\n%s", want, out)
		}
	}
}

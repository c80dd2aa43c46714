package enrich

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// procRoot is a /proc under a temporary root: booted at 1,000,000 s, with
// process 77 started 500 ticks (5 s) after boot, running exe.
func procRoot(t *testing.T, exe string) string {
	t.Helper()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "proc/77"), 0o755)
	os.WriteFile(filepath.Join(root, "proc/stat"), []byte("cpu  1 2 3 4\nintr 5\nbtime 1000000\nprocesses 9\n"), 0o644)
	os.WriteFile(filepath.Join(root, "proc/77/stat"), []byte("77 (a) b) c) S 1 77 77 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 500 1000000 100"), 0o644)
	os.WriteFile(filepath.Join(root, "proc/77/environ"), []byte("GOFLAGS=-toolexec=/tmp/evil\x00"), 0o644)
	os.Symlink(exe, filepath.Join(root, "proc/77/exe"))
	return root
}

func TestIdentify(t *testing.T) {
	started := time.Unix(1_000_005, 0)
	tests := []struct {
		name    string
		exe     string // what /proc/77/exe names
		want    string // the exe the event recorded
		execAt  time.Time
		wantErr string // "" for the same process
	}{
		{"the process that ran", "/usr/local/go/bin/go", "/usr/local/go/bin/go", started.Add(time.Second), ""},
		{"exec at the tick it started", "/usr/local/go/bin/go", "/usr/local/go/bin/go", started, ""},
		{"a pid reused a day later", "/usr/local/go/bin/go", "/usr/local/go/bin/go", started.Add(-24 * time.Hour), "started 24h0m0s after the exec"},
		{"another program on the pid", "/usr/bin/sleep", "/usr/local/go/bin/go", started.Add(time.Second), "runs /usr/bin/sleep now"},
		{"a wrapper script that exec'd the real go", "/usr/local/go/bin/go", "/usr/bin/dash", started.Add(time.Second), ""},
		{"go switched toolchains", "/root/go/pkg/mod/golang.org/toolchain@v0.0.1-go1.26.0.linux-amd64/bin/go", "/usr/local/go/bin/go", started.Add(time.Second), ""},
		{"its binary deleted since", "/usr/local/go/bin/go (deleted)", "/usr/local/go/bin/go", started.Add(time.Second), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Proc{Root: procRoot(t, tt.exe)}
			err := p.Identify(77, tt.want, tt.execAt)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Identify: %v, want the same process", err)
			case tt.wantErr != "" && (!errors.Is(err, ErrGone) || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Identify: %v, want ErrGone saying %q", err, tt.wantErr)
			}
		})
	}
	if err := (Proc{Root: t.TempDir()}).Identify(77, "", time.Now()); !errors.Is(err, ErrGone) {
		t.Errorf("a pid with no /proc entry: %v", err)
	}
}

// TestIdentifyThisProcess: the running test binary is itself, started
// before now.
func TestIdentifyThisProcess(t *testing.T) {
	exe, _ := os.Executable()
	if err := (Proc{}).Identify(os.Getpid(), exe, time.Now()); err != nil {
		t.Errorf("Identify(self): %v", err)
	}
	if err := (Proc{}).Identify(os.Getpid(), exe, time.Now().Add(-time.Hour)); err == nil {
		t.Error("Identify(self) an hour before it started: no error")
	}
}

// TestGoEnvRedacts: a proxy's credentials in a go process's environment
// never leave GoEnv.
func TestGoEnvRedacts(t *testing.T) {
	root := procRoot(t, "/usr/local/go/bin/go")
	os.WriteFile(filepath.Join(root, "proc/77/environ"), []byte("GOPROXY=https://bob:hunter2@goproxy.corp\x00"), 0o644)
	env, err := Proc{Root: root}.GoEnv(77)
	if err != nil || env["GOPROXY"] != "https://xxxxx@goproxy.corp" || strings.Contains(fmt.Sprint(env), "hunter2") {
		t.Errorf("GoEnv = %v, %v", env, err)
	}
}

// TestRedactProxyURLs: in a Go variable, whatever lies between :// and the
// last @ of a URL is hidden, tokens with /, , and spaces included.
func TestRedactProxyURLs(t *testing.T) {
	for in, want := range map[string]string{
		"https://proxy.golang.org,direct":                   "https://proxy.golang.org,direct",
		"https://tok:ab/cd@proxy.example":                   "https://xxxxx@proxy.example",
		"https://u:123/abc@proxy.example,direct":            "https://xxxxx@proxy.example,direct",
		"https://u:p#s/x@proxy.example":                     "https://xxxxx@proxy.example",
		"https://u:p,ss@proxy.example":                      "https://xxxxx@proxy.example",
		"https://u:p ss@proxy.example":                      "https://xxxxx@proxy.example",
		"https://a:b@one.example|https://c@two.example,off": "https://xxxxx@one.example|https://xxxxx@two.example,off",
		"sum.golang.org+033de0ae https://u:p@sumdb.corp":    "sum.golang.org+033de0ae https://xxxxx@sumdb.corp",
		"socks5://u:p@[::1]:1080":                           "socks5://xxxxx@[::1]:1080",
		"user@example.com":                                  "user@example.com",
	} {
		if got := RedactProxyURLs(in); got != want {
			t.Errorf("RedactProxyURLs(%q) = %q, want %q", in, got, want)
		}
	}
}

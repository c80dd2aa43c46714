package enrich

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGoEnvOfARealProcess(t *testing.T) {
	cmd := exec.Command("sleep", "5")
	cmd.Env = []string{"GOPROXY=http://proxy.corp", "GOFLAGS=-mod=mod", "CGO_ENABLED=0", "PATH=/usr/bin",
		"GOAUTH=netrc", "GITHUB_TOKEN=ghp_x", "HOME=/root", "LD_PRELOAD=/tmp/x.so", "GOPRIVATE_KEY=k"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// until execve has returned in the child, /proc shows the forked copy
	// or nothing: wait for that, as audit does (its SYSCALL record is
	// written when execve returns)
	for deadline := time.Now().Add(5 * time.Second); ; {
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid))
		environ, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", cmd.Process.Pid))
		if strings.HasSuffix(exe, "/sleep") && len(environ) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the child never became sleep")
		}
		time.Sleep(time.Millisecond)
	}
	env, err := Proc{}.GoEnv(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"GOPROXY": "http://proxy.corp", "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0", "PATH": "/usr/bin", "LD_PRELOAD": "/tmp/x.so"}
	if len(env) != len(want) {
		t.Errorf("env = %v, want %v", env, want)
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if _, err := (Proc{}).GoEnv(cmd.Process.Pid); !errors.Is(err, ErrGone) {
		t.Errorf("exited process: %v, want ErrGone", err)
	}
}

func TestGoEnvUnderRoot(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "proc/42"), 0o755)
	os.WriteFile(filepath.Join(root, "proc/42/environ"), []byte("GOSUMDB=off\x00TERM=xterm\x00"), 0o644)
	env, err := Proc{Root: root}.GoEnv(42)
	if err != nil || env["GOSUMDB"] != "off" || len(env) != 1 {
		t.Errorf("GoEnv = %v, %v", env, err)
	}
}

func TestContainerID(t *testing.T) {
	id := "4f6ce3b3b8a5b2e1c5f5a8d1e3c7b9a2d4e6f8a0b1c3d5e7f9a1b3c5d7e9f1a3"
	for cg, want := range map[string]string{
		"0::/system.slice/docker-" + id + ".scope\n":                             id,
		"12:pids:/docker/" + id + "\n":                                           id,
		"0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-" + id + ".scope": id,
		"0::/machine.slice/libpod-" + id + ".scope/container":                    id,
		"0::/user.slice/user-1000.slice/session-3.scope\n":                       "",
		"0::/init.scope\n": "",
	} {
		if got := containerID(cg); got != want {
			t.Errorf("containerID(%q) = %q, want %q", cg, got, want)
		}
	}
	if n := (Proc{}).Name(os.Getpid()); n == "" {
		t.Error("Name of this process is empty")
	}
}

// TestGoEnvOfAZombie: a process that exited before its environment was
// read (not yet reaped: its environ reads empty) is gone, not a process
// with an empty environment.
func TestGoEnvOfAZombie(t *testing.T) {
	cmd := exec.Command("true")
	cmd.Env = []string{"GOPROXY=http://proxy.corp"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	p := Proc{}
	for deadline := time.Now().Add(5 * time.Second); !p.exited(cmd.Process.Pid); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("true did not exit")
		}
	}
	if env, err := p.GoEnv(cmd.Process.Pid); !errors.Is(err, ErrGone) {
		t.Errorf("GoEnv of a zombie = %v, %v; want ErrGone", env, err)
	}
	// a live process whose environ reads empty says so
	live := exec.Command("sleep", "5")
	live.Env = []string{}
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { live.Process.Kill(); live.Wait() }()
	if env, err := p.GoEnv(live.Process.Pid); !errors.Is(err, ErrEmptyEnv) {
		t.Errorf("GoEnv of a live process without environment = %v, %v; want ErrEmptyEnv", env, err)
	}
}

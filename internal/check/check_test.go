package check

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/gotrail/gotrail/internal/hostenv"
	"github.com/gotrail/gotrail/internal/rules"
	"github.com/gotrail/gotrail/internal/testutil/integration"
)

// materialize writes testdata/roots/clean.txtar and then the named overlay
// into a new root, and applies the "_modes" sections (path mode [uid]):
// git keeps no modes or owners, and they are what many findings are about.
// The fixtures' files belong to root and their users, as on a host, so
// materialize needs root (integration.Need).
func materialize(t testing.TB, overlay string) (root string, want []string) {
	t.Helper()
	integration.Need(t, "root, to give the fixture's files their owners", integration.Root())
	root = t.TempDir()
	var modes []string
	for _, name := range []string{"clean", overlay} {
		if name == "" {
			continue
		}
		a, err := txtar.ParseFile(filepath.Join("testdata", "roots", name+".txtar"))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(a.Comment), "\n") {
			if w, ok := strings.CutPrefix(line, "want: "); ok {
				want = strings.Fields(w)
			}
		}
		for _, f := range a.Files {
			if f.Name == "_modes" {
				modes = append(modes, strings.Split(strings.TrimSpace(string(f.Data)), "\n")...)
				continue
			}
			p := filepath.Join(root, f.Name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// directories as a root umask of 022 makes them, whatever this process's umask
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	for _, m := range modes {
		f := strings.Fields(m)
		if len(f) < 2 {
			continue
		}
		p := filepath.Join(root, f[0])
		mode, err := strconv.ParseUint(f[1], 8, 32)
		if err != nil {
			t.Fatalf("_modes %q: %v", m, err)
		}
		if err := os.MkdirAll(p, 0o755); err != nil && !os.IsExist(err) {
			if _, serr := os.Stat(p); serr != nil {
				t.Fatal(err)
			}
		}
		perm := os.FileMode(mode & 0o777)
		if mode&0o1000 != 0 {
			perm |= os.ModeSticky
		}
		if err := os.Chmod(p, perm); err != nil {
			t.Fatal(err)
		}
		if len(f) > 2 {
			uid, _ := strconv.Atoi(f[2])
			if err := os.Lchown(p, uid, uid); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root, want
}

func runOn(t testing.TB, root string) []Finding {
	t.Helper()
	host, err := hostenv.Load(context.Background(), root, "fixture", nil)
	if err != nil {
		t.Fatal(err)
	}
	return Run(Input{Host: host})
}

func ids(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID+"("+f.Severity+")")
	}
	return out
}

func TestCleanHostReportsNothingMedium(t *testing.T) {
	root, _ := materialize(t, "")
	for _, f := range runOn(t, root) {
		if Rank(f.Severity) >= Rank("medium") {
			t.Errorf("clean host: %s %s: %s", f.Severity, f.ID, f.Detail)
		}
	}
}

// TestFindings runs every fixture: each must report the findings its
// "want:" line names, and nothing else of medium or worse.
func TestFindings(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "roots", "*.txtar"))
	n := 0
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		if name == "clean" {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			root, want := materialize(t, name)
			if len(want) == 0 {
				t.Fatalf("%s has no want: line", file)
			}
			got := runOn(t, root)
			for _, w := range want {
				if !slices.ContainsFunc(got, func(f Finding) bool { return f.ID == w }) {
					t.Errorf("want %s, got %v", w, ids(got))
				}
			}
			for _, f := range got {
				if Rank(f.Severity) >= Rank("medium") && !slices.Contains(want, f.ID) {
					t.Errorf("unexpected %s %s: %s", f.Severity, f.ID, f.Detail)
				}
				if f.Title == "" || f.Detail == "" || f.Remediation == "" || Rank(f.Severity) < 0 {
					t.Errorf("incomplete finding %+v", f)
				}
				if strings.Contains(f.Detail+f.Path+f.Where, root) {
					t.Errorf("finding names the --root prefix: %+v", f)
				}
			}
		})
	}
	if n < 25 {
		t.Fatalf("only %d fixtures", n)
	}
}

// A finding about root's login is critical where the same for another
// user is high.
func TestRootSeverity(t *testing.T) {
	root, _ := materialize(t, "")
	os.WriteFile(filepath.Join(root, "root/.bashrc"), []byte("export PATH=\"$PATH:.\"\n"), 0o644)
	got := runOn(t, root)
	i := slices.IndexFunc(got, func(f Finding) bool { return f.ID == "path.relative" && f.User == "root" })
	if i < 0 || got[i].Severity != "critical" {
		t.Fatalf("want critical path.relative for root, got %v", ids(got))
	}
}

func TestAudit(t *testing.T) {
	tests := []struct {
		name string
		in   Audit
		want []string
	}{
		{"healthy", Audit{Status: rules.Status{Enabled: 1, PID: 42}}, nil},
		{"disabled", Audit{Status: rules.Status{Enabled: 0}}, []string{"audit.disabled"}},
		{"no daemon", Audit{Status: rules.Status{Enabled: 1}}, []string{"audit.no-daemon"}},
		{"rules missing", Audit{Status: rules.Status{Enabled: 1, PID: 1}, Diff: rules.Diff{Missing: []string{"-w /etc/profile -p wa -k gotrail-profile"}}}, []string{"audit.rules-missing"}},
		{"drift", Audit{Status: rules.Status{Enabled: 1, PID: 1}, Diff: rules.Diff{Extra: []string{"-w /old -p wa -k gotrail-path"}}}, []string{"audit.rules-drift"}},
		{"lost", Audit{Status: rules.Status{Enabled: 1, PID: 1, Lost: 7, BacklogLimit: 64}}, []string{"audit.lost"}},
		{"unreadable", Audit{Err: os.ErrPermission}, []string{"audit.unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &checker{}
			c.audit(&tt.in)
			var got []string
			for _, f := range c.out {
				got = append(got, f.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMatchesEverything(t *testing.T) {
	for _, tt := range []struct {
		p    string
		want bool
	}{{"*", true}, {"*,corp.example.com", true}, {"*.*", true}, {"corp.example.com", false}, {"", false}, {"github.com", false}} {
		if got := matchesEverything(tt.p); got != tt.want {
			t.Errorf("%q: got %v", tt.p, got)
		}
	}
}

// go.env compared with the manifest gotrail install kept.
func TestGoEnvChangedSinceInstall(t *testing.T) {
	root, _ := materialize(t, "")
	host, err := hostenv.Load(context.Background(), root, "fixture", nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(root, "usr/local/go/go.env"))
	sum := sha256.Sum256(data)
	recorded := hex.EncodeToString(sum[:])
	installed := func(goroot string) (string, bool) { return recorded, goroot == "/usr/local/go" }
	if got := Run(Input{Host: host, InstalledGoEnv: installed}); slices.ContainsFunc(got, func(f Finding) bool { return f.ID == "goroot.goenv-changed" }) {
		t.Fatalf("unchanged go.env reported: %v", ids(got))
	}
	os.WriteFile(filepath.Join(root, "usr/local/go/go.env"), append(data, "# a comment\n"...), 0o644)
	got := Run(Input{Host: host, InstalledGoEnv: installed})
	i := slices.IndexFunc(got, func(f Finding) bool { return f.ID == "goroot.goenv-changed" && f.Severity == "high" })
	if i < 0 {
		t.Fatalf("a go.env changed since install (only a comment) must be reported: %v", ids(got))
	}
}

// Each PATH entry is blamed on the step that put it there, not on the
// last change to PATH.
func TestPathFindingsNameTheirOrigin(t *testing.T) {
	root, _ := materialize(t, "")
	os.WriteFile(filepath.Join(root, "etc/profile"), []byte("PATH=/usr/bin:.:/bin\nexport PATH\n"), 0o644)
	os.WriteFile(filepath.Join(root, "home/alice/.profile"), []byte("PATH=\"$PATH:/usr/bin\"\nPATH=\"$PATH:/usr/local/bin\"\n"), 0o644)
	got := runOn(t, root)
	for _, tt := range []struct{ id, where string }{
		{"path.relative", "/etc/profile:1"},
		{"path.duplicate", "/home/alice/.profile:1"},
	} {
		i := slices.IndexFunc(got, func(f Finding) bool { return f.ID == tt.id && f.User == "alice" })
		if i < 0 || got[i].Where != tt.where {
			t.Errorf("%s: want where %s, got %+v", tt.id, tt.where, got)
		}
	}
}

package rules

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fakeKernel is the kernel's rule list as auditctl -l would print it.
type fakeKernel struct {
	loaded []string
	runs   int // auditctl runs: one per change
}

func (k *fakeKernel) List() ([]string, error) { return slices.Clone(k.loaded), nil }
func (k *fakeKernel) Apply(add, del []Rule) error {
	for _, r := range del {
		k.loaded = slices.DeleteFunc(k.loaded, func(l string) bool { return l == r.String() })
	}
	for _, r := range add {
		k.loaded = append(k.loaded, r.String())
	}
	k.runs++
	return nil
}

// keeperRoot is a host with root and alice, as gotrail setup leaves it (their
// ~/.config/go made); the test's own uid owns the
// users' files so that it runs as any user.
func keeperRoot(t *testing.T) (root string, uid string) {
	t.Helper()
	root = t.TempDir()
	uid = strconv.Itoa(os.Getuid())
	for _, d := range []string{"root/.config/go", "home/alice/.config/go", "home/bob", "etc/audit/rules.d", "usr/bin"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	writePasswd(t, root, "root:x:0:0:root:/root:/bin/bash\nalice:x:"+uid+":"+uid+"::/home/alice:/bin/bash\n")
	return root, uid
}

// writePasswd replaces etc/passwd as useradd does: a new file renamed over.
func writePasswd(t *testing.T, root, content string) {
	t.Helper()
	tmp := filepath.Join(root, "etc", "passwd+")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(root, "etc", "passwd")); err != nil {
		t.Fatal(err)
	}
}

func TestKeeperFollowsPasswd(t *testing.T) {
	root, uid := keeperRoot(t)
	kernel := &fakeKernel{}
	k, err := NewKeeper(root, nil, kernel)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := k.Poll(); err != nil || !u.Empty() {
		t.Fatalf("Poll with passwd unchanged = %+v, %v; want nothing done", u, err)
	}

	// bob is added: his ~/.config/go is made and his rules loaded
	writePasswd(t, root, "root:x:0:0:root:/root:/bin/bash\nalice:x:"+uid+":"+uid+"::/home/alice:/bin/bash\n"+
		"bob:x:"+uid+":"+uid+"::/home/bob:/bin/bash\n")
	u, err := k.Poll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(u.UsersAdded, []string{"bob"}) || len(u.UsersRemoved) != 0 {
		t.Errorf("users added %v, removed %v; want bob added", u.UsersAdded, u.UsersRemoved)
	}
	if !slices.Equal(u.Dirs, []string{"/home/bob/.config", "/home/bob/.config/go"}) {
		t.Errorf("dirs %v", u.Dirs)
	}
	if fi, err := os.Stat(filepath.Join(root, "home/bob/.config/go")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("~bob/.config/go: %v %v; want a directory of mode 0700", fi, err)
	}
	goenv := "-w /home/bob/.config/go/env -p wa -k gotrail-goenv"
	if !slices.Contains(kernel.loaded, goenv) || !slices.Contains(kernel.loaded, "-w /home/bob/.bashrc -p wa -k gotrail-profile") {
		t.Errorf("kernel has %q; want bob's rules", kernel.loaded)
	}
	for _, l := range kernel.loaded {
		if !strings.Contains(l, "/home/bob/") {
			t.Errorf("loaded %q, which is not new: only the new user's rules are added", l)
		}
	}
	if kernel.runs != 1 {
		t.Errorf("%d auditctl runs for one new user, want 1 (one event in the trail)", kernel.runs)
	}
	file, _ := os.ReadFile(filepath.Join(root, RulesFile))
	if !strings.Contains(string(file), "\n"+goenv+"\n") {
		t.Errorf("the rules file does not have bob's Go env rule:\n%s", file)
	}
	if !strings.Contains(u.String(), "login users added: bob") || !strings.Contains(u.String(), "created /home/bob/.config") {
		t.Errorf("Update.String() = %q", u.String())
	}

	// bob goes again: his rules go, alice's stay
	before := len(kernel.loaded)
	writePasswd(t, root, "root:x:0:0:root:/root:/bin/bash\nalice:x:"+uid+":"+uid+"::/home/alice:/bin/bash\n")
	u, err = k.Poll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(u.UsersRemoved, []string{"bob"}) || len(u.Removed) != before || len(kernel.loaded) != 0 {
		t.Errorf("after removing bob: removed %d of %d rules, kernel keeps %q", len(u.Removed), before, kernel.loaded)
	}
}

// TestInstallStaysInRoot: an image whose links point at host directories
// (a user's ~/.config, etc/audit) and whose passwd names a home with ..
// gets nothing written or chowned outside it.
func TestInstallStaysInRoot(t *testing.T) {
	root, uid := keeperRoot(t)
	host := t.TempDir() // stands for the host's own directories
	os.MkdirAll(filepath.Join(host, "audit"), 0o755)
	os.MkdirAll(filepath.Join(host, "config"), 0o755)
	os.RemoveAll(filepath.Join(root, "etc/audit"))
	os.RemoveAll(filepath.Join(root, "home/alice/.config"))
	if err := os.Symlink(filepath.Join(host, "audit"), filepath.Join(root, "etc/audit")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(host, "config"), filepath.Join(root, "home/alice/.config")); err != nil {
		t.Fatal(err)
	}
	writePasswd(t, root, "root:x:0:0:root:/root:/bin/bash\nalice:x:"+uid+":"+uid+"::/home/alice:/bin/bash\n"+
		"mallory:x:"+uid+":"+uid+"::/home/../../../../"+strings.TrimPrefix(host, "/")+":/bin/bash\n")
	h, err := Discover(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range h.Users {
		if u.Name == "mallory" {
			t.Errorf("a home with .. is taken: %+v", u)
		}
	}
	plan := Generate(h)
	_, err = Install(root, plan)
	// a link where gotrail makes a directory is refused, and named
	if err == nil || !strings.Contains(err.Error(), "/home/alice/.config") {
		t.Errorf("Install = %v; want a refusal naming /home/alice/.config", err)
	}
	// the rules file goes where the image's etc/audit link leads inside
	// the root (there, nowhere): never to the host's directory
	os.Remove(filepath.Join(root, "home/alice/.config"))
	plan = Generate(h)
	if _, err := Install(root, plan); err == nil || !strings.Contains(err.Error(), "/etc/audit") {
		t.Errorf("Install through etc/audit -> %s: %v; want a refusal naming /etc/audit", host, err)
	}
	filepath.Walk(host, func(p string, fi os.FileInfo, err error) error {
		if p != host && p != filepath.Join(host, "audit") && p != filepath.Join(host, "config") {
			t.Errorf("install wrote %s, outside the root", p)
		}
		return nil
	})
}

// failingKernel refuses every Add until it is told to work.
type failingKernel struct {
	fakeKernel
	fail bool
}

func (k *failingKernel) Apply(add, del []Rule) error {
	if k.fail {
		return errors.New("auditctl: Error sending add rule data request (No buffer space available)")
	}
	return k.fakeKernel.Apply(add, del)
}

// TestKeeperCatchesUpLater: a load that failed is tried again at the next
// poll; a user whose home appears after passwd is written is covered when it
// does; a user whose home moves gets the new home's rules.
func TestKeeperCatchesUpLater(t *testing.T) {
	root, uid := keeperRoot(t)
	kernel := &failingKernel{fail: true}
	k, err := NewKeeper(root, nil, kernel)
	if err != nil {
		t.Fatal(err)
	}
	base := "root:x:0:0:root:/root:/bin/bash\nalice:x:" + uid + ":" + uid + "::/home/alice:/bin/bash\n"
	writePasswd(t, root, base+"bob:x:"+uid+":"+uid+"::/home/bob:/bin/bash\n")
	if _, err := k.Poll(); err == nil {
		t.Fatal("a refused load was reported as done")
	}
	if file, _ := os.ReadFile(filepath.Join(root, RulesFile)); strings.Contains(string(file), "/home/bob/") {
		t.Error("the rules file has bob's rules, which the kernel refused: the next start would take them for loaded")
	}
	kernel.fail = false
	if _, err := k.Poll(); err != nil || !slices.Contains(kernel.loaded, "-w /home/bob/.config/go/env -p wa -k gotrail-goenv") {
		t.Fatalf("the next poll did not load bob's rules: %v %q", err, kernel.loaded)
	}

	// carol's passwd line comes before her home
	writePasswd(t, root, base+"bob:x:"+uid+":"+uid+"::/home/bob:/bin/bash\ncarol:x:"+uid+":"+uid+"::/home/carol:/bin/bash\n")
	if u, err := k.Poll(); err != nil || len(u.Added) != 0 {
		t.Fatalf("carol without a home: %+v %v", u, err)
	}
	os.MkdirAll(filepath.Join(root, "home/carol"), 0o755)
	if u, err := k.Poll(); err != nil || !slices.Contains(u.UsersAdded, "carol") || !slices.Contains(kernel.loaded, "-w /home/carol/.bashrc -p wa -k gotrail-profile") {
		t.Fatalf("carol's home appeared: %+v %v %q", u, err, kernel.loaded)
	}

	// bob's home moves (usermod -d)
	os.MkdirAll(filepath.Join(root, "srv/bob"), 0o755)
	writePasswd(t, root, base+"bob:x:"+uid+":"+uid+"::/srv/bob:/bin/bash\ncarol:x:"+uid+":"+uid+"::/home/carol:/bin/bash\n")
	if _, err := k.Poll(); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(kernel.loaded, "-w /srv/bob/.bashrc -p wa -k gotrail-profile") || slices.Contains(kernel.loaded, "-w /home/bob/.bashrc -p wa -k gotrail-profile") {
		t.Errorf("after usermod -d: %q", kernel.loaded)
	}
}

// setUp is gotrail setup on root as it is: the rules file written, its
// rules loaded into kernel.
func setUp(t *testing.T, root string, kernel *fakeKernel) {
	t.Helper()
	host, err := Discover(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	plan := Generate(host)
	if _, err := Install(root, plan); err != nil {
		t.Fatal(err)
	}
	for _, r := range All(plan.Groups) {
		kernel.loaded = append(kernel.loaded, r.String())
	}
}

// TestKeeperStartsFromTheRulesFile: the keeper's plan in force is the rules
// file setup wrote, so that a user added before the watcher starts (while
// it was down, or in the moment between setup and auditd starting the
// plugin) is covered by the first poll, and one removed loses their rules;
// a rule someone removed from the kernel is not silently put back.
func TestKeeperStartsFromTheRulesFile(t *testing.T) {
	uid := strconv.Itoa(os.Getuid())
	base := "root:x:0:0:root:/root:/bin/bash\nalice:x:" + uid + ":" + uid + "::/home/alice:/bin/bash\n"
	bob := "bob:x:" + uid + ":" + uid + "::/home/bob:/bin/bash\n"
	const operators = "-w /etc/sudoers -p wa -k identity"
	aliceGoenv := "-w /home/alice/.config/go/env -p wa -k gotrail-goenv"
	bobGoenv := "-w /home/bob/.config/go/env -p wa -k gotrail-goenv"
	for _, tc := range []struct {
		name                string
		atSetup, atStart    string
		wantAdded, wantGone []string // users
		loaded, unloaded    []string
	}{
		{name: "nothing changed", atSetup: base, atStart: base, loaded: []string{aliceGoenv}},
		{name: "bob added", atSetup: base, atStart: base + bob, wantAdded: []string{"bob"}, loaded: []string{aliceGoenv, bobGoenv}},
		{name: "bob removed", atSetup: base + bob, atStart: base, wantGone: []string{"the user of /home/bob"}, loaded: []string{aliceGoenv}, unloaded: []string{bobGoenv}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, _ := keeperRoot(t)
			os.RemoveAll(filepath.Join(root, "home/bob/.config"))
			writePasswd(t, root, tc.atSetup)
			kernel := &fakeKernel{}
			setUp(t, root, kernel)
			kernel.loaded = slices.DeleteFunc(kernel.loaded, func(l string) bool { return l == "-w /etc/profile -p wa -k gotrail-profile" })
			// an operator's own rule, added to the file and loaded
			appendFile(t, filepath.Join(root, RulesFile), operators+"\n")
			kernel.loaded = append(kernel.loaded, operators)
			before := slices.Clone(kernel.loaded)
			writePasswd(t, root, tc.atStart)
			k, err := NewKeeper(root, nil, kernel)
			if err != nil {
				t.Fatal(err)
			}
			u, err := k.Poll()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(u.UsersAdded, tc.wantAdded) || !slices.Equal(u.UsersRemoved, tc.wantGone) {
				t.Errorf("users added %q, removed %q; want %q, %q (%s)", u.UsersAdded, u.UsersRemoved, tc.wantAdded, tc.wantGone, u)
			}
			if k.Baseline() != RulesFile {
				t.Errorf("the plan in force came from %s, want %s", k.Baseline(), RulesFile)
			}
			for _, l := range tc.loaded {
				if !slices.Contains(kernel.loaded, l) {
					t.Errorf("kernel lacks %q", l)
				}
			}
			for _, l := range tc.unloaded {
				if slices.Contains(kernel.loaded, l) {
					t.Errorf("kernel keeps %q", l)
				}
			}
			if slices.Contains(kernel.loaded, "-w /etc/profile -p wa -k gotrail-profile") {
				t.Error("a rule removed from the kernel before the start was put back without an event of its own")
			}
			if !slices.Contains(kernel.loaded, operators) {
				t.Errorf("the operator's rule in the file, %q, was removed from the kernel", operators)
			}
			if tc.wantAdded == nil && tc.unloaded == nil && (!u.Empty() || !slices.Equal(kernel.loaded, before)) {
				t.Errorf("nothing changed, yet the first poll did %s", u)
			}
			if u, err := k.Poll(); err != nil || !u.Empty() {
				t.Errorf("second poll: %s, %v; want nothing done", u, err)
			}
		})
	}
}

func appendFile(t *testing.T, name, text string) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// TestKeeperWithoutItsFile: a rules file that is not gotrail's (empty, or
// without Render's first line) is as none: the plan in force is the host's
// as it is now, Baseline says why, and the first poll loads nothing.
func TestKeeperWithoutItsFile(t *testing.T) {
	for name, content := range map[string]string{
		"empty":            "",
		"not Render's":     "-w /home/alice/.config/go/env -p wa -k gotrail-goenv\n",
		"only header":      renderHeader,
		"no gotrail rules": renderHeader + "-w /etc/sudoers -p wa -k identity\n",
	} {
		t.Run(name, func(t *testing.T) {
			root, _ := keeperRoot(t)
			if err := os.WriteFile(filepath.Join(root, RulesFile), []byte(content), 0o640); err != nil {
				t.Fatal(err)
			}
			kernel := &fakeKernel{}
			k, err := NewKeeper(root, nil, kernel)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(k.Baseline(), "the host as it is now") {
				t.Errorf("Baseline() = %q", k.Baseline())
			}
			if u, err := k.Poll(); err != nil || !u.Empty() || kernel.runs != 0 {
				t.Errorf("first poll: %s, %v, %d auditctl runs; want nothing done", u, err, kernel.runs)
			}
		})
	}
}

package rules

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gotrail/gotrail/internal/hostfs"
)

// Kernel is what the keeper needs of the kernel's audit rules; Auditctl is
// one.
type Kernel interface {
	List() ([]string, error)
	// Apply removes del and adds add in one run (auditctl -R): one
	// configuration change in the trail, not one a rule.
	Apply(add, del []Rule) error
}

// Keeper keeps the loaded rules in step with the host's login users: a user
// added to /etc/passwd gets their ~/.config/go and their rules, a user
// removed loses theirs, without anyone running a command. It changes only
// the rules its own plans contain, never the host's other rules.
type Keeper struct {
	root     string
	goroots  []string
	kernel   Kernel
	inForce  []Rule   // the active rules of the plan last put in force
	users    []string // the login users that plan covers
	passwd   passwdStamp
	waiting  []string // homes of login users that do not exist yet
	baseline string   // where the plan in force at the start came from
	// behind says the plan in force is the rules file's, not this host's
	// as it is now: a user was added or removed while gotrail was not
	// running, or between setup and the watcher's start.
	behind bool
}

// passwdStamp tells whether /etc/passwd changed: useradd and userdel
// replace it (a new inode), vipw may write it in place (size, mtime).
type passwdStamp struct {
	ino, size int64
	mtime     time.Time
}

func stampOf(h hostfs.FS) passwdStamp {
	fi, err := h.Stat("/etc/passwd")
	if err != nil {
		return passwdStamp{}
	}
	s := passwdStamp{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = int64(st.Ino)
	}
	return s
}

// NewKeeper reads the host as it is now; it changes nothing. The plan in
// force is the rules file's, which setup or the last keeper wrote and
// loaded: a user added since (while gotrail was down, or in the moment
// between setup and the plugin's start) is then one the first Poll covers,
// and one removed since loses their rules. Without a file of gotrail's
// (Render's, with rules), it is the host's plan as it is now; Baseline says
// which it took.
func NewKeeper(root string, goroots []string, kernel Kernel) (*Keeper, error) {
	k := &Keeper{root: root, goroots: goroots, kernel: kernel}
	h := hostfs.New(root)
	st := stampOf(h)
	plan, host, err := k.generate()
	if err != nil {
		return nil, err
	}
	users, waiting := splitUsers(h, host.Users)
	k.commit(st, All(plan.Groups), users, waiting)
	data, err := h.ReadFile(RulesFile)
	if err != nil {
		k.baseline = fmt.Sprintf("the host as it is now (%v)", err)
		return k, nil
	}
	active, watched := parseRulesFile(data)
	if len(active) == 0 {
		k.baseline = fmt.Sprintf("the host as it is now (%s has no rules of gotrail's)", RulesFile)
		return k, nil
	}
	k.inForce, k.users, k.behind, k.baseline = active, coveredBy(watched, host.Users, users), true, RulesFile
	return k, nil
}

// Baseline says where the plan in force at the start came from.
func (k *Keeper) Baseline() string { return k.baseline }

// coveredBy names the users a rules file covers: those of users (their
// home exists) whose Go env file it watches, then, as "the user of HOME",
// each watched Go env file of a home no login user has now (removed while
// gotrail was not running), so that the first Poll names them removed.
func coveredBy(watched map[string]bool, all []User, users []string) []string {
	var names, gone []string
	homes := map[string]bool{}
	for _, u := range all {
		homes[u.Home] = true
		if watched[u.Home+goenvFile] && slices.Contains(users, u.Name) {
			names = append(names, u.Name)
		}
	}
	for w := range watched {
		if home, ok := strings.CutSuffix(w, goenvFile); ok && !homes[home] {
			gone = append(gone, "the user of "+home)
		}
	}
	slices.Sort(gone)
	return append(names, gone...)
}

// generate plans the rules of the host as it is now.
func (k *Keeper) generate() (*Plan, *Host, error) {
	host, err := Discover(k.root, k.goroots)
	if err != nil {
		return nil, nil, err
	}
	return Generate(host), host, nil
}

// splitUsers parts login users into those covered (their home exists) and
// the homes of those not yet covered (useradd writes passwd before it
// makes the home).
func splitUsers(h hostfs.FS, all []User) (users, waiting []string) {
	for _, u := range all {
		if h.IsDir(u.Home) {
			users = append(users, u.Name)
		} else {
			waiting = append(waiting, u.Home)
		}
	}
	return users, waiting
}

// parseRulesFile reads a rules file Render wrote: its active rules, and
// the paths of every watch it names, the commented-out pending ones too.
// A file without Render's first line is none of gotrail's; a line Render
// would not have written, or a rule without a gotrail key (one an operator
// added to the file), is not gotrail's and is left out: the keeper never
// removes it.
func parseRulesFile(data []byte) (active []Rule, watched map[string]bool) {
	watched = map[string]bool{}
	if !bytes.HasPrefix(data, []byte(renderHeader)) {
		return nil, watched
	}
	for _, line := range strings.Split(string(data), "\n") {
		pending := strings.HasPrefix(line, "# -")
		r, ok := ParseRule(strings.TrimPrefix(line, "# "))
		if !ok || (!pending && strings.HasPrefix(line, "#")) || !strings.HasPrefix(r.Key, "gotrail-") {
			continue
		}
		if r.Watch != "" {
			watched[r.Watch] = true
		}
		if !pending {
			active = append(active, r)
		}
	}
	return active, watched
}

// homeAppeared reports whether a home the keeper waits for exists now.
func (k *Keeper) homeAppeared(h hostfs.FS) bool {
	return slices.ContainsFunc(k.waiting, h.IsDir)
}

// Update is what the keeper did.
type Update struct {
	UsersAdded, UsersRemoved []string
	Dirs                     []string // directories it created
	Added, Removed           []Rule
	// Gone are rules of a removed user that the kernel had dropped itself:
	// it removes a watch when its directory goes (userdel -r).
	Gone int
	File string // the rules file it rewrote
}

// Empty reports whether nothing changed.
func (u Update) Empty() bool {
	return len(u.Added)+len(u.Removed)+len(u.Dirs)+len(u.UsersAdded)+len(u.UsersRemoved) == 0
}

// String says what was done, in one line.
func (u Update) String() string {
	var parts []string
	if len(u.UsersAdded) > 0 {
		parts = append(parts, "login users added: "+strings.Join(u.UsersAdded, ", "))
	}
	if len(u.UsersRemoved) > 0 {
		parts = append(parts, "login users removed: "+strings.Join(u.UsersRemoved, ", "))
	}
	if len(u.Dirs) > 0 {
		parts = append(parts, "created "+strings.Join(u.Dirs, ", "))
	}
	rs := fmt.Sprintf("loaded %d rules, removed %d", len(u.Added), len(u.Removed))
	if u.Gone > 0 {
		rs += fmt.Sprintf(" (%d more the kernel had dropped with their directories)", u.Gone)
	}
	parts = append(parts, rs)
	return "gotrail kept the audit rules in step with /etc/passwd: " + strings.Join(parts, "; ")
}

// Poll looks at /etc/passwd and, when it changed, brings the rules in line:
// it creates the directories new users need, rewrites the rules file (so
// they also load at boot), adds the rules of the new plan that the kernel
// lacks and removes those of the old plan that the new one dropped. The
// returned error names what failed; what was done before it is in Update.
func (k *Keeper) Poll() (Update, error) {
	var u Update
	h := hostfs.New(k.root)
	st := stampOf(h)
	if st == k.passwd && !k.behind && !k.homeAppeared(h) {
		return u, nil
	}
	plan, host, err := k.generate()
	if err != nil {
		return u, err
	}
	users, waiting := splitUsers(h, host.Users)
	for _, d := range plan.Dirs {
		made, err := h.MkdirOwned(d.Home, d.Path, 0o700, d.UID, d.GID)
		if err != nil {
			return u, err
		}
		if made {
			u.Dirs = append(u.Dirs, d.Path)
		}
	}
	plan.Activate(h)
	// what counts is the rules: a user's new home or shell changes them
	// as surely as a new user does
	old, want := ruleSet(k.inForce), All(plan.Groups)
	if sameRules(old, want) && len(u.Dirs) == 0 {
		k.commit(st, want, users, waiting)
		return u, nil
	}
	for _, name := range users {
		if !slices.Contains(k.users, name) {
			u.UsersAdded = append(u.UsersAdded, name)
		}
	}
	for _, name := range k.users {
		if !slices.Contains(users, name) {
			u.UsersRemoved = append(u.UsersRemoved, name)
		}
	}
	// the kernel first: the file is what the next start takes as loaded
	if err := k.apply(&u, old, want); err != nil {
		return u, err // the old plan stays: the next poll tries again
	}
	if err := h.WriteFile(RulesFile, []byte(Render(plan.Groups)), 0o640, 0o750); err != nil {
		return u, err
	}
	u.File = RulesFile
	k.commit(st, want, users, waiting)
	return u, nil
}

// commit takes a plan's active rules as the ones in force.
func (k *Keeper) commit(st passwdStamp, active []Rule, users, waiting []string) {
	k.passwd, k.inForce, k.users, k.waiting, k.behind = st, active, users, waiting, false
}

func sameRules(old map[string]Rule, want []Rule) bool {
	if len(old) != len(want) {
		return false
	}
	for _, r := range want {
		if _, ok := old[r.String()]; !ok {
			return false
		}
	}
	return true
}

func ruleSet(rs []Rule) map[string]Rule {
	m := make(map[string]Rule, len(rs))
	for _, r := range rs {
		m[r.String()] = r
	}
	return m
}

// apply adds what want has, old had not and the kernel lacks, and removes
// what old had, want dropped and the kernel still has. A rule of the old
// plan that is missing stays missing: removing it was an event of its own,
// and gotrail rules --install is how an operator restores the set.
func (k *Keeper) apply(u *Update, old map[string]Rule, want []Rule) error {
	loaded, err := k.kernel.List()
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, l := range loaded {
		have[l] = true
	}
	wanted := ruleSet(want)
	var add, del []Rule
	for _, r := range want {
		if _, before := old[r.String()]; !before && !have[r.String()] {
			add = append(add, r)
		}
	}
	for s, r := range old {
		if _, keep := wanted[s]; keep {
			continue
		}
		if !have[s] {
			u.Gone++
			continue
		}
		del = append(del, r)
	}
	slices.SortFunc(del, func(a, b Rule) int { return strings.Compare(a.String(), b.String()) })
	if len(add)+len(del) == 0 {
		return nil
	}
	if err := k.kernel.Apply(add, del); err != nil {
		return err
	}
	u.Added, u.Removed = add, del
	return nil
}

// Missing are the rules of the plan in force that the kernel lacks now.
func (k *Keeper) Missing() ([]Rule, error) {
	loaded, err := k.kernel.List()
	if err != nil {
		return nil, err
	}
	var out []Rule
	for _, r := range k.inForce {
		if !slices.Contains(loaded, r.String()) {
			out = append(out, r)
		}
	}
	return out, nil
}

// NamedBy reports whether r is a rule the kernel names by key and dir in a
// CONFIG_CHANGE: a watch by its directory (or itself, for a directory
// watch), a syscall rule by the directory of the file it names (path=, exe=).
func (r Rule) NamedBy(key, dir string) bool {
	if r.Key != key {
		return false
	}
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		return true
	}
	if r.Watch != "" {
		return r.Watch == dir || path.Dir(r.Watch) == dir
	}
	for _, f := range r.Fields {
		name, ok := strings.CutPrefix(f, "path=")
		if !ok {
			name, ok = strings.CutPrefix(f, "exe=")
		}
		if ok && (path.Dir(name) == dir || name == dir) {
			return true
		}
	}
	return false
}

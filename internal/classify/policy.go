package classify

import (
	"slices"
	"strconv"
	"strings"

	"github.com/gotrail/gotrail/internal/config"
	"github.com/gotrail/gotrail/internal/event"
)

// Groups says which groups a login user is in (primary and supplementary).
type Groups interface {
	UserGroups(user string) []string
}

// Policy marks events authorized or not and sets their severity, from the
// configuration's [[policy]] entries: the first entry whose kinds and path
// prefixes match decides; no match means not authorized.
type Policy struct {
	Rules  []config.Policy
	Groups Groups
}

// changeKinds are the kinds that change the Go environment.
var changeKinds = []string{event.KindGoroot, event.KindGoenv, event.KindProfile, event.KindPath}

// Apply sets e.Gotrail.Authorized, the policy that decided it, and
// e.Gotrail.Severity.
func (p *Policy) Apply(e *event.Event) {
	kind := e.Gotrail.Kind
	switch {
	case kind == event.KindOther:
		e.Gotrail.Severity = "info"
		return
	case kind == event.KindExec:
		e.Gotrail.Severity = "info"
		if weakens(e.Process.EnvMap()) {
			e.Gotrail.Severity = "high"
		}
		return
	}
	ok, by := p.authorized(e)
	e.Gotrail.Authorized, e.Gotrail.Policy = &ok, by
	if kind == event.KindTamper {
		// by its effect on auditing; planned maintenance by the users a
		// [[policy]] names is info
		e.Gotrail.Severity = TamperSeverity(e)
		if ok {
			e.Gotrail.Severity = "info"
		}
		return
	}
	switch {
	case ok:
		e.Gotrail.Severity = "info"
	case e.Event.Outcome == "failure":
		e.Gotrail.Severity = "medium" // an attempt the kernel refused
	case kind == event.KindGoroot || kind == event.KindPath:
		e.Gotrail.Severity = "critical"
	case slices.Contains(changeKinds, kind):
		e.Gotrail.Severity = "high"
	default:
		e.Gotrail.Severity = "low"
	}
}

// authorized reports the verdict and names the [[policy]] that gave it
// (first match wins), or says that none matched.
func (p *Policy) authorized(e *event.Event) (bool, string) {
	login := ""
	if e.User.Audit != nil {
		login = e.User.Audit.Name
	}
	for i, r := range p.Rules {
		if len(r.Kinds) > 0 && !slices.Contains(r.Kinds, e.Gotrail.Kind) {
			continue
		}
		if len(r.Paths) > 0 && !pathsMatch(r.Paths, e) {
			continue
		}
		name := policyName(i, r)
		if login == "" {
			return false, name // no login: nobody to authorize
		}
		if slices.Contains(r.AllowUsers, login) {
			return true, name
		}
		if p.Groups != nil {
			for _, g := range p.Groups.UserGroups(login) {
				if slices.Contains(r.AllowGroups, g) {
					return true, name
				}
			}
		}
		return false, name
	}
	return false, "no [[policy]] matched"
}

// policyName names the i-th [[policy]] of the configuration by what it
// covers: "[[policy]] #2 (goroot.modify under /usr/local/go)".
func policyName(i int, r config.Policy) string {
	var what []string
	if len(r.Kinds) > 0 {
		what = append(what, strings.Join(r.Kinds, ", "))
	}
	if len(r.Paths) > 0 {
		what = append(what, "under "+strings.Join(r.Paths, ", "))
	}
	name := "[[policy]] #" + strconv.Itoa(i+1)
	if len(what) > 0 {
		name += " (" + strings.Join(what, " ") + ")"
	}
	return name
}

func pathsMatch(prefixes []string, e *event.Event) bool {
	if e.File == nil {
		return false
	}
	for _, p := range []string{e.File.Path, e.Gotrail.PreviousPath} {
		if p == "" {
			continue
		}
		for _, pre := range prefixes {
			pre = strings.TrimSuffix(pre, "/")
			if p == pre || strings.HasPrefix(p, pre+"/") {
				return true
			}
		}
	}
	return false
}

// weakens reports whether a go process's environment turns off or bypasses
// the supply-chain checks: GOSUMDB=off, GOINSECURE, GONOSUMDB or GONOSUMCHECK
// matching everything, an http:// GOPROXY, GOFLAGS with -insecure or -toolexec.
func weakens(env map[string]string) bool {
	if env == nil {
		return false
	}
	if env["GOSUMDB"] == "off" || env["GOINSECURE"] != "" {
		return true
	}
	for _, k := range []string{"GONOSUMDB", "GONOSUMCHECK", "GOPRIVATE"} {
		for _, pat := range strings.Split(env[k], ",") {
			if pat == "*" || pat == "*/*" {
				return true
			}
		}
	}
	for _, p := range strings.Split(env["GOPROXY"], ",") {
		if strings.HasPrefix(strings.TrimSpace(p), "http://") {
			return true
		}
	}
	flags := env["GOFLAGS"]
	return strings.Contains(flags, "-insecure") || strings.Contains(flags, "-toolexec")
}

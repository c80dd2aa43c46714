package classify

import (
	"slices"
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

// Apply sets e.Event.Authorized and e.Event.Severity.
func (p *Policy) Apply(e *event.Event) {
	kind := e.Event.Kind
	switch {
	case kind == event.KindOther:
		e.Event.Severity = "info"
		return
	case kind == event.KindExec:
		e.Event.Severity = "info"
		if weakens(e.Process.Env) {
			e.Event.Severity = "high"
		}
		return
	case kind == event.KindTamper:
		e.Event.Severity = "critical"
		return
	}
	ok := p.authorized(e)
	e.Event.Authorized = &ok
	switch {
	case ok:
		e.Event.Severity = "info"
	case e.Event.Outcome == "failure":
		e.Event.Severity = "medium" // an attempt the kernel refused
	case kind == event.KindGoroot || kind == event.KindPath:
		e.Event.Severity = "critical"
	case slices.Contains(changeKinds, kind):
		e.Event.Severity = "high"
	default:
		e.Event.Severity = "low"
	}
}

func (p *Policy) authorized(e *event.Event) bool {
	login := ""
	if e.User.Audit != nil {
		login = e.User.Audit.Name
	}
	for _, r := range p.Rules {
		if len(r.Kinds) > 0 && !slices.Contains(r.Kinds, e.Event.Kind) {
			continue
		}
		if len(r.Paths) > 0 && !pathsMatch(r.Paths, e.File) {
			continue
		}
		if login == "" {
			return false // no login: nobody to authorize
		}
		if slices.Contains(r.AllowUsers, login) {
			return true
		}
		if p.Groups != nil {
			for _, g := range p.Groups.UserGroups(login) {
				if slices.Contains(r.AllowGroups, g) {
					return true
				}
			}
		}
		return false
	}
	return false
}

func pathsMatch(prefixes []string, f *event.File) bool {
	if f == nil {
		return false
	}
	for _, p := range []string{f.Path, f.PreviousPath} {
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

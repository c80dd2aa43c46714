package enrich

import (
	"strings"
	"sync"

	"github.com/gotrail/gotrail/internal/hostfs"
)

// Groups answers which groups a user is in, from ROOT/etc/passwd (the
// primary group) and ROOT/etc/group (the members lists), read once, as the
// host would reach them.
type Groups struct {
	fs   hostfs.FS
	once sync.Once
	of   map[string][]string
}

// NewGroups reads group membership under root.
func NewGroups(root string) *Groups {
	return &Groups{fs: hostfs.New(root)}
}

func (g *Groups) load() {
	g.of = map[string][]string{}
	names := map[string]string{} // gid -> group name
	if data, err := g.fs.ReadFile("/etc/group"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			p := strings.Split(line, ":")
			if len(p) < 4 || p[0] == "" || p[0][0] == '#' {
				continue
			}
			names[p[2]] = p[0]
			for _, m := range strings.Split(p[3], ",") {
				if m = strings.TrimSpace(m); m != "" {
					g.of[m] = append(g.of[m], p[0])
				}
			}
		}
	}
	if data, err := g.fs.ReadFile("/etc/passwd"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			p := strings.Split(line, ":")
			if len(p) < 4 || p[0] == "" {
				continue
			}
			if name, ok := names[p[3]]; ok {
				g.of[p[0]] = append([]string{name}, g.of[p[0]]...)
			}
		}
	}
}

// UserGroups lists the groups of a user, primary first.
func (g *Groups) UserGroups(user string) []string {
	g.once.Do(g.load)
	return g.of[user]
}

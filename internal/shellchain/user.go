package shellchain

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gotrail/gotrail/internal/hostfs"
)

// LookupUser reads name's passwd entry and groups under the host root.
func LookupUser(h hostfs.FS, name string) (User, error) {
	data, err := h.ReadFile("/etc/passwd")
	if err != nil {
		// name the file on this machine: the root may be what is wrong
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		return User{}, fmt.Errorf("read users from %s: %w", h.Abs("/etc/passwd"), err)
	}
	u := User{UID: -1}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Split(l, ":")
		if len(f) < 7 || f[0] != name {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			return User{}, fmt.Errorf("%s: bad entry for %s", h.Abs("/etc/passwd"), name)
		}
		u = User{Name: name, UID: uid, GID: gid, Home: f[5], Shell: f[6]}
		break
	}
	if u.UID < 0 {
		return User{}, fmt.Errorf("no user %q in %s", name, h.Abs("/etc/passwd"))
	}
	u.GroupName = strconv.Itoa(u.GID)
	groups, _ := h.ReadFile("/etc/group")
	var supp []Group
	for _, l := range strings.Split(string(groups), "\n") {
		f := strings.Split(l, ":")
		if len(f) < 4 {
			continue
		}
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		if gid == u.GID {
			u.GroupName = f[0]
			continue
		}
		for _, m := range strings.Split(f[3], ",") {
			if m == name {
				supp = append(supp, Group{Name: f[0], GID: gid})
			}
		}
	}
	u.Groups = append([]Group{{Name: u.GroupName, GID: u.GID}}, supp...)
	return u, nil
}

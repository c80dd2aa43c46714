package install

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// versionRE is a Go release as the toolchain module and go.dev/dl name it,
// without "go": 1.22.5, 1.21.0, 1.23rc1, 1.22beta1.
var versionRE = regexp.MustCompile(`^1\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*)|(rc|beta)[1-9][0-9]*)?$`)

// stableRE is a release that "latest" may pick.
var stableRE = regexp.MustCompile(`^1\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)

// ParseVersion takes VERSION as the command line gives it (1.22.5, go1.22.5
// or latest) and returns it without "go"; "latest" is returned as is.
func ParseVersion(s string) (string, error) {
	if s == "latest" {
		return s, nil
	}
	v := strings.TrimPrefix(s, "go")
	if !versionRE.MatchString(v) {
		return "", fmt.Errorf("version %q: want a Go release such as 1.22.5, go1.22.5 or latest", s)
	}
	return v, nil
}

// ModuleVersion is the version of golang.org/toolchain that holds Go
// release v for goos/goarch.
func ModuleVersion(v, goos, goarch string) string {
	return "v0.0.1-go" + v + "." + goos + "-" + goarch
}

// ToolchainModule is the module the Go project publishes its toolchains as.
const ToolchainModule = "golang.org/toolchain"

// newerStable reports whether stable release a is newer than b ("" is
// older than anything).
func newerStable(a, b string) bool {
	if b == "" {
		return true
	}
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range 3 {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x > y
		}
	}
	return false
}

// latestStable picks the newest stable release of vs.
func latestStable(vs []string) string {
	best := ""
	for _, v := range vs {
		if stableRE.MatchString(v) && newerStable(v, best) {
			best = v
		}
	}
	return best
}

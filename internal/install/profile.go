package install

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"

	"github.com/gotrail/gotrail/internal/atomicfile"
)

// DefaultProfile is where --profile puts the PATH of the toolchain.
const DefaultProfile = "/etc/profile.d/go.sh"

// shellSafe is a directory that can stand in a shell script unquoted.
var shellSafe = regexp.MustCompile(`^/[A-Za-z0-9/._+-]*$`)

// profileScript adds bin to PATH once: sourcing it again, or from a shell
// whose PATH has it already, changes nothing.
func profileScript(bin string) []byte {
	return fmt.Appendf(nil, `# Written by gotrail install: the Go toolchain on PATH, once.
case ":${PATH}:" in
*:%[1]s:*) ;;
*) PATH="${PATH:+${PATH}:}%[1]s" ;;
esac
export PATH
`, bin)
}

// writeProfile writes the script for bin at p when it differs; it reports
// whether it wrote.
func writeProfile(p, bin string) (bool, error) {
	if !shellSafe.MatchString(bin) {
		return false, fmt.Errorf("profile: %q has characters a shell would read; not writing %s", bin, p)
	}
	want := profileScript(bin)
	have, err := os.ReadFile(p)
	if err == nil && bytes.Equal(have, want) {
		return false, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("profile: %w", err)
	}
	if err := atomicfile.Write(p, want, 0o644); err != nil {
		return false, fmt.Errorf("profile: %w", err)
	}
	return true, nil
}

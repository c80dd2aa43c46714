package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gotrail/gotrail/internal/testutil/integration"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"gotrail": func() { main() },
	})
}

// TestScripts runs the built binary through testdata/script/*.txtar.
func TestScripts(t *testing.T) {
	corpus, err := filepath.Abs("../../internal/audit/testdata/host-activity.log")
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("../../internal/pipeline/testdata/root")
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := filepath.Abs("testdata/legacy-state")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("CORPUS", corpus)
			env.Setenv("FIXROOT", root)
			env.Setenv("LEGACY", legacy)
			// hermetic: an empty configuration instead of the host's
			empty := filepath.Join(env.WorkDir, ".gotrail-empty.toml")
			if err := os.WriteFile(empty, nil, 0o600); err != nil {
				return err
			}
			env.Setenv("GOTRAIL_CONFIG", empty)
			env.Setenv("GOTRAIL_STATE_DIR", filepath.Join(env.WorkDir, "state"))
			return nil
		},
		Condition:     condition,
		UpdateScripts: os.Getenv("UPDATE_SCRIPTS") == "1",
	})
}

// condition is the scripts' [root]: a script whose image must hold files of
// other owners says `[!root] skip`; under GOTRAIL_INTEGRATION=1 asking as
// another user fails the script instead (the integration package's rule).
func condition(cond string) (bool, error) {
	if cond != "root" {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	if os.Geteuid() != 0 && integration.Enabled() {
		return false, fmt.Errorf("%s=1 but not root: the image's files must belong to root and its users", integration.Env)
	}
	return os.Geteuid() == 0, nil
}

package main

import (
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
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("CORPUS", corpus)
			env.Setenv("FIXROOT", root)
			// hermetic: an empty configuration instead of the host's
			empty := filepath.Join(env.WorkDir, ".gotrail-empty.toml")
			if err := os.WriteFile(empty, nil, 0o600); err != nil {
				return err
			}
			env.Setenv("GOTRAIL_CONFIG", empty)
			env.Setenv("GOTRAIL_STATE_DIR", filepath.Join(env.WorkDir, "state"))
			return nil
		},
		Cmds:          map[string]func(ts *testscript.TestScript, neg bool, args []string){"need": needCmd},
		UpdateScripts: os.Getenv("UPDATE_SCRIPTS") == "1",
	})
}

// needCmd is the scripts' `need root`: a script whose image must hold files
// of other owners runs as root, is skipped otherwise, and fails without root
// under GOTRAIL_INTEGRATION=1 (the integration package's rule for tests).
func needCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 || args[0] != "root" {
		ts.Fatalf("usage: need root")
	}
	if os.Geteuid() == 0 {
		return
	}
	if integration.Enabled() {
		ts.Fatalf("%s=1 but this script needs root: the image's files must belong to root and its users", integration.Env)
	}
	ts.Skip("needs root: the image's files must belong to root and its users")
}

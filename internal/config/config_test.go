package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// design is the example of DESIGN.md, which must load as it is.
const design = `
host = "web-01"
state_dir = "/var/lib/gotrail"

[audit]
source = "auto"
log = "/var/log/audit/audit.log"

[[policy]]
kinds = ["goroot.modify"]
paths = ["/usr/local/go"]
allow_users = ["goadmin"]
allow_groups = ["goadmins"]

[[sink]]
type = "syslog"
address = "tcp://127.0.0.1:6514"
min_severity = "info"

[[sink]]
type = "webhook"
format = "wecom"
url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY"
min_severity = "high"
lang = "zh"

[retention]
install = 180
manifest = 0
snapshot = 90
event = 180
`

func write(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gotrail.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadDesignExample(t *testing.T) {
	c, err := Load(write(t, design), false)
	if err != nil {
		t.Fatal(err)
	}
	if c.Host != "web-01" || len(c.Policy) != 1 || len(c.Sink) != 2 || c.Sink[1].Format != "wecom" || c.Retention.Snapshot != 90 {
		t.Errorf("loaded %+v", c)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{`hots = "x"`, "unknown key(s) hots"},
		{"[audit]\nsource = \"kafka\"", `source = "kafka": want one of`},
		{"[[policy]]\nkinds = [\"goroot.change\"]", `#1: kind "goroot.change"`},
		{"[[policy]]\npaths = [\"usr/local/go\"]", "absolute path prefix"},
		{"[[sink]]\ntype = \"syslog\"\naddress = \"127.0.0.1:514\"", "want unix:///dev/log"},
		{"[[sink]]\ntype = \"webhook\"\nformat = \"wecom\"\nurl = \"ftp://x/?key=SECRET\"", "url: want an http(s) URL"},
		{"[[sink]]\ntype = \"email\"", `type "email"`},
		{"[retention]\nevent = -1", "want days >= 0"},
		{"host = ", "gotrail.toml:1:"},
	}
	for _, tt := range tests {
		_, err := Load(write(t, tt.text), false)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%q) = %v, want an error containing %q", tt.text, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "SECRET") {
			t.Errorf("error leaks the webhook key: %v", err)
		}
	}
}

func TestLoadMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.toml")
	if c, err := Load(missing, true); err != nil || c.Audit.Log != "/var/log/audit/audit.log" {
		t.Errorf("optional missing file: %v, %+v", err, c)
	}
	if _, err := Load(missing, false); err == nil || !strings.Contains(err.Error(), "none.toml") {
		t.Errorf("named missing file: %v", err)
	}
}

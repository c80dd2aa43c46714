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

// TestLoadErrors: each error names the file, the line, the [[sink]] (its
// number and type) and the key, and never quotes a value that could be a
// secret (here SECRET), not even of a line that does not parse.
func TestLoadErrors(t *testing.T) {
	const wecom = "[[sink]]\ntype = \"webhook\"\nformat = \"wecom\"\nurl = \"https://x/send?key=SECRET\"\n"
	const syslog = "[[sink]]\ntype = \"syslog\"\naddress = \"udp://127.0.0.1:514\"\n"
	tests := []struct{ name, text, want string }{
		{"unknown key", `hots = "x"`, "gotrail.toml:1: unknown key hots"},
		{"unknown key in a table", "[audit]\nsourse = \"file\"", "gotrail.toml:2: unknown key audit.sourse"},
		{"unknown key in the second sink", wecom + syslog + "fromat = \"x\"", "gotrail.toml:8: [[sink]] #2 (syslog): unknown key fromat"},
		{"unknown key in both sinks", wecom + "fromat = 1\n" + syslog + "fromat = 2", "gotrail.toml:5: [[sink]] #1 (webhook): unknown key fromat; config "},
		{"unknown key in both sinks, the second", wecom + "fromat = 1\n" + syslog + "fromat = 2", "gotrail.toml:9: [[sink]] #2 (syslog): unknown key fromat"},
		{"unknown key that steers a terminal", "\"x\\u202ey\\u001b[2J\" = 1", `gotrail.toml:1: unknown key "\"x\u202ey\\u001b[2J\""`},
		// the line is found past what only looks like a key
		{"unknown key after multi-line values", "goroots = [\n  \"/a\", # fromat = 1\n]\nhost = \"\"\"\nfromat = 1\n[[sink]]\n\"\"\"\n" + syslog + "fromat = 2", "gotrail.toml:11: [[sink]] #1 (syslog): unknown key fromat"},
		{"unknown quoted key", syslog + "\"from at\" = 1", `gotrail.toml:4: [[sink]] #1 (syslog): unknown key "from at"`},
		{"unknown dotted key", "[audit]\nsource = \"file\"\nx.y = 1", "gotrail.toml:3: unknown key audit.x"},
		{"unknown sub-table of a sink", "# [[sink]]\n" + syslog + "[sink.tls]\nca = \"x\"", "gotrail.toml:5: [[sink]] #1 (syslog): unknown key tls"},
		{"unknown inline table", syslog + "tls = { ca = \"x\" }", "gotrail.toml:4: [[sink]] #1 (syslog): unknown key tls"},
		{"unknown table", "[foo]\na = 1\nb = 2", "gotrail.toml:1: unknown key foo"},
		{"source", "[audit]\nsource = \"kafka\"", `gotrail.toml:2: [audit]: source = "kafka": want one of`},
		{"policy kind", "[[policy]]\nkinds = [\"goroot.change\"]", `gotrail.toml:2: [[policy]] #1: kind "goroot.change"`},
		{"policy path", "[[policy]]\npaths = [\"usr/local/go\"]", "absolute path prefix"},
		{"address without scheme", "[[sink]]\ntype = \"syslog\"\naddress = \"127.0.0.1:514\"", "gotrail.toml:3: [[sink]] #1 (syslog): address: want unix:///dev/log"},
		{"udp without port", "[[sink]]\ntype = \"syslog\"\naddress = \"udp://logs.corp\"", "[[sink]] #1 (syslog): address: udp:// needs a host and a port"},
		{"tcp without host", "[[sink]]\ntype = \"syslog\"\naddress = \"tcp://:514\"", "[[sink]] #1 (syslog): address: tcp:// needs a host and a port"},
		{"tls port 0", "[[sink]]\ntype = \"syslog\"\naddress = \"tls://logs.corp:0\"", "address: the port must be from 1 to 65535"},
		{"tcp port too big", "[[sink]]\ntype = \"syslog\"\naddress = \"tcp://logs.corp:65536\"", "address: the port must be from 1 to 65535"},
		{"tcp with a path", "[[sink]]\ntype = \"syslog\"\naddress = \"tcp://logs.corp:514/x\"", "address: want only HOST:PORT after tcp://"},
		{"unix without path", "[[sink]]\ntype = \"syslog\"\naddress = \"unix://\"", "address: unix:// needs an absolute path"},
		{"unix with a host", "[[sink]]\ntype = \"syslog\"\naddress = \"unix://dev/log\"", "address: unix:// needs an absolute path"},
		{"facility", syslog + "facility = \"local8\"", `gotrail.toml:4: [[sink]] #1 (syslog): facility = "local8": want one of kern, user`},
		{"sd_id without enterprise number", syslog + "sd_id = \"gotrail\"", `gotrail.toml:4: [[sink]] #1 (syslog): sd_id = "gotrail": want NAME@NUMBER`},
		{"sd_id empty number", syslog + "sd_id = \"gotrail@\"", `sd_id = "gotrail@": want NAME@NUMBER`},
		{"sd_id empty name", syslog + "sd_id = \"@32473\"", `sd_id = "@32473": want NAME@NUMBER`},
		{"sd_id number not digits", syslog + "sd_id = \"gotrail@acme\"", `sd_id = "gotrail@acme": want NAME@NUMBER`},
		{"sd_id two @", syslog + "sd_id = \"a@b@1\"", `sd_id = "a@b@1": want NAME@NUMBER`},
		{"sd_id space", syslog + "sd_id = \"go trail@1\"", "want printable US-ASCII without spaces"},
		{"sd_id =", syslog + "sd_id = \"a=b@1\"", "want printable US-ASCII without spaces"},
		{"sd_id ]", syslog + "sd_id = \"a]@1\"", "want printable US-ASCII without spaces"},
		{"sd_id quote", syslog + "sd_id = 'a\"@1'", "want printable US-ASCII without spaces"},
		{"sd_id not ASCII", syslog + "sd_id = \"g\u00f8trail@1\"", "want printable US-ASCII without spaces"},
		{"sd_id control", syslog + "sd_id = \"a\\u0001@1\"", `sd_id = "a\x01@1": want printable`},
		{"sd_id too long", syslog + "sd_id = \"" + strings.Repeat("a", 27) + "@32473\"", "want 1 to 32 characters"},
		{"host not ASCII", "host = \"сервер-01\"", `gotrail.toml:1: host = "сервер-01": want printable US-ASCII`},
		{"host with a space", "host = \"web 01\"", `host = "web 01": want printable US-ASCII without spaces`},
		{"host with a slash", "host = \"../etc\"", `host = "../etc": want printable US-ASCII without spaces, '+' or '/'`},
		{"host too long", "host = \"" + strings.Repeat("h", 256) + "\"", `want 1 to 255 characters`},
		{"payload", syslog + "payload = \"records\"", `[[sink]] #1 (syslog): payload = "records": want event or trail`},
		{"trail over udp", "[[sink]]\ntype = \"syslog\"\naddress = \"udp://logs.corp:514\"\npayload = \"trail\"", `payload = "trail" needs tcp:// or tls://`},
		{"trail over unix", "[[sink]]\ntype = \"syslog\"\naddress = \"unix:///dev/log\"\npayload = \"trail\"", `payload = "trail" needs tcp:// or tls://`},
		{"trail filtered", "[[sink]]\ntype = \"syslog\"\naddress = \"tls://logs.corp:6514\"\npayload = \"trail\"\nmin_severity = \"high\"", `min_severity = "high": a trail sink carries every record`},
		{"max_message too small", syslog + "max_message = 1024", `max_message = 1024: want at least 2048 bytes`},
		{"trail on a webhook", wecom + "payload = \"trail\"", `payload = "trail": only a syslog sink carries the trail`},
		{"lang", wecom + "lang = \"fr\"", `gotrail.toml:5: [[sink]] #1 (webhook): lang = "fr": want zh or en`},
		{"rate_limit", wecom + "rate_limit = -1", "gotrail.toml:5: [[sink]] #1 (webhook): rate_limit = -1: want messages a minute >= 0"},
		{"url", "[[sink]]\ntype = \"webhook\"\nformat = \"wecom\"\nurl = \"ftp://x/?key=SECRET\"", "gotrail.toml:4: [[sink]] #1 (webhook): url: want an http(s) URL"},
		{"format", "[[sink]]\ntype = \"webhook\"\nformat = \"teams\"", `gotrail.toml:3: [[sink]] #1 (webhook): format = "teams"`},
		{"type", "[[sink]]\ntype = \"email\"", `gotrail.toml:2: [[sink]] #1: type = "email": want syslog or webhook`},
		{"no type", "[[sink]]\naddress = \"udp://h:514\"", "[[sink]] #1: type: missing"},
		{"retention", "[retention]\nevent = -1", "gotrail.toml:2: [retention]: event = -1: want days >= 0"},
		// syntax errors: where, and a generic description, never the text
		{"syntax", "host = ", "gotrail.toml:1:7: invalid TOML: a value is missing or not valid (strings need quotes) (near key host)"},
		{"string not closed", "[[sink]]\ntype = \"webhook\"\nformat = \"wecom\"\nurl = \"https://x/send?key=SECRET\nlang = \"zh\"", "gotrail.toml:4:33: [[sink]] #1 (webhook): invalid TOML: a string is not closed on its line (near key url)"},
		{"string not quoted", "[[sink]]\ntype = \"webhook\"\nurl = https://x/send?key=SECRET", "gotrail.toml:3:7: [[sink]] #1 (webhook): invalid TOML: a value is missing or not valid (strings need quotes) (near key url)"},
		{"secret not quoted", "[[sink]]\ntype = \"webhook\"\nsecret = SECRET0a1b2c", "gotrail.toml:3:10: [[sink]] #1 (webhook): invalid TOML: a value is missing or not valid (strings need quotes) (near key secret)"},
		{"bad escape", "[[sink]]\ntype = \"webhook\"\nsecret = \"SECRET\\q\"", "gotrail.toml:3:11: [[sink]] #1 (webhook): invalid TOML: a string holds an invalid escape"},
		{"defined twice", "[[sink]]\ntype = \"webhook\"\nsecret = \"x\"\nsecret = \"SECRET\"", "gotrail.toml:4:14: [[sink]] #1 (webhook): invalid TOML: a key or table is defined twice (near key secret)"},
		{"text after a value", "[[sink]]\nsecret = \"x\" SECRET", "gotrail.toml:2:13: [[sink]] #1: invalid TOML: unexpected text after a value"},
		{"control character", "secret = \"SECRET\x07\"", "gotrail.toml:1:16: invalid TOML: the file holds a control character"},
		// a value of the wrong type: the sink it is in, though another
		// sink has the same key
		{"wrong type", syslog + "rate_limit = 5\n" + wecom + "rate_limit = \"SECRET\"", "gotrail.toml:9: [[sink]] #2 (webhook): rate_limit: a value of the wrong type (want an integer)"},
		{"wrong type, array", "goroots = \"SECRET\"", "gotrail.toml:1: goroots: a value of the wrong type (want an array)"},
		{"wrong type, table", "audit = \"SECRET\"", "gotrail.toml:1: audit: a value of the wrong type (want a table)"},
		{"key without =", "[[sink]]\ntype = \"syslog\"\nSECRET", "gotrail.toml:3:6: [[sink]] #1 (syslog): invalid TOML: a key has no '=' and value"},
		{"wrong type, first sink", wecom + "rate_limit = \"SECRET\"\n" + syslog + "rate_limit = 5", "gotrail.toml:5: [[sink]] #1 (webhook): rate_limit: a value of the wrong type (want an integer)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(write(t, tt.text), false)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load(%q) = %v, want an error containing %q", tt.text, err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "SECRET") {
				t.Errorf("the error quotes the file: %v", err)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("the error is not one line: %q", err)
			}
		})
	}
}

// TestLoadValidSinks: what the checks must let through.
func TestLoadValidSinks(t *testing.T) {
	text := `
[[sink]]
type = "syslog"
address = "unix:///dev/log"
facility = "local3"
sd_id = "acme@12345"

[[sink]]
type = "syslog"
address = "udp://[::1]:514"
sd_id = "gotrail@32473"

[[sink]]
type = "syslog"
address = "tls://logs.corp.example:6514/"
facility = "authpriv"
sd_id = "` + strings.Repeat("a", 26) + `@32473"

[[sink]]
type = "webhook"
format = "slack"
url = "https://hooks.slack.com/services/T0/B0/X"
lang = "en"
rate_limit = 0
`
	c, err := Load(write(t, text), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Sink) != 4 || c.Sink[0].SDID != "acme@12345" {
		t.Errorf("loaded %+v", c.Sink)
	}
}

func TestCheckSDID(t *testing.T) {
	for _, tt := range []struct {
		id string
		ok bool
	}{
		{"gotrail@32473", true},
		{"a@1", true},
		{strings.Repeat("a", 26) + "@32473", true}, // 32
		{strings.Repeat("a", 27) + "@32473", false},
		{"", false},
		{"timeQuality", false}, // IANA's: not for gotrail's parameters
		{"gotrail@32473.1", false},
		{"gotrail@-1", false},
		{"got\x7frail@1", false},
	} {
		if err := CheckSDID(tt.id); (err == nil) != tt.ok {
			t.Errorf("CheckSDID(%q) = %v, want ok %v", tt.id, err, tt.ok)
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

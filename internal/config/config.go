// Package config reads gotrail's configuration file
// (/etc/gotrail/gotrail.toml, DESIGN.md "Configuration"). Every part is
// optional; a key gotrail does not know is an error that names it, so that a
// misspelt policy never silently allows nothing or everything.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// DefaultPath is where gotrail looks when no --config is given.
const DefaultPath = "/etc/gotrail/gotrail.toml"

// Config is the whole file.
type Config struct {
	Host      string    `toml:"host"`
	StateDir  string    `toml:"state_dir"`
	Audit     Audit     `toml:"audit"`
	Policy    []Policy  `toml:"policy"`
	Sink      []Sink    `toml:"sink"`
	Retention Retention `toml:"retention"`
	// GOROOTs are toolchain directories to watch and classify beyond those
	// found on the host.
	GOROOTs []string `toml:"goroots"`
}

// Audit says where audit records come from.
type Audit struct {
	Source string `toml:"source"` // auto | file | stdin | netlink
	Log    string `toml:"log"`
}

// Policy says who may change what; the first match wins.
type Policy struct {
	Kinds       []string `toml:"kinds"`
	Paths       []string `toml:"paths"`
	AllowUsers  []string `toml:"allow_users"`
	AllowGroups []string `toml:"allow_groups"`
}

// Sink is one destination for events.
type Sink struct {
	Type        string `toml:"type"`   // syslog | webhook
	Format      string `toml:"format"` // webhook: wecom | dingtalk | feishu | slack | generic
	Address     string `toml:"address"`
	URL         string `toml:"url"`
	MinSeverity string `toml:"min_severity"`
	Lang        string `toml:"lang"`
	Secret      string `toml:"secret"`
	Facility    string `toml:"facility"`
	SDID        string `toml:"sd_id"`
	// TLS for tls:// syslog: the CA that signed the collector's
	// certificate, and the client certificate and key when it asks for one.
	CAFile   string `toml:"ca_file"`
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// RateLimit is the webhook's messages per minute (WeCom and DingTalk
	// robots allow 20); 0 is the format's default.
	RateLimit int `toml:"rate_limit"`
}

// Retention is in days; 0 keeps for good.
type Retention struct {
	Install  int `toml:"install"`
	Manifest int `toml:"manifest"`
	Snapshot int `toml:"snapshot"`
	Event    int `toml:"event"`
}

// Default is the configuration without a file.
func Default() *Config {
	return &Config{
		StateDir:  "/var/lib/gotrail",
		Audit:     Audit{Source: "auto", Log: "/var/log/audit/audit.log"},
		Retention: Retention{Install: 180, Manifest: 0, Snapshot: 90, Event: 180},
	}
}

// Load reads path over the defaults. A missing file is no error when
// optional (the default path); a named file must exist.
func Load(path string, optional bool) (*Config, error) {
	c := Default()
	data, err := os.ReadFile(path)
	if err != nil {
		if optional && errors.Is(err, fs.ErrNotExist) {
			return c, nil
		}
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	md, err := toml.Decode(string(data), c)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return nil, fmt.Errorf("config %s:%d: %s", path, perr.Position.Line, perr.Message)
		}
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("config %s: unknown key(s) %s", path, strings.Join(keys, ", "))
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

var (
	sources    = []string{"auto", "file", "stdin", "netlink"}
	severities = []string{"info", "low", "medium", "high", "critical"}
	formats    = []string{"wecom", "dingtalk", "feishu", "slack", "generic"}
	kinds      = []string{"goroot.modify", "goenv.modify", "profile.modify", "path.shadow", "go.exec", "toolchain.install", "audit.tamper"}
)

func (c *Config) validate() error {
	if !slices.Contains(sources, c.Audit.Source) {
		return fmt.Errorf("[audit] source = %q: want one of %s", c.Audit.Source, strings.Join(sources, ", "))
	}
	for i, p := range c.Policy {
		for _, k := range p.Kinds {
			if !slices.Contains(kinds, k) {
				return fmt.Errorf("[[policy]] #%d: kind %q: want one of %s", i+1, k, strings.Join(kinds, ", "))
			}
		}
		for _, path := range p.Paths {
			if !strings.HasPrefix(path, "/") {
				return fmt.Errorf("[[policy]] #%d: path %q: want an absolute path prefix", i+1, path)
			}
		}
	}
	for i, s := range c.Sink {
		where := fmt.Sprintf("[[sink]] #%d", i+1)
		if s.MinSeverity != "" && !slices.Contains(severities, s.MinSeverity) {
			return fmt.Errorf("%s: min_severity %q: want one of %s", where, s.MinSeverity, strings.Join(severities, ", "))
		}
		switch s.Type {
		case "syslog":
			u, err := url.Parse(s.Address)
			if err != nil || !slices.Contains([]string{"unix", "udp", "tcp", "tls"}, u.Scheme) {
				return fmt.Errorf("%s: address %q: want unix:///dev/log, udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT", where, s.Address)
			}
		case "webhook":
			if !slices.Contains(formats, s.Format) {
				return fmt.Errorf("%s: format %q: want one of %s", where, s.Format, strings.Join(formats, ", "))
			}
			u, err := url.Parse(s.URL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				// the URL carries the robot's key: never echo it
				return fmt.Errorf("%s: url: want an http(s) URL", where)
			}
		default:
			return fmt.Errorf("%s: type %q: want syslog or webhook", where, s.Type)
		}
	}
	for name, d := range map[string]int{"install": c.Retention.Install, "manifest": c.Retention.Manifest, "snapshot": c.Retention.Snapshot, "event": c.Retention.Event} {
		if d < 0 {
			return fmt.Errorf("[retention] %s = %d: want days >= 0 (0 keeps for good)", name, d)
		}
	}
	return nil
}

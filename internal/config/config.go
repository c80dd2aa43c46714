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

	"github.com/gotrail/gotrail/internal/event"
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
	// Payload is what a syslog sink carries: "event" (the default, one
	// message per event, for people and SIEMs) or "trail" (every trail
	// record whole, in seq order, with the checkpoints, so that a collector
	// can recompute the chain: gotrail verify --collected).
	Payload string `toml:"payload"`
	// MaxMessage is the longest message, in bytes, the collector takes over
	// tcp:// or tls:// (rsyslog's maxMessageSize); 0 is 64 KiB. An event's
	// MSG is cut to fit; a trail record is split into parts.
	MaxMessage int `toml:"max_message"`
}

// Payloads a syslog sink can carry.
const (
	PayloadEvent = "event"
	PayloadTrail = "trail"
)

// DefaultMaxMessage is the longest message sent over tcp:// or tls://
// unless max_message says otherwise: what gotrail gen rsyslog-collector
// configures the collector to take.
const DefaultMaxMessage = 64 << 10

// MinMaxMessage is the least max_message: RFC 5425 has every receiver take
// 2048 bytes.
const MinMaxMessage = 2048

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
// optional (the default path); a named file must exist. Errors are *Error
// (several on one line for unknown keys): they say where, and never quote
// a value of the file.
func Load(path string, optional bool) (*Config, error) {
	c := Default()
	data, err := os.ReadFile(path)
	if err != nil {
		if optional && errors.Is(err, fs.ErrNotExist) {
			return c, nil
		}
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	src := string(data)
	md, err := toml.Decode(src, c)
	if err != nil {
		return nil, decodeError(path, src, err)
	}
	loc := newLocator(src)
	if errs := unknownKeys(md, loc, c); len(errs) > 0 {
		for _, e := range errs {
			e.File = path
		}
		if len(errs) == 1 {
			return nil, errs[0]
		}
		return nil, errs
	}
	if e := c.validate(); e != nil {
		e.File = path
		e.Line = loc.line(e.full, e.n)
		return nil, e
	}
	return c, nil
}

var (
	sources    = []string{"auto", "file", "stdin", "netlink"}
	severities = event.Severities
	formats    = []string{"wecom", "dingtalk", "feishu", "slack", "generic"}
	langs      = []string{"zh", "en"}
	kinds      = event.Kinds // what a policy can authorize: the Go environment's
)

// invalid makes the error of a key; section and full place it.
func invalid(section, full string, n int, key, format string, args ...any) *Error {
	return &Error{Section: section, Key: key, Msg: fmt.Sprintf(format, args...), full: full, n: n}
}

func (c *Config) validate() *Error {
	if c.Host != "" {
		if err := CheckHost(c.Host); err != nil {
			return invalid("", "host", 0, "host", "host = %q: %v", c.Host, err)
		}
	}
	if !slices.Contains(sources, c.Audit.Source) {
		return invalid("[audit]", "audit.source", 0, "source", "source = %q: want one of %s", c.Audit.Source, strings.Join(sources, ", "))
	}
	for i, p := range c.Policy {
		where := fmt.Sprintf("[[policy]] #%d", i+1)
		for _, k := range p.Kinds {
			if !slices.Contains(kinds, k) {
				return invalid(where, "policy.kinds", i+1, "kinds", "kind %q: want one of %s", k, strings.Join(kinds, ", "))
			}
		}
		for _, path := range p.Paths {
			if !strings.HasPrefix(path, "/") {
				return invalid(where, "policy.paths", i+1, "paths", "path %q: want an absolute path prefix", path)
			}
		}
	}
	for i, s := range c.Sink {
		if e := c.validateSink(i+1, s); e != nil {
			return e
		}
	}
	for _, d := range []struct {
		name string
		days int
	}{{"install", c.Retention.Install}, {"manifest", c.Retention.Manifest}, {"snapshot", c.Retention.Snapshot}, {"event", c.Retention.Event}} {
		if d.days < 0 {
			return invalid("[retention]", "retention."+d.name, 0, d.name, "%s = %d: want days >= 0 (0 keeps for good)", d.name, d.days)
		}
	}
	return nil
}

// validateSink checks [[sink]] number n. The URL and secret are never
// quoted: they hold the robot's key.
func (c *Config) validateSink(n int, s Sink) *Error {
	where := c.section("sink", n)
	bad := func(key, format string, args ...any) *Error {
		return invalid(where, "sink."+key, n, key, format, args...)
	}
	if s.MinSeverity != "" && !slices.Contains(severities, s.MinSeverity) {
		return bad("min_severity", "min_severity = %q: want one of %s", s.MinSeverity, strings.Join(severities, ", "))
	}
	if s.Lang != "" && !slices.Contains(langs, s.Lang) {
		return bad("lang", "lang = %q: want zh or en", s.Lang)
	}
	if s.RateLimit < 0 {
		return bad("rate_limit", "rate_limit = %d: want messages a minute >= 0 (0 is the format's default)", s.RateLimit)
	}
	if s.Facility != "" {
		if _, ok := Facility(s.Facility); !ok {
			return bad("facility", "facility = %q: want one of %s", s.Facility, facilityNames())
		}
	}
	if s.SDID != "" {
		if err := CheckSDID(s.SDID); err != nil {
			return bad("sd_id", "sd_id = %q: %v", s.SDID, err)
		}
	}
	switch s.Type {
	case "syslog":
		if problem := checkAddress(s.Address); problem != "" {
			return bad("address", "address: %s", problem)
		}
		if e := checkPayload(s, bad); e != nil {
			return e
		}
	case "webhook":
		if s.Payload != "" && s.Payload != PayloadEvent {
			return bad("payload", "payload = %q: only a syslog sink carries the trail", s.Payload)
		}
		if !slices.Contains(formats, s.Format) {
			return bad("format", "format = %q: want one of %s", s.Format, strings.Join(formats, ", "))
		}
		u, err := url.Parse(s.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return bad("url", "url: want an http(s) URL")
		}
	case "":
		return bad("type", "type: missing; want syslog or webhook")
	default:
		return bad("type", "type = %q: want syslog or webhook", s.Type)
	}
	return nil
}

package config

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// facilities by the names syslog.conf and rsyslog use (RFC 5424, section
// 6.2.1).
var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "logaudit": 13,
	"logalert": 14, "clock": 15, "local0": 16, "local1": 17, "local2": 18, "local3": 19,
	"local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// Facility is the code of a syslog facility name.
func Facility(name string) (int, bool) {
	f, ok := facilities[name]
	return f, ok
}

// facilityNames lists the names for error messages, in code order.
func facilityNames() string {
	names := make([]string, 0, len(facilities))
	for n := range facilities {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		if d := facilities[a] - facilities[b]; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return strings.Join(names, ", ")
}

// CheckSDID reports whether id can be the SD-ID of gotrail's structured
// data (RFC 5424, section 6.3.2): 1 to 32 printable US-ASCII characters
// without '=', ' ', ']' and '"'. Names without '@' are reserved to IANA,
// so a site's own id is NAME@ENTERPRISE-NUMBER, as gotrail@32473.
func CheckSDID(id string) error {
	if id == "" || len(id) > 32 {
		return errors.New("want 1 to 32 characters")
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 33 || c > 126 || c == '=' || c == ']' || c == '"' {
			return errors.New("want printable US-ASCII without spaces, '=', ']' or '\"'")
		}
	}
	name, pen, ok := strings.Cut(id, "@")
	if !ok || name == "" || pen == "" || strings.Trim(pen, "0123456789") != "" {
		return errors.New("want NAME@NUMBER with your private enterprise number, as gotrail@32473")
	}
	return nil
}

const wantAddress = "want unix:///dev/log, udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT"

// checkAddress says what is wrong with a syslog address, "" when nothing.
// It never quotes the address.
func checkAddress(addr string) string {
	u, err := url.Parse(addr)
	if err != nil {
		return wantAddress
	}
	switch u.Scheme {
	case "unix":
		// unix://dev/log would dial /log on host "dev"
		if u.Host != "" || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
			return "unix:// needs an absolute path, as unix:///dev/log"
		}
	case "udp", "tcp", "tls":
		if u.Hostname() == "" || u.Port() == "" {
			return u.Scheme + ":// needs a host and a port, as " + u.Scheme + "://HOST:PORT"
		}
		if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
			return "the port must be from 1 to 65535"
		}
		if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return "want only HOST:PORT after " + u.Scheme + "://"
		}
	default:
		return wantAddress
	}
	return ""
}

// checkPayload checks what a syslog sink carries and how long its messages
// may be.
func checkPayload(s Sink, bad func(key, format string, args ...any) *Error) *Error {
	if s.MaxMessage != 0 && s.MaxMessage < MinMaxMessage {
		return bad("max_message", "max_message = %d: want at least %d bytes (RFC 5425), or 0 for %d", s.MaxMessage, MinMaxMessage, DefaultMaxMessage)
	}
	switch s.Payload {
	case "", PayloadEvent:
		return nil
	case PayloadTrail:
	default:
		return bad("payload", "payload = %q: want event or trail", s.Payload)
	}
	if u, err := url.Parse(s.Address); err == nil && u.Scheme != "tcp" && u.Scheme != "tls" {
		// only a stream says what the collector received
		return bad("address", "address: payload = \"trail\" needs tcp:// or tls://, whose acknowledgements tell which records the collector has; %s:// loses them silently", u.Scheme)
	}
	if s.MinSeverity != "" && s.MinSeverity != "info" {
		return bad("min_severity", "min_severity = %q: a trail sink carries every record (a chain with gaps proves nothing); leave min_severity out", s.MinSeverity)
	}
	return nil
}

// CheckHost checks a host name as gotrail sends it: the HOSTNAME of its
// syslog messages (RFC 5424: 1 to 255 printable US-ASCII characters), the
// name a collector files the host's messages under and its public key
// file is named by, and part of the name of its trail's signing key (no
// '+'). A name outside that would be changed on the way and never verify.
func CheckHost(name string) error {
	if name == "" || len(name) > 255 {
		return errors.New("want 1 to 255 characters")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 33 || c > 126 || c == '+' || c == '/' {
			return fmt.Errorf("want printable US-ASCII without spaces, '+' or '/' (as syslog carries it): byte %d is %q", i, c)
		}
	}
	if name[0] == '.' {
		return errors.New("want a name that does not start with '.'")
	}
	return nil
}

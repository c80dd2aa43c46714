package sink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/gotrail/gotrail/internal/config"
	"github.com/gotrail/gotrail/internal/event"
)

// Syslog sends RFC 5424 messages to a collector: unix:///dev/log,
// udp://HOST:PORT, tcp://HOST:PORT (octet-counting framing, RFC 6587) or
// tls://HOST:PORT (RFC 5425).
type Syslog struct {
	name    string
	network string // unixgram, udp, tcp, tls
	addr    string
	format  RFC5424
	tls     *tls.Config
	max     int // the longest message the transport takes

	mu   sync.Mutex
	conn net.Conn
	buf  []byte
}

// NewSyslog makes a syslog sink from its configuration.
func NewSyslog(c config.Sink) (*Syslog, error) {
	u, err := url.Parse(c.Address)
	if err != nil {
		return nil, fmt.Errorf("syslog address %q: %w", c.Address, err)
	}
	s := &Syslog{name: "syslog " + c.Address, format: RFC5424{SDID: c.SDID, Facility: FacilityAuthpriv}}
	if c.Facility != "" {
		f, ok := config.Facility(c.Facility)
		if !ok {
			return nil, fmt.Errorf("syslog facility %q: want one of authpriv, local0…local7, user, daemon, security…", c.Facility)
		}
		s.format.Facility = f
	}
	// the SD-ID is written as it is: one that is not valid would make
	// every message unparsable (config.Load checks it too)
	if c.SDID != "" {
		if err := config.CheckSDID(c.SDID); err != nil {
			return nil, fmt.Errorf("syslog sd_id %q: %w", c.SDID, err)
		}
	}
	switch u.Scheme {
	case "unix":
		s.network, s.addr, s.max = "unixgram", u.Path, 8192
	case "udp":
		s.network, s.addr, s.max = "udp", u.Host, 2048 // RFC 5426: at least 2048 must be taken
	case "tcp":
		s.network, s.addr, s.max = "tcp", u.Host, 64<<10
	case "tls":
		s.network, s.addr, s.max = "tls", u.Host, 64<<10
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
		if c.CAFile != "" {
			pem, err := os.ReadFile(c.CAFile)
			if err != nil {
				return nil, fmt.Errorf("syslog ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("syslog ca_file %s: no certificate in it", c.CAFile)
			}
			cfg.RootCAs = pool
		}
		if c.CertFile != "" || c.KeyFile != "" {
			cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("syslog client certificate: %w", err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		s.tls = cfg
	default:
		return nil, fmt.Errorf("syslog address %q: want unix://, udp://, tcp:// or tls://", c.Address)
	}
	if c.MaxMessage > 0 && (s.network == "tcp" || s.network == "tls") {
		s.max = c.MaxMessage // what the collector takes (rsyslog's maxMessageSize)
	}
	return s, nil
}

// Name names the sink in logs and metrics.
func (s *Syslog) Name() string { return s.name }

func (s *Syslog) dial(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	if s.network == "tls" {
		td := tls.Dialer{NetDialer: &d, Config: s.tls}
		return td.DialContext(ctx, "tcp", s.addr)
	}
	return d.DialContext(ctx, s.network, s.addr)
}

// Message renders e as this sink sends it: an RFC 5424 message no longer
// than the transport takes. Only MSG is shortened, never the structured
// data, which is what a collector indexes.
func (s *Syslog) Message(e *event.Event) []byte {
	b := s.format.Append(s.buf[:0], e)
	s.buf = b
	if len(b) <= s.max {
		return b
	}
	msg := msgStart(b)
	if msg < 0 || msg >= s.max {
		return b // the header and structured data alone are over: send them whole
	}
	b = b[:s.max]
	// do not cut a UTF-8 sequence in two
	for i := len(b) - 1; i >= msg && i >= len(b)-3; i-- {
		if c := b[i]; c < 0x80 {
			break
		} else if c >= 0xC0 {
			b = b[:i]
			break
		}
	}
	return b
}

// msgStart finds where MSG begins: after the structured data's last
// element, whose values may hold escaped quotes and brackets.
func msgStart(b []byte) int {
	i := 0
	for n := 0; n < 6 && i < len(b); n++ { // PRI+VERSION TIMESTAMP HOST APP PROCID MSGID
		j := indexByteFrom(b, ' ', i)
		if j < 0 {
			return -1
		}
		i = j + 1
	}
	inQuote := false
	for ; i < len(b); i++ {
		switch c := b[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case c == ']' && !inQuote && (i+1 == len(b) || b[i+1] == ' '):
			if i+1 < len(b) && (i+2 >= len(b) || b[i+2] != '[') {
				return i + 2
			}
		}
	}
	return -1
}

func indexByteFrom(b []byte, c byte, from int) int {
	for i := from; i < len(b); i++ {
		if b[i] == c {
			return i
		}
	}
	return -1
}

// Send writes one message, reconnecting once if the connection broke.
func (s *Syslog) Send(ctx context.Context, e *event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg := s.Message(e)
	var frame []byte
	if s.network == "tcp" || s.network == "tls" {
		frame = append(strconv.AppendInt(nil, int64(len(msg)), 10), ' ')
		frame = append(frame, msg...)
	} else {
		frame = msg
	}
	for attempt := 0; attempt < 2; attempt++ {
		if s.conn == nil {
			c, err := s.dial(ctx)
			if err != nil {
				return fmt.Errorf("%s: connect: %w", s.name, err)
			}
			s.conn = c
		}
		s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, err := s.conn.Write(frame)
		if err == nil {
			return nil
		}
		s.conn.Close()
		s.conn = nil
		if attempt == 1 || errors.Is(err, context.Canceled) {
			return fmt.Errorf("%s: write: %w", s.name, err)
		}
	}
	return nil
}

// Test sends at once.
func (s *Syslog) Test(ctx context.Context, e *event.Event) error { return s.Send(ctx, e) }

// Close closes the connection.
func (s *Syslog) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		err := s.conn.Close()
		s.conn = nil
		return err
	}
	return nil
}

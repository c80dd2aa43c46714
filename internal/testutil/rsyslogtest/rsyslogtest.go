// Package rsyslogtest starts a real rsyslogd (Debian's rsyslog, with
// rsyslog-gnutls for TLS) for a test, with a private configuration that
// listens on loopback ports and writes what it receives, as RFC 5424, to a
// file of the test. It is stopped by its own pid.
package rsyslogtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/testutil/integration"
)

// Rsyslog is a running rsyslogd.
type Rsyslog struct {
	TCP, TLS, UDP string // loopback addresses it listens on
	CAFile        string // the CA of its TLS certificate
	Out           string // the file it writes, one RFC 5424 message a line
	cmd           *exec.Cmd
}

// Required lets the test go on only under GOTRAIL_INTEGRATION=1, where a
// missing rsyslogd or TLS driver fails it (integration.Require).
func Required(t testing.TB) {
	t.Helper()
	_, err := exec.LookPath("rsyslogd")
	if err == nil {
		if _, err = os.Stat("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so"); err != nil {
			matches, _ := filepath.Glob("/usr/lib/*/rsyslog/lmnsd_gtls.so")
			if len(matches) > 0 {
				err = nil
			}
		}
	}
	if err != nil {
		err = fmt.Errorf("rsyslog with TLS is needed (apt-get install rsyslog rsyslog-gnutls): %w", err)
	}
	integration.Require(t, "a real rsyslogd on loopback", err)
}

func freePort(t testing.TB, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writeCerts makes a CA and a server certificate for 127.0.0.1.
func writeCerts(t testing.TB, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gotrail test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(srvKey)
	ca, cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644)
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}), 0o644)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return ca, cert, key
}

// Start starts rsyslogd listening on loopback tcp, tls and udp ports.
func Start(t testing.TB) *Rsyslog {
	t.Helper()
	dir := t.TempDir()
	ca, cert, key := writeCerts(t, dir)
	r := &Rsyslog{CAFile: ca, Out: filepath.Join(dir, "received.log")}
	tcp, tls, udp := freePort(t, "tcp"), freePort(t, "tcp"), freePort(t, "udp")
	r.TCP, r.TLS, r.UDP = fmt.Sprintf("127.0.0.1:%d", tcp), fmt.Sprintf("127.0.0.1:%d", tls), fmt.Sprintf("127.0.0.1:%d", udp)
	conf := fmt.Sprintf(`# private rsyslogd of a gotrail test
global(workDirectory=%[1]q
       DefaultNetstreamDriverCAFile=%[2]q
       DefaultNetstreamDriverCertFile=%[3]q
       DefaultNetstreamDriverKeyFile=%[4]q)
module(load="imtcp" MaxSessions="100")
module(load="imudp")
ruleset(name="in") {
  action(type="omfile" file=%[5]q template="RSYSLOG_SyslogProtocol23Format")
}
input(type="imtcp" address="127.0.0.1" port="%[6]d" ruleset="in")
input(type="imtcp" address="127.0.0.1" port="%[7]d" ruleset="in"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imudp" address="127.0.0.1" port="%[8]d" ruleset="in")
`, dir, ca, cert, key, r.Out, tcp, tls, udp)
	confPath := filepath.Join(dir, "rsyslog.conf")
	os.WriteFile(confPath, []byte(conf), 0o644)
	if out, err := exec.Command("rsyslogd", "-N1", "-f", confPath).CombinedOutput(); err != nil {
		t.Fatalf("rsyslogd -N1 rejects the test configuration: %v\n%s", err, out)
	}
	r.cmd = exec.Command("rsyslogd", "-n", "-f", confPath, "-i", filepath.Join(dir, "rsyslogd.pid"))
	out := Spawn(t, r.cmd)
	deadline := time.Now().Add(10 * time.Second)
	for _, addr := range []string{r.TCP, r.TLS} {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("rsyslogd not listening on %s: %v\n%s", addr, err, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return r
}

// WaitLines waits until the output holds n lines and returns them.
func (r *Rsyslog) WaitLines(t testing.TB, n int, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		data, _ := os.ReadFile(r.Out)
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		if len(data) > 0 && len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("rsyslog wrote %d lines, want %d:\n%s", len(lines), n, data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
